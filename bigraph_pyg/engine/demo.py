"""Library side of ``examples/demo.py``: one image in, mesh and pictures out.

* :func:`load_image` reads an RGB image (clear error if it is not one);
* :func:`read_keypoints` reads 2D keypoints from COCO JSON (17 keypoints,
  ``[x, y, v] * 17``) or OpenPose JSON (BODY_25 or COCO-18
  ``pose_keypoints_2d``) into the 12 skeleton joints;
* :func:`detect_keypoints` is the optional detector extra: MediaPipe Pose
  (``mediapipe==0.10.21``, ``model_complexity=1``), its landmarks mapped to
  the 12 joints (:data:`MEDIAPIPE_TO_JOINTS`);
* :func:`crop_person` cuts the square person crop (GraphCMR's box: the
  keypoints' box enlarged 1.2x, or a given person box, else the whole
  image) at the model's input size;
* :func:`reconstruct` runs the model and returns a :class:`DemoResult`;
  :func:`save_outputs` writes the mesh (``.obj``/``.ply``, trimesh), the
  SMPL parameters and joints (``.json``/``.npz``) and a PNG of the mesh
  over the crop next to a side view (pyrender, headless; a point overlay
  where OpenGL is unavailable).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bigraph_pyg.topology import JOINT_NAMES

__all__ = [
    "COCO_TO_JOINTS",
    "DemoResult",
    "MEDIAPIPE_TO_JOINTS",
    "OPENPOSE18_TO_JOINTS",
    "OPENPOSE25_TO_JOINTS",
    "crop_person",
    "detect_keypoints",
    "load_image",
    "read_keypoints",
    "reconstruct",
    "save_outputs",
]

_COCO_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear",
               "left_shoulder", "right_shoulder", "left_elbow",
               "right_elbow", "left_wrist", "right_wrist", "left_hip",
               "right_hip", "left_knee", "right_knee", "left_ankle",
               "right_ankle")
#: COCO keypoint index of each of the 12 joints (JOINT_NAMES order).
COCO_TO_JOINTS: tuple[int, ...] = tuple(_COCO_NAMES.index(n)
                                        for n in JOINT_NAMES)
_OP25 = {"right_shoulder": 2, "right_elbow": 3, "right_wrist": 4,
         "left_shoulder": 5, "left_elbow": 6, "left_wrist": 7,
         "right_hip": 9, "right_knee": 10, "right_ankle": 11,
         "left_hip": 12, "left_knee": 13, "left_ankle": 14}
_OP18 = {"right_shoulder": 2, "right_elbow": 3, "right_wrist": 4,
         "left_shoulder": 5, "left_elbow": 6, "left_wrist": 7,
         "right_hip": 8, "right_knee": 9, "right_ankle": 10,
         "left_hip": 11, "left_knee": 12, "left_ankle": 13}
#: OpenPose BODY_25 index of each joint.
OPENPOSE25_TO_JOINTS: tuple[int, ...] = tuple(_OP25[n] for n in JOINT_NAMES)
#: OpenPose COCO-18 index of each joint.
OPENPOSE18_TO_JOINTS: tuple[int, ...] = tuple(_OP18[n] for n in JOINT_NAMES)
_MP = {"left_shoulder": 11, "right_shoulder": 12, "left_elbow": 13,
       "right_elbow": 14, "left_wrist": 15, "right_wrist": 16,
       "left_hip": 23, "right_hip": 24, "left_knee": 25, "right_knee": 26,
       "left_ankle": 27, "right_ankle": 28}
#: MediaPipe Pose landmark index of each joint (the person's left/right).
MEDIAPIPE_TO_JOINTS: tuple[int, ...] = tuple(_MP[n] for n in JOINT_NAMES)


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as RGB.

    Args:
        path (str or PathLike): Any format Pillow reads.

    Returns:
        np.ndarray: :math:`(H, W, 3)` uint8.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an image.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Expected an image file at {path} (got no "
                                "such file)")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"Expected an image file (JPEG, PNG, ...) at {path} "
                         f"(got {type(err).__name__}: {err})") from err


def _from_rows(values, mapping, path, what) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    pts = arr[list(mapping), :2]
    vis = (arr[list(mapping), 2] > 0).astype(np.float32)
    if not np.isfinite(pts).all():
        raise ValueError(f"Expected finite keypoints in {path} (got NaN or "
                         f"inf in {what})")
    return pts.astype(np.float32), vis


def read_keypoints(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """12 joints from a COCO or OpenPose keypoint JSON (first person).

    Accepted layouts: a COCO annotation ``{"keypoints": [x, y, v] * 17}``,
    a list of them, or ``{"annotations": [...]}``; OpenPose
    ``{"people": [{"pose_keypoints_2d": [x, y, c] * 25 (or 18)}]}``.

    Args:
        path (str or PathLike): The JSON file.

    Returns:
        tuple[np.ndarray, np.ndarray]: joints :math:`(12, 2)` image pixels
        and visibility :math:`(12,)` (0 where the file says unlabelled).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not JSON, or none of the layouts above.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Expected a keypoints JSON file at {path} "
                                "(got no such file)")
    try:
        doc = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"Expected a JSON file at {path} (got "
                         f"{type(err).__name__}: {err})") from err
    fmt = ("COCO {'keypoints': [x, y, v] * 17} (or a list of them, or "
           "{'annotations': [...]}) or OpenPose {'people': "
           "[{'pose_keypoints_2d': [x, y, c] * 25 or 18}]}")
    if isinstance(doc, dict) and isinstance(doc.get("people"), list):
        if not doc["people"]:
            raise ValueError(f"Expected at least one person in {path} (got "
                             "an empty 'people' list)")
        kp = doc["people"][0].get("pose_keypoints_2d")
        n = len(kp) if isinstance(kp, list) else 0
        if n == 75:
            return _from_rows(kp, OPENPOSE25_TO_JOINTS, path, "BODY_25")
        if n == 54:
            return _from_rows(kp, OPENPOSE18_TO_JOINTS, path, "COCO-18")
        raise ValueError(f"Expected OpenPose pose_keypoints_2d of 75 or 54 "
                         f"numbers in {path} (got {n})")
    if isinstance(doc, dict) and isinstance(doc.get("annotations"), list):
        doc = doc["annotations"]
    if isinstance(doc, list) and doc:
        doc = doc[0]
    if isinstance(doc, dict) and isinstance(doc.get("keypoints"), list):
        kp = doc["keypoints"]
        if len(kp) != 51:
            raise ValueError(f"Expected 51 COCO keypoint numbers (17 x [x, "
                             f"y, v]) in {path} (got {len(kp)})")
        return _from_rows(kp, COCO_TO_JOINTS, path, "COCO keypoints")
    raise ValueError(f"Expected keypoints as {fmt} in {path} (got "
                     f"{type(doc).__name__} without those keys)")


