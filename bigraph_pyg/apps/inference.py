r"""One photograph in, a 3D body out: :func:`predict`.

The model sees a square crop around the person
(:func:`~bigraph_pyg.apps.crop_person`) and the 12 joints in crop pixels,
and predicts two bodies in its own frame (OpenCV camera axes: ``x`` right,
``y`` down, ``z`` forward; metres; no translation) and a weak-perspective
camera ``(s, tx, ty)`` of the crop:

* the **mesh branch**: the graph network's vertices (the paper's output);
* the **SMPL branch**: rotations and shape regressed from that mesh
  (Sec. 4.3.4), posed here by the body model. Both are returned, named,
  because they differ (the regressor is an approximation).

:func:`predict` returns both in a :class:`~bigraph_pyg.apps.Prediction`,
the SMPL branch in smplx's layout (:func:`~bigraph_pyg.apps.smplx_parameters`)
with the camera turned into a full-perspective translation of the whole
photo, as SPIN's ``cam_t``
(:func:`~bigraph_pyg.apps.full_perspective_translation`).
"""

from __future__ import annotations

import numpy as np
import torch

from bigraph_pyg.apps._input_checks import (
    check_box,
    check_device,
    check_image,
    check_in_photo,
    check_options,
)
from bigraph_pyg.apps.camera import (
    SPIN_FOCAL_RATIO,
    crop_person,
    full_perspective_translation,
)
from bigraph_pyg.apps.detection import detect_people, select_person
from bigraph_pyg.apps.keypoints import Person, keypoint_box
from bigraph_pyg.apps.prediction import Prediction, smplx_parameters

__all__ = ["default_model_name", "predict"]


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


def default_model_name(detected: bool) -> str:
    """The shipped model for a source of 2D joints.

    ``"synthetic-mediapipe"`` (trained on MediaPipe's own joints on its
    renders, ``--joint-noise detector``) when the joints come from the
    demo's detector; ``"synthetic"`` (trained on the generic
    ``JointNoise()``) for joints the user supplies. On MediaPipe's joints
    the first is the more accurate (docs/pretrained.md: 83.7 / 84.5 mm
    skeleton / mesh PA-MPJPE against 89.5 / 94.6 on 465 synthetic renders);
    on cleaner joints the second (72.6 against 79.5 mm skeleton).

    Args:
        detected (bool): The joints come from MediaPipe (:func:`predict`
            without ``keypoints``).

    Returns:
        str: A name of :data:`bigraph_pyg.hub.PRETRAINED`.
    """
    return "synthetic-mediapipe" if detected else "synthetic"


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
    (:func:`~bigraph_pyg.engine.batch_transforms.fill_missing_joints`; the data
    pipeline's detector noise does the same for missed joints).
    """
    from bigraph_pyg.engine.batch_transforms import fill_missing_joints

    kp = np.asarray(keypoints, np.float64).copy()
    ok = np.asarray(confidence) > threshold
    if ok.any():
        kp[~ok] = np.nan
    h, w = size
    jc = (kp - origin) * (np.array([w, h]) / side)
    joints, _ = fill_missing_joints(torch.as_tensor(jc)[None], (h, w))
    return joints[0].numpy().astype(np.float32)


def _model_image(crop: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """The crop as the model's input ``(1, 3, H, W)``: normalised, resized."""
    from bigraph_pyg.data.keys import normalize_image

    x = normalize_image(crop)[None]
    if size != tuple(x.shape[-2:]):
        x = torch.nn.functional.interpolate(
            x, size=size, mode="bilinear", antialias=True
        )
    return x


def _reprojection_error(
    joints_2d: np.ndarray, keypoints: Person, threshold: float
) -> float:
    """Mean distance to the confident keypoints over their box height.

    NaN when no keypoint is confident (``confidence > threshold``).
    """
    ok = keypoints.confidence > threshold
    err = np.linalg.norm(joints_2d - keypoints.joints, axis=-1)
    bh = float(
        keypoint_box(keypoints.joints, keypoints.confidence, threshold)[3]
    )
    return float(err[ok].mean()) / max(bh, 1e-6) if ok.any() else float("nan")


def _model_and_body(model, body, detected: bool):
    """``model`` and ``body``, the defaults where :obj:`None`."""
    if body is None:
        from bigraph_pyg.body import default_body

        body = default_body()
    if model is None:
        from bigraph_pyg.hub import pretrained

        model = pretrained(default_model_name(detected), body)
    return model, body


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
    source: str = "the image",
) -> Prediction:
    """Recover the 3D body of one person in a photograph.

    Args:
        image (np.ndarray): :math:`(H, W, 3)` uint8 RGB (e.g. from
            :func:`bigraph_pyg.utils.images.load_image`).
        model (BiGraphBody, optional): (default: the shipped model for
            the input: :func:`default_model_name`)
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
        source (str): What the photo is (e.g. its path), named in the
            errors. (default: ``"the image"``)

    Returns:
        Prediction: crop, keypoints, both meshes, smplx-layout parameters
        and the full-perspective camera.

    Raises:
        NoPersonError: no person detected (the message names ``source``).
        ImportError: detection needed but the ``detect`` extra missing.
        ValueError: a bad argument (e.g. a focal length of -500, a NaN
            threshold, keypoints off the photo, a box too large to crop):
            the message names it, what was expected and what came.
    """
    img = check_image(image, source)
    check_options(
        person, focal_length, crop_scale, threshold, keypoints is not None
    )
    box = None if box is None else check_box(box)
    device = None if device is None else check_device(device)
    model, body = _model_and_body(model, body, keypoints is None)
    home = next(model.parameters()).device
    device = home if device is None else device
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
            source,
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
    source,
) -> Prediction:
    """Run :func:`predict` once the image is checked and the model ready."""
    cfg = model.config
    detected = keypoints is None
    if detected:
        keypoints = select_person(detect_people(img), person, source)
    if crop_scale is None:
        crop_scale = 1.3 if keypoints.landmarks is not None else 1.5
    person_box = np.asarray(keypoints.box if box is None else box, np.float32)
    check_in_photo(
        person_box,
        keypoints.joints,
        np.asarray(keypoints.confidence) > threshold,
        img.shape[:2],
        source,
    )
    h, w = cfg.image_size
    crop, origin, side = crop_person(img, person_box, max(h, w), crop_scale)
    x = _model_image(crop, (h, w))
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
    reproj = _reprojection_error(j2d, keypoints, threshold)
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
