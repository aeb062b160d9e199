r""":class:`Prediction`, the result of :func:`~bigraph_pyg.apps.predict`.

It holds both bodies the model predicts, in its own frame (OpenCV camera
axes: ``x`` right, ``y`` down, ``z`` forward; metres; no translation):

* the **mesh branch**: the graph network's vertices (the paper's output);
* the **SMPL branch**: rotations and shape regressed from that mesh
  (Sec. 4.3.4), posed by the body model. Both are kept, named, because
  they differ (the regressor is an approximation).

:func:`smplx_parameters` writes the SMPL branch in smplx's layout
(``global_orient``, ``body_pose``, ``betas``, ``transl``), ``transl``
being the full-perspective translation of
:func:`~bigraph_pyg.apps.full_perspective_translation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["Prediction", "smplx_parameters"]


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
