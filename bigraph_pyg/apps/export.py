r"""Writing a :class:`~bigraph_pyg.apps.Prediction` to files.

:func:`save_prediction` writes, for a photo ``<stem>``:

* ``<stem>_smpl.obj``/``.ply`` (the body: the body model fitted to the
  photo, the default output; the SMPL branch with ``fit=False``) and
  ``<stem>_mesh.obj``/``.ply`` (the network's mesh branch), through
  trimesh, in the **y-up** axes of :data:`MESH_AXES` (OpenGL, glTF,
  Blender's importer): ``x`` right, ``y`` up, ``z`` towards the camera;
  metres; the body without its camera translation: :func:`to_y_up` of the
  model frame, a 180-degree turn about ``x`` of its OpenCV axes;
* ``<stem>_params.json`` (and ``.npz`` if asked): smplx layout
  (``global_orient``, ``body_pose``, ``betas``, ``transl``) of the body,
  the body model's name, the camera of the whole photo (a pinhole:
  ``focal_length`` and ``camera_center``, the principal point, in pixels,
  ``intrinsics`` = ``K``; ``transl`` = ``cam_t`` in metres in its OpenCV
  frame; ``mesh_translation_y_up`` = :func:`to_y_up` of ``transl``, where
  the written ``<stem>_smpl`` mesh goes in a y-up camera frame, the camera
  at the origin looking down ``-z``, to sit where the photo shows it), the
  weak camera of the crop, the SMPL branch before the fit
  (``params_network``), the fit's record (``fit``), both branches' 3D
  joints, and ``mesh_transform``, the 4x4 matrix taking the body model's
  output (``body(global_orient, body_pose, betas)``, no ``transl``) to
  ``<stem>_smpl.obj``;
* ``<stem>_keypoints.json``: the 12 input joints with confidences, the
  box, the reprojected mesh joints, and MediaPipe's 33 landmarks if any;
* ``<stem>_overlay.png``: the body rendered over the whole photo
  (pyrender, headless EGL) by the pinhole camera, the keypoints (green)
  and the body's joints (red), and a side view.

None of them replaces a file that exists already unless ``overwrite=True``
(:mod:`~bigraph_pyg.apps.output_files`).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import numpy as np

from bigraph_pyg.apps.output_files import check_new_files, prediction_paths
from bigraph_pyg.topology import BONES, JOINT_NAMES
from bigraph_pyg.utils._checks import check_positive_int

__all__ = ["MESH_AXES", "render_overlay", "save_prediction", "to_y_up"]

#: The axes of the written meshes.
MESH_AXES = (
    "x right, y up, z towards the camera (OpenGL/glTF); metres; "
    "no camera translation"
)
# Model frame (OpenCV: y down, z forward) to the written y-up axes.
_Y_UP = np.diag([1.0, -1.0, -1.0])


def to_y_up(points: np.ndarray) -> np.ndarray:
    """Model-frame points (OpenCV axes) in the y-up axes of the meshes.

    A 180-degree turn about ``x``: ``(x, y, z) -> (x, -y, -z)``.

    Args:
        points (np.ndarray): :math:`(..., 3)`.

    Returns:
        np.ndarray: :math:`(..., 3)` float64.

    Example:
        >>> to_y_up(np.array([[1.0, 2.0, 3.0]])).tolist()
        [[1.0, -2.0, -3.0]]
    """
    return np.asarray(points, np.float64) @ _Y_UP.T


_MESH_COLOR = np.array([0.62, 0.74, 0.92])


def _render(
    verts_cam: np.ndarray,
    faces: np.ndarray,
    K: np.ndarray,
    width: int,
    height: int,
) -> np.ndarray | None:
    """RGBA render of camera-frame vertices, or None without OpenGL."""
    try:
        from bigraph_pyg.data.render import BodyRenderer
        from bigraph_pyg.data.shading import shade_vertices, vertex_normals

        renderer = BodyRenderer(
            faces, np.ones(len(verts_cam), np.int64), width, height
        )
        to_light = np.array([0.0, -0.3, -1.0])  # above the camera
        to_light /= np.linalg.norm(to_light)
        n = vertex_normals(verts_cam, faces)
        col = shade_vertices(
            np.tile(_MESH_COLOR, (len(verts_cam), 1)), n, to_light, 0.35, 0.65
        )
        rgba = renderer.render(verts_cam, K, col).rgba
        renderer.close()
        return rgba
    except (ImportError, RuntimeError, OSError) as err:
        warnings.warn(
            f"The overlay's mesh is drawn as points: rendering failed "
            f"({type(err).__name__}: {err}); pip install "
            "'bigraph_pyg[demo]' and set PYOPENGL_PLATFORM=egl for a "
            "shaded mesh",
            stacklevel=3,
        )
        return None


def _points_fallback(verts_cam, K, width, height) -> np.ndarray:
    """A point-cloud 'render' where OpenGL is unavailable."""
    rgba = np.zeros((height, width, 4), np.uint8)
    p = verts_cam[::2]
    uv = p[:, :2] / p[:, 2:] * K[[0, 1], [0, 1]] + K[:2, 2]
    uv = np.rint(uv).astype(int)
    ok = (
        (uv[:, 0] >= 0)
        & (uv[:, 0] < width)
        & (uv[:, 1] >= 0)
        & (uv[:, 1] < height)
    )
    rgba[uv[ok, 1], uv[ok, 0]] = [158, 189, 235, 255]
    return rgba


def _blend(base: np.ndarray, rgba: np.ndarray, alpha: float = 0.85):
    a = rgba[..., 3:4].astype(np.float64) / 255.0 * alpha
    return (base * (1 - a) + rgba[..., :3] * a).clip(0, 255).astype(np.uint8)


def _draw_joints(draw, pts, color, radius, width, conf=None):
    idx = {n: i for i, n in enumerate(JOINT_NAMES)}
    for a, b in BONES:
        ia = idx[a] if isinstance(a, str) else a
        ib = idx[b] if isinstance(b, str) else b
        if conf is None or (conf[ia] > 0.5 and conf[ib] > 0.5):
            draw.line([tuple(pts[ia]), tuple(pts[ib])], fill=color, width=width)
    for i, (x, y) in enumerate(pts):
        if conf is None or conf[i] > 0.5:
            draw.ellipse(
                [x - radius, y - radius, x + radius, y + radius], fill=color
            )


def render_overlay(
    pred, image: np.ndarray, max_side: int = 1024, branch: str = "smpl"
) -> np.ndarray:
    """The mesh over the whole photo, keypoints, and a side view.

    Args:
        pred (Prediction): From :func:`~bigraph_pyg.apps.predict`.
        image (np.ndarray): The photo :math:`(H, W, 3)` uint8.
        max_side (int): The photo is scaled down so that its longer side
            is at most this. (default: ``1024``)
        branch (str): ``"smpl"``, the body (fitted by default), or
            ``"mesh"``, the network's mesh. (default: ``"smpl"``)

    Returns:
        np.ndarray: :math:`(h, w + h/2, 3)` uint8: the photo with the
        body rendered in place by the full-perspective camera, then the
        body seen from its left (turned 90 degrees about the vertical).

    Raises:
        ValueError: ``max_side`` is not an int >= 1.
    """
    from PIL import Image, ImageDraw

    check_positive_int("max_side", max_side)
    h, w = image.shape[:2]
    r = min(1.0, max_side / max(h, w))
    ow, oh = max(int(round(w * r)), 1), max(int(round(h * r)), 1)
    photo = np.asarray(Image.fromarray(image).resize((ow, oh), Image.BILINEAR))
    K = pred.intrinsics.copy()
    K[:2] *= r
    K[:2, 2] -= 0.5  # continuous pixel coordinates -> integer centres
    v = pred.vertices_camera(branch)
    rgba = _render(v, pred.faces, K, ow, oh)
    if rgba is None:
        rgba = _points_fallback(v, K, ow, oh)
    over = Image.fromarray(_blend(photo, rgba))
    draw = ImageDraw.Draw(over)
    rad = max(2.0, 0.006 * max(ow, oh))
    lw = max(1, int(rad / 2))
    _draw_joints(
        draw,
        pred.keypoints * r,
        (40, 220, 60),
        rad,
        lw,
        pred.keypoint_confidence,
    )
    fit = getattr(pred, "fit", None)
    if branch == "smpl" and fit is not None:
        joints_2d = pred.project(fit.joints)
    else:
        joints_2d = pred.project(pred.joints_3d_mesh, "mesh")
    _draw_joints(draw, joints_2d * r, (230, 40, 40), rad * 0.7, lw)
    # Side view: the body turned about its vertical axis, framed to fit.
    sw = max(oh // 2, 1)
    base = pred.vertices_mesh if branch == "mesh" else pred.vertices_smpl
    c = base.mean(0)
    turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    vs = (base - c) @ turn.T
    ext = np.abs(vs[:, :2]).max(0)
    depth = 20.0
    f = 0.45 * min(sw / max(ext[0], 1e-3), oh / max(ext[1], 1e-3)) * depth
    Ks = np.array(
        [[f, 0.0, sw / 2 - 0.5], [0.0, f, oh / 2 - 0.5], [0.0, 0.0, 1.0]]
    )
    vs = vs + np.array([0.0, 0.0, depth])
    side = _render(vs, pred.faces, Ks, sw, oh)
    if side is None:
        side = _points_fallback(vs, Ks, sw, oh)
    side = _blend(np.full((oh, sw, 3), 255, np.uint8), side, 1.0)
    return np.concatenate([np.asarray(over), side], axis=1)


def _require(module: str):
    """Import an optional dependency of the demo, or name the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"Expected {module.split('.')[0]} for writing the demo's outputs"
            f" (got {type(err).__name__}: {err}); pip install "
            "'bigraph_pyg[demo]'"
        ) from err


