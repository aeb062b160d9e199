r""":class:`Prediction`, the result of :func:`~bigraph_pyg.apps.predict`.

It holds the bodies of one person, in the model frame (OpenCV camera
axes: ``x`` right, ``y`` down, ``z`` forward; metres; no translation):

* the **body** (``vertices_smpl``, the default output): the body model
  posed by :attr:`~Prediction.params`, by default the network's body
  *fitted to the photo* (:func:`~bigraph_pyg.apps.fitting.fit_body`:
  landmarks, person mask, priors, the network's 3D joints); without the
  fit, the SMPL branch itself;
* the **mesh branch** (``vertices_mesh``): the graph network's
  non-parametric vertices (the paper's output), unfitted;
* the **SMPL branch** before the fit: rotations and shape regressed from
  that mesh (Sec. 4.3.4), kept as
  :attr:`~Prediction.params_network`.

The camera is a pinhole of the whole photo (``focal_length``,
``camera_center``); ``transl`` is in metres, so a body stands a few metres
from the camera, as in the photo. :func:`smplx_parameters` writes
rotations and shape in smplx's layout (``global_orient``, ``body_pose``,
``betas``, ``transl``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from bigraph_pyg.apps.fitting import BodyFit
from bigraph_pyg.apps.quality import Quality

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
        vertices_mesh (np.ndarray): :math:`(V, 3)` mesh branch, the
            network's non-parametric mesh (unfitted).
        vertices_smpl (np.ndarray): :math:`(V, 3)` the body, the default
            output: the body model posed by :attr:`params` without
            ``transl`` (fitted to the photo unless ``predict(...,
            fit=False)``, then the SMPL branch).
        faces (np.ndarray): :math:`(F, 3)` int64.
        joints_3d_mesh (np.ndarray): :math:`(12, 3)` from the mesh branch.
        joints_3d_skeleton (np.ndarray or None): :math:`(12, 3)` skeleton
            branch.
        joints_2d_mesh (np.ndarray): :math:`(12, 2)` mesh-branch joints
            through the weak camera (as the model was trained).
        camera_weak (np.ndarray): ``(s, tx, ty)`` of the crop.
        params (dict): smplx layout (see :func:`smplx_parameters`) of the
            body: fitted unless ``fit=False``; ``transl`` in metres, the
            camera frame.
        body_model (str): Name of the body the parameters pose.
        focal_length (float): Pixels, of the full photo (by default its
            diagonal: :func:`~bigraph_pyg.apps.camera.default_focal_length`).
        camera_center (np.ndarray): ``(cx, cy)`` pixels, the principal
            point (the photo's centre).
        reprojection_error (float): Mean distance between the body's
            joints in the photo and the confident keypoints, over the
            body's height in the photo (:attr:`quality`'s: the fitted
            body's, through the pinhole, unless ``fit=False``, then
            ``joints_2d_mesh``'s; the network's is
            ``quality.network_error``).
        branch_distance (float): Mean vertex distance between the two
            branches, metres.
        quality (Quality or None): The verdict (``"full body"``,
            ``"upper body"`` or ``"refused"``) and its numbers
            (:func:`~bigraph_pyg.apps.quality.assess_quality`).
        params_network (dict): The SMPL branch before the fit, smplx
            layout, with the translation at which the network's joints
            project where its weak camera put them
            (:func:`~bigraph_pyg.apps.camera.perspective_translation`);
            also the mesh branch's translation.
        fit (BodyFit or None): The fit's record (landmark error and loss
            before and after, milliseconds); :obj:`None` without the fit.
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
    quality: Quality | None = None
    params_network: dict = field(default_factory=dict)
    fit: BodyFit | None = None

    def _transl(self, branch: str) -> np.ndarray:
        """The translation of a branch: the mesh keeps the network's."""
        if branch not in ("mesh", "smpl"):
            raise ValueError(
                f"Expected branch 'mesh' or 'smpl' (got {branch!r})"
            )
        if branch == "mesh" and self.params_network:
            return np.asarray(self.params_network["transl"], np.float64)
        return np.asarray(self.params["transl"], np.float64)

    @property
    def intrinsics(self) -> np.ndarray:
        """:math:`(3, 3)` pinhole ``K`` of the full photo."""
        cx, cy = self.camera_center
        f = self.focal_length
        return np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])

    def vertices_camera(self, branch: str = "smpl") -> np.ndarray:
        """Vertices placed in the camera frame (``+ transl``), OpenCV axes.

        Args:
            branch (str): ``"smpl"``, the body (fitted by default), with
                ``params["transl"]``; or ``"mesh"``, the network's mesh,
                with the network's own translation
                (``params_network["transl"]``). (default: ``"smpl"``)

        Returns:
            np.ndarray: :math:`(V, 3)`.
        """
        t = self._transl(branch)
        v = self.vertices_mesh if branch == "mesh" else self.vertices_smpl
        return v + t

    def project(self, points: np.ndarray, branch: str = "smpl") -> np.ndarray:
        """Project model-frame points with a translation and ``K``.

        Args:
            points (np.ndarray): :math:`(N, 3)` model frame.
            branch (str): Whose translation: ``"smpl"``
                (``params["transl"]``, the body's) or ``"mesh"`` (the
                network's, for its mesh and joints). (default: ``"smpl"``)

        Returns:
            np.ndarray: :math:`(N, 2)` photo pixels.
        """
        p = np.asarray(points, np.float64) + self._transl(branch)
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