def detect_keypoints(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """12 joints from MediaPipe Pose (the optional detector extra).

    Args:
        image (np.ndarray): :math:`(H, W, 3)` uint8 RGB.

    Returns:
        tuple[np.ndarray, np.ndarray]: joints :math:`(12, 2)` pixels and
        visibility :math:`(12,)` (MediaPipe's visibility > 0.5).

    Raises:
        ImportError: mediapipe is not installed (the message says how).
        ValueError: no person found.
    """
    try:
        import mediapipe as mp
    except ImportError as err:
        raise ImportError(
            "Expected mediapipe for keypoint detection (got ImportError: "
            f"{err}); pip install mediapipe==0.10.21, or pass --keypoints "
            "(COCO/OpenPose JSON)") from err
    h, w = image.shape[:2]
    with mp.solutions.pose.Pose(static_image_mode=True,
                                model_complexity=1) as pose:
        res = pose.process(np.ascontiguousarray(image))
    if res.pose_landmarks is None:
        raise ValueError("Expected a person in the image (got no MediaPipe "
                         "detection); pass --keypoints or --box")
    lm = res.pose_landmarks.landmark
    pts = np.array([[lm[i].x * w, lm[i].y * h] for i in MEDIAPIPE_TO_JOINTS],
                   dtype=np.float32)
    vis = np.array([lm[i].visibility > 0.5 for i in MEDIAPIPE_TO_JOINTS],
                   dtype=np.float32)
    return pts, vis


def crop_person(image: np.ndarray, size: int = 224,
                keypoints: np.ndarray | None = None,
                visible: np.ndarray | None = None,
                box: tuple[float, float, float, float] | None = None,
                scale: float = 1.2):
    """Square crop around the person, resized to ``size``.

    Args:
        image (np.ndarray): :math:`(H, W, 3)` uint8.
        size (int): Output side. (default: ``224``)
        keypoints (np.ndarray, optional): :math:`(12, 2)` image pixels.
        visible (np.ndarray, optional): :math:`(12,)`.
        box (tuple, optional): ``(x, y, w, h)`` person box, pixels.
        scale (float): Box enlargement. (default: ``1.2``, GraphCMR)

    Returns:
        tuple: ``(crop (size, size, 3) uint8, origin (2,), side)``: image
        pixel ``p`` maps to crop pixel ``(p - origin) * size / side``.
    """
    from PIL import Image

    h, w = image.shape[:2]
    if box is not None:
        x, y, bw, bh = (float(v) for v in box)
        if bw <= 0 or bh <= 0:
            raise ValueError(f"Expected a box (x, y, w, h) with w, h > 0 "
                             f"(got {box})")
        center, side = np.array([x + bw / 2, y + bh / 2]), max(bw, bh)
    elif keypoints is not None:
        pts = keypoints if visible is None or not (visible > 0).any() \
            else keypoints[visible > 0]
        lo, hi = pts.min(0), pts.max(0)
        center, side = (lo + hi) / 2, float(max(hi - lo))
    else:
        center, side = np.array([w / 2, h / 2]), float(max(w, h)) / scale
    side = max(side * scale, 8.0)
    origin = center - side / 2
    crop = Image.fromarray(image).crop(
        (origin[0], origin[1], origin[0] + side, origin[1] + side))
    crop = crop.resize((size, size), Image.BILINEAR)
    return np.asarray(crop), origin.astype(np.float32), float(side)


@dataclass
class DemoResult:
    """Model outputs for one image (numpy, crop frame where 2D).

    Attributes:
        crop (np.ndarray): :math:`(S, S, 3)` uint8 model input crop.
        origin (np.ndarray): Crop origin in image pixels :math:`(2,)`.
        side (float): Crop side in image pixels.
        vertices (np.ndarray): :math:`(6890, 3)` model frame, metres.
        faces (np.ndarray): :math:`(F, 3)`.
        camera (np.ndarray): Weak perspective ``(s, tx, ty)``.
        betas (np.ndarray): :math:`(10,)`.
        rotmat (np.ndarray): :math:`(24, 3, 3)`.
        joints_3d (np.ndarray): :math:`(12, 3)` from the mesh.
        skeleton_joints_3d (np.ndarray or None): :math:`(12, 3)`.
        joints_2d (np.ndarray): :math:`(12, 2)` projected, image pixels.
        input_joints_2d (np.ndarray or None): :math:`(12, 2)` input,
            image pixels.
    """

    crop: np.ndarray
    origin: np.ndarray
    side: float
    vertices: np.ndarray
    faces: np.ndarray
    camera: np.ndarray
    betas: np.ndarray
    rotmat: np.ndarray
    joints_3d: np.ndarray
    skeleton_joints_3d: np.ndarray | None
    joints_2d: np.ndarray
    input_joints_2d: np.ndarray | None


@torch.no_grad()
def reconstruct(model, image: np.ndarray, keypoints: np.ndarray | None = None,
                visible: np.ndarray | None = None, box=None,
                device: str | torch.device = "cpu",
                faces=None) -> DemoResult:
    """Run ``model`` on one image.

    Args:
        model (BiGraphBody): In eval mode.
        image (np.ndarray): :math:`(H, W, 3)` uint8 RGB.
        keypoints (np.ndarray, optional): :math:`(12, 2)` image pixels;
            required by models with a skeleton branch.
        visible (np.ndarray, optional): :math:`(12,)`.
        box (tuple, optional): ``(x, y, w, h)``.
        device (str or torch.device): Where to run.
        faces (array, optional): :math:`(F, 3)` of the body the model
            was trained with. (default: the default body's)

    Returns:
        DemoResult: the reconstruction.

    Raises:
        ValueError: a skeleton model without keypoints.
    """
    from bigraph_pyg.data.keys import normalize_image
    from bigraph_pyg.geometry import weak_perspective_projection

    cfg = model.config
    h, w = cfg.image_size
    if cfg.use_skeleton and keypoints is None:
        raise ValueError("Expected 2D keypoints for this model's skeleton "
                         "branch (got none); pass --keypoints JSON or "
                         "install the detector extra (mediapipe==0.10.21)")
    crop, origin, side = crop_person(image, max(h, w), keypoints, visible,
                                     box)
    img = normalize_image(crop)[None]
    if (h, w) != tuple(img.shape[-2:]):
        img = torch.nn.functional.interpolate(img, size=(h, w),
                                              mode="bilinear",
                                              antialias=True)
    joints = None
    if keypoints is not None:
        kp = np.asarray(keypoints, dtype=np.float32).copy()
        if visible is not None and (visible > 0).any():
            kp[visible <= 0] = kp[visible > 0].mean(0)
        jc = (kp - origin) * (np.array([w, h]) / side)
        jc = np.clip(jc, 0, [w - 1, h - 1])
        joints = torch.as_tensor(jc, dtype=torch.float32)[None].to(device)
    out = model.to(device).eval()(img.to(device), joints)
    j2d = weak_perspective_projection(out.mesh_joints, out.camera)[0]
    j2d = (j2d.cpu().numpy() + 1) / 2 * side + origin
    if faces is None:
        from bigraph_pyg.body import default_body
        faces = default_body().faces
    body_faces = np.asarray(torch.as_tensor(faces).cpu())
    sk = out.skeleton_joints
    return DemoResult(
        crop=crop, origin=origin, side=side,
        vertices=out.vertices[0].cpu().numpy(), faces=np.asarray(body_faces),
        camera=out.camera[0].cpu().numpy(),
        betas=out.betas[0].cpu().numpy(),
        rotmat=out.rotmat[0].cpu().numpy(),
        joints_3d=out.mesh_joints[0].cpu().numpy(),
        skeleton_joints_3d=None if sk is None else sk[0].cpu().numpy(),
        joints_2d=j2d.astype(np.float32),
        input_joints_2d=None if keypoints is None else
        np.asarray(keypoints, np.float32))


def _render_views(res: DemoResult, skinning=None) -> np.ndarray:
    """Mesh over the crop, and a side view; :math:`(S, 2S, 3)` uint8."""
    s = res.crop.shape[0]
    v = res.vertices.astype(np.float64)
    cam = res.camera
    try:
        from bigraph_pyg.data.render import (
            BodyRenderer,
            shade_vertices,
            vertex_normals,
        )

        renderer = BodyRenderer(res.faces, np.ones(len(v), np.int64), s, s)
        d = 50.0
        sc = max(abs(float(cam[0])), 1e-3)
        K = np.array([[sc * s / 2 * d, 0, s / 2], [0, sc * s / 2 * d, s / 2],
                      [0, 0, 1]])

        def draw(verts):
            n = vertex_normals(verts, res.faces)
            col = shade_vertices(np.full((len(verts), 3), [0.65, 0.75, 0.9]),
                                 n, np.array([0.0, -0.3, -1.0]) /
                                 np.linalg.norm([0, -0.3, -1]), 0.35, 0.65)
            return renderer.render(verts, K, col)

        front = draw(v + np.array([cam[1], cam[2], d]))
        alpha = front.rgba[..., 3:4] / 255.0
        over = (res.crop * (1 - alpha) + front.rgba[..., :3] * alpha)
        c = v.mean(0)
        rot = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], float)  # 90 deg y
        side = draw((v - c) @ rot.T + np.array([0, 0, d]))
        a2 = side.rgba[..., 3:4] / 255.0
        side_img = 255 * (1 - a2) + side.rgba[..., :3] * a2
        renderer.close()
    except (ImportError, RuntimeError, OSError):
        from bigraph_pyg.data.keys import normalize_image
        from bigraph_pyg.engine.logger import overlay_images

        pts = torch.as_tensor(cam[0] * (v[:, :2] + cam[1:]))[None]
        over = overlay_images(normalize_image(res.crop)[None], pts,
                              max_images=1, vertex_stride=3)
        over = over.permute(1, 2, 0).numpy()
        c = v.mean(0)
        zy = np.stack([v[:, 2] - c[2], v[:, 1] - c[1]], 1)
        pts = torch.as_tensor(cam[0] * zy)[None]
        blank = torch.zeros(1, 3, s, s)
        side_img = overlay_images(blank, pts, max_images=1,
                                  vertex_stride=3).permute(1, 2, 0).numpy()
    return np.concatenate([over, side_img], 1).clip(0, 255).astype(np.uint8)