def _jsonable(value):
    """Plain JSON: arrays to lists, NaN/inf to null (strict parsers)."""
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_json(path: Path, record: dict) -> None:
    """Write ``record`` as strict JSON (NaN/inf as null), one-space indent."""
    path.write_text(json.dumps(_jsonable(record), indent=1, allow_nan=False))


def _write_meshes(trimesh, pred, paths: dict[str, Path]) -> None:
    """Both branches as y-up meshes, at ``paths['<branch>_<format>']``."""
    for branch, verts in (
        ("mesh", pred.vertices_mesh),
        ("smpl", pred.vertices_smpl),
    ):
        mesh = trimesh.Trimesh(to_y_up(verts), pred.faces, process=False)
        for kind, path in paths.items():
            if kind.startswith(f"{branch}_"):
                mesh.export(path)


def _params_record(pred) -> dict:
    """``<stem>_params``: smplx parameters, camera, 3D joints, mesh axes."""
    transform = np.eye(4)
    transform[:3, :3] = _Y_UP
    fit = getattr(pred, "fit", None)
    params = {
        "body_model": pred.body_model,
        "layout": "smplx: body(global_orient, body_pose, betas, transl); "
        "axis-angle radians; OpenCV camera frame (y down)",
        "fitted": fit is not None,
        **pred.params,
        "cam_t": pred.params["transl"],
        "camera": "pinhole of the whole photo: K = [[f, 0, cx], [0, f, cy],"
        " [0, 0, 1]] in pixels; transl in metres in its OpenCV frame",
        "focal_length": float(pred.focal_length),
        "camera_center": pred.camera_center,
        "intrinsics": pred.intrinsics,
        "mesh_translation_y_up": to_y_up(pred.params["transl"]),
        "image_size_hw": list(pred.image_size),
        "camera_weak_crop": pred.camera_weak,
        "crop_box_xy_side": pred.crop_box,
        "mesh_axes": MESH_AXES,
        "mesh_transform": transform,
        "branch_mean_distance_m": pred.branch_distance,
        "joint_names": list(JOINT_NAMES),
        "joints_3d_mesh": pred.joints_3d_mesh,
    }
    if pred.joints_3d_skeleton is not None:
        params["joints_3d_skeleton"] = pred.joints_3d_skeleton
    if getattr(pred, "params_network", None):
        params["params_network"] = dict(pred.params_network)
    if fit is not None:
        params["joints_3d_fit"] = fit.joints
        params["fit"] = {
            "landmark_error_box_fraction": list(fit.landmark_error),
            "loss": list(fit.loss),
            "terms": fit.terms,
            "steps": fit.steps,
            "milliseconds": fit.milliseconds,
            "unseen_landmarks": list(getattr(fit, "unseen_landmarks", ())),
            "kept_joints": list(getattr(fit, "kept_joints", ())),
        }
    if getattr(pred, "quality", None) is not None:  # the verdict, flags
        params["quality"] = pred.quality.as_dict()
    return params


