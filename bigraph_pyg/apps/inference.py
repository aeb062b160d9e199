r"""One photograph in, a 3D body out: :func:`predict`.

The model sees a square crop around the person (:func:`crop_person`) and
the 12 joints in crop pixels, and predicts two bodies in its own frame
(OpenCV camera axes: ``x`` right, ``y`` down, ``z`` forward; metres; no
translation) and a weak-perspective camera ``(s, tx, ty)`` of the crop:

* the **mesh branch**: the graph network's vertices (the paper's output);
* the **SMPL branch**: rotations and shape regressed from that mesh
  (Sec. 4.3.4), posed here by the body model. Both are returned, named,
  because they differ (the regressor is an approximation).

:func:`smplx_parameters` writes the SMPL branch in smplx's layout
(``global_orient``, ``body_pose``, ``betas``, ``transl``) with the camera
turned into a full-perspective translation of the whole photo, as SPIN's
``cam_t``: with ``K = [[f, 0, W/2], [0, f, H/2], [0, 0, 1]]`` the points
``X + transl`` project where the weak camera put them (exactly at the
body's depth; elsewhere off by the body's depth range over ``transl_z``,
about 1 m / 50 m with the default focal length).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from bigraph_pyg.apps.keypoints import Person, keypoint_box

__all__ = [
    "SPIN_FOCAL_RATIO",
    "Prediction",
    "crop_person",
    "full_perspective_translation",
    "predict",
    "smplx_parameters",
]

#: SPIN's focal length over crop size (5000 px for a 224 px crop): the
#: default focal length is this times the crop side in photo pixels.
SPIN_FOCAL_RATIO: float = 5000.0 / 224.0


def crop_person(
    image: np.ndarray, box, size: int, scale: float = 1.3
) -> tuple[np.ndarray, np.ndarray, float]:
    """Square crop around a person box, resized to ``size``.

    Args:
        image (np.ndarray): :math:`(H, W, 3)` uint8.
        box (array-like): ``(x, y, w, h)`` person box, pixels.
        size (int): Output side in pixels.
        scale (float): Crop side over the box's longer side. The model
            was trained with the body's box filling 0.7-0.9 of the crop;
            a landmark box is a little smaller than the silhouette.
            (default: ``1.3``)

    Returns:
        tuple: ``(crop (size, size, 3) uint8, origin (2,), side)``: photo
        pixel ``p`` is crop pixel ``(p - origin) * size / side``; outside
        the photo the crop is black.

    Raises:
        ValueError: a box with no area.
    """
    from PIL import Image

    x, y, bw, bh = (float(v) for v in box)
    if not (bw > 0 or bh > 0):
        raise ValueError(
            f"Expected a box (x, y, w, h) with w or h > 0 (got {tuple(box)})"
        )
    center = np.array([x + bw / 2, y + bh / 2])
    side = max(max(bw, bh) * scale, 8.0)
    origin = center - side / 2
    crop = Image.fromarray(image).crop(
        (origin[0], origin[1], origin[0] + side, origin[1] + side)
    )
    crop = crop.resize((size, size), Image.BILINEAR)
    return np.asarray(crop), origin.astype(np.float32), float(side)


def full_perspective_translation(
    camera, origin, side: float, image_size, focal_length: float
) -> np.ndarray:
    r"""A weak-perspective crop camera as a full-photo translation (SPIN).

    The weak camera maps ``X`` to crop units ``s (X_xy + t)`` in
    ``[-1, 1]``, i.e. photo pixels ``o + b/2 + (b s / 2)(X_xy + t)`` for a
    crop of side ``b`` at ``o``. A pinhole camera with focal ``f`` and
    centre ``c = (W/2, H/2)`` maps ``X + T`` to ``f (X + T)_xy / T_z + c``
    at depth ``T_z``; equal for every ``X`` at that depth iff

    .. math::
        T_z = \frac{2 f}{b s}, \qquad
        T_{xy} = t + \frac{2}{b s}\Bigl(o + \frac{b}{2} - c\Bigr)

    Args:
        camera (array-like): ``(s, tx, ty)``.
        origin (array-like): Crop origin ``(2,)``, photo pixels.
        side (float): Crop side ``b``, photo pixels.
        image_size (tuple): ``(H, W)`` of the photo.
        focal_length (float): ``f``, photo pixels.

    Returns:
        np.ndarray: ``(3,)`` float64 translation, metres.

    Example:
        >>> full_perspective_translation([0.8, 0.1, -0.2], [40., 0.], 100.,
        ...                              (100, 180), 1000.).round(4).tolist()
        [0.1, -0.2, 25.0]
    """
    s, tx, ty = (float(v) for v in camera)
    s = s if abs(s) > 1e-6 else 1e-6
    h, w = image_size
    centre = np.asarray(origin, np.float64) + side / 2.0
    shift = 2.0 * (centre - np.array([w / 2.0, h / 2.0])) / (side * s)
    return np.array(
        [tx + shift[0], ty + shift[1], 2.0 * focal_length / (side * s)]
    )


@dataclass
class Prediction:
    """:func:`predict`'s result for one person (numpy arrays).

    3D arrays are in metres in the model frame (OpenCV axes, no
    translation) unless the name says ``camera``; 2D arrays are photo
    pixels ``(x, y)``.

    Attributes:
        image_size (tuple): ``(H, W)`` of the photo.
        box (np.ndarray): ``(x, y, w, h)`` person box (from keypoints).
        crop_box (np.ndarray): ``(x, y, side)`` of the square model crop.
        crop (np.ndarray): :math:`(S, S, 3)` uint8, the model's input.
        keypoints (np.ndarray): :math:`(12, 2)` input joints.
        keypoint_confidence (np.ndarray): :math:`(12,)`.
        vertices_mesh (np.ndarray): :math:`(V, 3)` mesh branch.
        vertices_smpl (np.ndarray): :math:`(V, 3)` SMPL branch, the body
            model posed by :attr:`params` without ``transl``.
        faces (np.ndarray): :math:`(F, 3)` int64.
        joints_3d_mesh (np.ndarray): :math:`(12, 3)` from the mesh branch.
        joints_3d_skeleton (np.ndarray or None): :math:`(12, 3)` skeleton
            branch.
        joints_2d_mesh (np.ndarray): :math:`(12, 2)` mesh-branch joints
            through the weak camera (as the model was trained).
        camera_weak (np.ndarray): ``(s, tx, ty)`` of the crop.
        params (dict): smplx layout (see :func:`smplx_parameters`).
        body_model (str): Name of the body the parameters pose.
        focal_length (float): Pixels, of the full photo.
        camera_center (np.ndarray): ``(cx, cy)`` pixels.
        reprojection_error (float): Mean distance between
            ``joints_2d_mesh`` and the confident keypoints, over the box
            height.
        branch_distance (float): Mean vertex distance between the two
            branches, metres.
    """

    image_size: tuple[int, int]
    box: np.ndarray
    crop_box: np.ndarray
    crop: np.ndarray
    keypoints: np.ndarray
    keypoint_confidence: np.ndarray
    vertices_mesh: np.ndarray
    vertices_smpl: np.ndarray
    faces: np.ndarray
    joints_3d_mesh: np.ndarray
    joints_3d_skeleton: np.ndarray | None
    joints_2d_mesh: np.ndarray
    camera_weak: np.ndarray
    params: dict = field(default_factory=dict)
    body_model: str = ""
    focal_length: float = 0.0
    camera_center: np.ndarray | None = None
    reprojection_error: float = float("nan")
    branch_distance: float = float("nan")

    @property
    def intrinsics(self) -> np.ndarray:
        """:math:`(3, 3)` pinhole ``K`` of the full photo."""
        cx, cy = self.camera_center
        f = self.focal_length
        return np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])

    def vertices_camera(self, branch: str = "mesh") -> np.ndarray:
        """Vertices placed in the camera frame (``+ transl``), OpenCV axes.

        Args:
            branch (str): ``"mesh"`` or ``"smpl"``.

        Returns:
            np.ndarray: :math:`(V, 3)`.
        """
        if branch not in ("mesh", "smpl"):
            raise ValueError(
                f"Expected branch 'mesh' or 'smpl' (got {branch!r})"
            )
        v = self.vertices_mesh if branch == "mesh" else self.vertices_smpl
        return v + self.params["transl"]

    def project(self, points: np.ndarray) -> np.ndarray:
        """Project model-frame points with ``transl`` and :attr:`intrinsics`.

        Args:
            points (np.ndarray): :math:`(N, 3)` model frame.

        Returns:
            np.ndarray: :math:`(N, 2)` photo pixels.
        """
        p = np.asarray(points, np.float64) + self.params["transl"]
        return p[:, :2] / p[:, 2:] * self.focal_length + self.camera_center


def smplx_parameters(rotmat, betas, transl) -> dict[str, np.ndarray]:
    """SMPL rotations and shape in smplx's layout (axis-angle, radians).

    Args:
        rotmat (array-like): :math:`(24, 3, 3)`, root first.
        betas (array-like): :math:`(10,)`.
        transl (array-like): :math:`(3,)`.

    Returns:
        dict: ``global_orient (3,)``, ``body_pose (69,)``, ``betas (10,)``,
        ``transl (3,)``, float32, as ``smplx.SMPL(...)(**{k: v[None]})``
        takes them.
    """
    from bigraph_pyg.geometry import matrix_to_axis_angle

    aa = matrix_to_axis_angle(
        torch.as_tensor(np.asarray(rotmat), dtype=torch.float64)
    )
    aa = aa.numpy().astype(np.float32)
    return {
        "global_orient": aa[0].copy(),
        "body_pose": aa[1:].reshape(-1).copy(),
        "betas": np.asarray(betas, np.float32).copy(),
        "transl": np.asarray(transl, np.float32).copy(),
    }


def _body_vertices(body, params: dict) -> np.ndarray:
    """The body posed by smplx-layout parameters, without ``transl``."""
    dev = body.template_vertices.device
    dt = body.template_vertices.dtype
    with torch.no_grad():
        out = body(
            **{
                k: torch.as_tensor(params[k], device=dev, dtype=dt)[None]
                for k in ("global_orient", "body_pose", "betas")
            }
        )
    return out.vertices[0].cpu().numpy()


def _model_joints(
    keypoints: np.ndarray,
    confidence: np.ndarray,
    origin: np.ndarray,
    side: float,
    size: tuple[int, int],
    threshold: float,
) -> np.ndarray:
    """Joints in crop pixels; unconfident ones at the confident ones' mean.

    The rule of training batches
    (:func:`~bigraph_pyg.engine.batching.fill_missing_joints`; the data
    pipeline's detector noise does the same for missed joints).
    """
    from bigraph_pyg.engine.batching import fill_missing_joints

    kp = np.asarray(keypoints, np.float64).copy()
    ok = np.asarray(confidence) > threshold
    if ok.any():
        kp[~ok] = np.nan
    h, w = size
    jc = (kp - origin) * (np.array([w, h]) / side)
    joints, _ = fill_missing_joints(torch.as_tensor(jc)[None], (h, w))
    return joints[0].numpy().astype(np.float32)


@torch.no_grad()
def predict(
    image: np.ndarray,
    model=None,
    body=None,
    keypoints: Person | None = None,
    person: int = 0,
    box=None,
    focal_length: float | None = None,
    crop_scale: float | None = None,
    threshold: float = 0.5,
    device: str | torch.device | None = None,
) -> Prediction:
    """Recover the 3D body of one person in a photograph.

    Args:
        image (np.ndarray): :math:`(H, W, 3)` uint8 RGB (e.g. from
            :func:`bigraph_pyg.utils.images.load_image`).
        model (BiGraphBody, optional): (default: the shipped model,
            ``bigraph_pyg.pretrained("synthetic")``)
        body (BodyModel, optional): The body the model was trained with;
            it poses the SMPL branch. (default: the default body)
        keypoints (Person, optional): 2D joints (e.g. from
            :func:`~bigraph_pyg.apps.keypoints.read_keypoints`). (default:
            detected with MediaPipe, the ``detect`` extra)
        person (int): Which detected person, largest first. (default: ``0``)
        box (array-like, optional): ``(x, y, w, h)`` person box, pixels.
            (default: the keypoints' box)
        focal_length (float, optional): Photo pixels. (default:
            :data:`SPIN_FOCAL_RATIO` times the crop side)
        crop_scale (float, optional): Crop side over the box's longer
            side. (default: ``1.3`` for a detector box, which includes the
            face and feet; ``1.5`` for a box of the 12 joints alone)
        threshold (float): Keypoint confidence below which a joint counts
            as missing. (default: ``0.5``)
        device (str or torch.device, optional): Where the model runs.
            (default: where ``model``'s weights are; the shipped model:
            the CPU) The model is left where it was and in the mode it
            was in.

    Returns:
        Prediction: crop, keypoints, both meshes, smplx-layout parameters
        and the full-perspective camera.

    Raises:
        NoPersonError: no person detected.
        ImportError: detection needed but the ``detect`` extra missing.
        ValueError: a bad image or box.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(
            f"Expected an (H, W, 3) uint8 RGB image (got "
            f"{img.shape} {img.dtype})"
        )
    if body is None:
        from bigraph_pyg.body import default_body

        body = default_body()
    if model is None:
        from bigraph_pyg.hub import pretrained

        model = pretrained("synthetic", body)
    home = next(model.parameters()).device
    device = home if device is None else torch.device(device)
    was_training = model.training
    model = model.to(device).eval()
    try:
        return _predict(
            model,
            img,
            body,
            keypoints,
            person,
            box,
            focal_length,
            crop_scale,
            threshold,
            device,
        )
    finally:
        model.to(home).train(was_training)


def _predict(
    model,
    img,
    body,
    keypoints,
    person,
    box,
    focal_length,
    crop_scale,
    threshold,
    device,
) -> Prediction:
    from bigraph_pyg.apps.keypoints import detect_people, select_person
    from bigraph_pyg.data.keys import normalize_image

    cfg = model.config
    detected = keypoints is None
    if detected:
        keypoints = select_person(detect_people(img), person)
    if crop_scale is None:
        crop_scale = 1.3 if keypoints.landmarks is not None else 1.5
    person_box = np.asarray(keypoints.box if box is None else box, np.float32)
    h, w = cfg.image_size
    crop, origin, side = crop_person(img, person_box, max(h, w), crop_scale)
    x = normalize_image(crop)[None]
    if (h, w) != tuple(x.shape[-2:]):
        x = torch.nn.functional.interpolate(
            x, size=(h, w), mode="bilinear", antialias=True
        )
    joints = None
    if cfg.use_skeleton:
        joints = torch.as_tensor(
            _model_joints(
                keypoints.joints,
                keypoints.confidence,
                origin,
                side,
                (h, w),
                threshold,
            )
        )[None].to(device)
    out = model(x.to(device), joints)
    cam = out.camera[0].double().cpu().numpy()
    j2d = out.mesh_joints_2d[0].double().cpu().numpy()
    j2d = (j2d + 1.0) / 2.0 * side + origin
    img_hw = img.shape[:2]
    f = SPIN_FOCAL_RATIO * side if focal_length is None else float(focal_length)
    transl = full_perspective_translation(cam, origin, side, img_hw, f)
    params = smplx_parameters(
        out.rotmat[0].cpu().numpy(), out.betas[0].cpu().numpy(), transl
    )
    v_mesh = out.vertices[0].cpu().numpy()
    v_smpl = _body_vertices(body, params)
    ok = keypoints.confidence > threshold
    err = np.linalg.norm(j2d - keypoints.joints, axis=-1)
    bh = float(
        keypoint_box(keypoints.joints, keypoints.confidence, threshold)[3]
    )
    reproj = float(err[ok].mean()) / max(bh, 1e-6) if ok.any() else float("nan")
    sk = out.skeleton_joints
    return Prediction(
        image_size=(int(img_hw[0]), int(img_hw[1])),
        box=person_box,
        crop_box=np.array([origin[0], origin[1], side], np.float32),
        crop=crop,
        keypoints=np.asarray(keypoints.joints, np.float32),
        keypoint_confidence=np.asarray(keypoints.confidence, np.float32),
        vertices_mesh=v_mesh,
        vertices_smpl=v_smpl,
        faces=np.asarray(body.faces.cpu(), np.int64),
        joints_3d_mesh=out.mesh_joints[0].cpu().numpy(),
        joints_3d_skeleton=None if sk is None else sk[0].cpu().numpy(),
        joints_2d_mesh=j2d.astype(np.float32),
        camera_weak=cam.astype(np.float32),
        params=params,
        body_model=str(getattr(body, "name", "body")),
        focal_length=f,
        camera_center=np.array([img_hw[1] / 2.0, img_hw[0] / 2.0]),
        reprojection_error=reproj,
        branch_distance=float(np.linalg.norm(v_mesh - v_smpl, axis=-1).mean()),
    )