def save_outputs(res: DemoResult, out_dir: str | os.PathLike,
                 stem: str = "demo", mesh_format: str = "obj",
                 params_format: str = "json") -> dict[str, Path]:
    """Write the mesh, parameters/joints and the overlay PNG.

    Args:
        res (DemoResult): From :func:`reconstruct`.
        out_dir (str or PathLike): Output folder (created).
        stem (str): File name stem.
        mesh_format (str): ``"obj"`` or ``"ply"``.
        params_format (str): ``"json"`` or ``"npz"``.

    Returns:
        dict[str, Path]: ``mesh``, ``params``, ``image``.
    """
    import trimesh
    from PIL import Image

    from bigraph_pyg.geometry import matrix_to_axis_angle

    if mesh_format not in ("obj", "ply"):
        raise ValueError(f"Expected mesh_format 'obj' or 'ply' (got "
                         f"{mesh_format!r})")
    if params_format not in ("json", "npz"):
        raise ValueError(f"Expected params_format 'json' or 'npz' (got "
                         f"{params_format!r})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"mesh": out / f"{stem}.{mesh_format}",
             "params": out / f"{stem}_smpl.{params_format}",
             "image": out / f"{stem}_overlay.png"}
    trimesh.Trimesh(res.vertices, res.faces, process=False).export(
        paths["mesh"])
    pose = matrix_to_axis_angle(torch.as_tensor(res.rotmat)).reshape(-1)
    params = {
        "joint_names": list(JOINT_NAMES),
        "betas": res.betas, "pose_axis_angle": pose.numpy(),
        "rotmat": res.rotmat, "camera_weak": res.camera,
        "joints_3d_mesh": res.joints_3d,
        "joints_2d_image": res.joints_2d,
        "crop_origin": res.origin, "crop_side": np.float32(res.side),
    }
    if res.skeleton_joints_3d is not None:
        params["joints_3d_skeleton"] = res.skeleton_joints_3d
    if res.input_joints_2d is not None:
        params["input_joints_2d_image"] = res.input_joints_2d
    if params_format == "npz":
        np.savez(paths["params"],
                 **{k: np.asarray(v) for k, v in params.items()})
    else:
        paths["params"].write_text(json.dumps(
            {k: (np.asarray(v).tolist() if not isinstance(v, list) else v)
             for k, v in params.items()}, indent=1))
    Image.fromarray(_render_views(res)).save(paths["image"])
    return paths