def _flat_arrays(record: dict, prefix: str = "") -> dict[str, np.ndarray]:
    """Nested dicts as one level of plain arrays (``fit_loss``, ...).

    An ``.npz`` of object arrays could only be read with pickling; the
    nested records (``params_network``, ``fit``) become prefixed keys.
    """
    out = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(_flat_arrays(value, f"{prefix}{key}_"))
        else:
            out[f"{prefix}{key}"] = np.asarray(value)
    return out


def _keypoints_record(pred) -> dict:
    """``<stem>_keypoints``: input joints, box, reprojected mesh joints."""
    record = {
        "joint_names": list(JOINT_NAMES),
        "keypoints": pred.keypoints,
        "confidence": pred.keypoint_confidence,
        "box_xywh": pred.box,
        "reprojected_mesh_joints": pred.joints_2d_mesh,
        "reprojection_error_box_fraction": pred.reprojection_error,
    }
    fit = getattr(pred, "fit", None)
    if fit is not None:
        record["fitted_landmarks_2d"] = fit.landmarks_2d
    return record


def save_prediction(
    pred,
    image: np.ndarray,
    out_dir: str | os.PathLike,
    stem: str,
    mesh_formats=("obj", "ply"),
    npz: bool = True,
    overlay: bool = True,
    max_side: int = 1024,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write meshes, parameters, keypoints and the overlay (see module).

    Args:
        pred (Prediction): From :func:`~bigraph_pyg.apps.predict`.
        image (np.ndarray): The photo :math:`(H, W, 3)` uint8.
        out_dir (str or PathLike): Output folder (created).
        stem (str): File name stem.
        mesh_formats (tuple[str]): Among ``"obj"``, ``"ply"``.
        npz (bool): Also write the parameters as ``.npz``.
        overlay (bool): Write the overlay PNG.
        max_side (int): The overlay's longer photo side, pixels.
        overwrite (bool): Replace files that exist already; otherwise
            they are refused before anything is written. (default:
            :obj:`False`)

    Returns:
        dict[str, Path]: what was written, by kind (``mesh_obj``,
        ``smpl_obj``, ..., ``params``, ``params_npz``, ``keypoints``,
        ``overlay``; :func:`~bigraph_pyg.apps.output_files.prediction_paths`).

    Raises:
        ValueError: an unknown mesh format, a stem with folders in it, or
            a ``max_side`` that is not an int >= 1.
        FileExistsError: without ``overwrite``, one of the files exists.
        NotADirectoryError: ``out_dir`` is, or lies below, a regular file.
    """
    trimesh = _require("trimesh")
    Image = _require("PIL.Image")

    check_positive_int("max_side", max_side)
    paths = prediction_paths(out_dir, stem, mesh_formats, npz, overlay)
    check_new_files(paths.values(), overwrite)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    _write_meshes(trimesh, pred, paths)
    params = _params_record(pred)
    _write_json(paths["params"], params)
    if npz:
        np.savez(paths["params_npz"], **_flat_arrays(params))
    _write_json(paths["keypoints"], _keypoints_record(pred))
    if overlay:
        Image.fromarray(render_overlay(pred, image, max_side)).save(
            paths["overlay"]
        )
    return paths
