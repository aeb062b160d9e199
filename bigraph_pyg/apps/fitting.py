r"""Fitting the body model to one photo's evidence (SMPLify-style).

The network predicts a non-parametric mesh and, from it, body-model
rotations and shape (paper Sec. 4.3.4). Neither is a body a person
recognises on a real photo: the mesh is ragged, the regressed body drifts
from the photo. :func:`fit_body` starts from the network's body and camera
and optimises the body model's pose, shape and translation for a few dozen
Adam steps on the CPU against

* the detector's 2D landmarks: every one of MediaPipe Pose's 33 that the
  body model has a counterpart for (:func:`landmark_regressor`: the 12
  joints through the joint regressor, face, hand and foot points as surface
  vertices), confidence-weighted, under a Geman-McClure robust penalty
  (SMPLify, Bogo et al. 2016);
* the person mask (MediaPipe's segmentation), without a renderer: projected
  vertices should fall inside it (a distance field of the outside, sampled
  bilinearly) and every point of its outline should have a projected
  vertex near it (a one-sided chamfer);
* a pose prior learned from the training poses (:class:`PosePrior`, a
  Gaussian over the 69 body-pose angles of the synthetic generator's
  sampler) and a shape prior (the generator's ``N(0, 1.25^2)`` betas);
* the network's own 3D joints, pelvis-centred, so that the fit keeps the
  depth the network predicted and cannot invent one the photo does not
  show.

The camera is a pinhole of known focal length
(:func:`~bigraph_pyg.apps.camera.default_focal_length`); the translation is
in metres, so the fitted body stands at a distance consistent with its
size. :func:`silhouette_iou` and :func:`mesh_roughness` measure a fit's
outline against the mask and its surface.

:func:`fit_body` minimises

.. math::
    E = \lambda_{2D}\,\frac{\sum_k w_k\,\rho(\lVert \Pi(\mathbf{L}_k
    \mathbf{V}) - \mathbf{u}_k\rVert / h)}{\sum_k w_k}
    + \lambda_{in}\,\overline{\rho(D_{out}(\Pi\mathbf{v}) / h)}
    + \lambda_{cov}\,\overline{\rho(\min_v \lVert \mathbf{q} -
    \Pi\mathbf{v}\rVert / h)}
    + \lambda_{3D}\,\overline{\lVert \bar{\mathbf{J}} -
    \bar{\mathbf{J}}_{net}\rVert^2} / \sigma_{3D}^2
    + \lambda_\theta E_\theta + \lambda_\beta
    \overline{(\beta / 1.25)^2}

over the root rotation (a rotation applied to the start's, in the
camera frame), the 69 body-pose angles, the shape and the translation
``(T_x, T_y, log T_z)``. :math:`\Pi` is the pinhole of ``focal_length``
and ``camera_center``, :math:`\mathbf{L}` the
:func:`landmark_regressor`, :math:`\mathbf{u}_k` the detected points
with weights :math:`w_k` (their confidence above ``threshold`` times
a weight per kind: joints 1, feet 0.7, hands 0.5, face 0.3), :math:`h`
the larger side of their box, :math:`\rho` Geman-McClure with scale
``weights.robust_scale``; :math:`D_{out}` is the distance to the mask
outside it, :math:`\mathbf{q}` points of the mask's outline,
:math:`\bar{\mathbf{J}}` joints minus their mid-hip. Before the first
step the translation is re-solved in closed form against the
landmarks (:func:`~bigraph_pyg.apps.camera.solve_translation`); the
robust scale starts 4 times wider and narrows to its value over the first
half of the steps (graduated non-convexity), so a start far from the
evidence is still pulled in. The steps pose only the vertices the terms
use (:class:`_SkinnedSubset`, the body model's skinning on about 1900 of
its vertices); the result is the whole body posed by the fitted
parameters.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from bigraph_pyg.apps.camera import MIN_DEPTH, solve_translation
from bigraph_pyg.apps.keypoints import MEDIAPIPE_LANDMARK_NAMES
from bigraph_pyg.topology import JOINT_NAMES, SMPL_JOINT_NAMES, SMPL_TO_JOINTS

__all__ = [
    "LEG_JOINTS",
    "LEG_LANDMARKS",
    "MEDIAPIPE_LANDMARK_NAMES",
    "POSE_PRIOR_FILE",
    "BodyFit",
    "FitWeights",
    "PosePrior",
    "build_pose_prior",
    "fit_body",
    "fit_person",
    "landmark_regressor",
    "load_pose_prior",
    "mesh_roughness",
    "silhouette_iou",
]

#: The shipped pose prior (``bigraph_pyg/assets``), made by
#: ``scripts/make_pose_prior.py`` with :func:`build_pose_prior`.
POSE_PRIOR_FILE = "pose_prior.npz"
#: MediaPipe's leg landmarks: left out of an upper body's fit
#: (:func:`fit_person`). The first four are skeleton joints too.
LEG_LANDMARKS: tuple[str, ...] = tuple(
    f"{side}_{part}"
    for part in ("knee", "ankle", "heel", "foot_index")
    for side in ("left", "right")
)
#: The body-model joints whose rotations pose the legs: an upper body's
#: keep the network's (:func:`fit_person`).
LEG_JOINTS: tuple[str, ...] = tuple(
    f"{side}_{part}"
    for part in ("hip", "knee", "ankle", "foot")
    for side in ("left", "right")
)
# Relative weight of each landmark kind in the 2D term: the 11 face points
# together weigh about as much as 3 joints, so they turn the head without
# outvoting the body.
_KIND_WEIGHT = {"face": 0.3, "hand": 0.5, "foot": 0.7, "joint": 1.0}
# The generator's shape distribution (SyntheticConfig.beta_std).
_BETA_STD = 1.25


# --------------------------------------------------------------------------
# Landmark counterparts on the body model
# --------------------------------------------------------------------------


def _kind(name: str) -> str:
    if name in JOINT_NAMES:
        return "joint"
    if any(k in name for k in ("pinky", "index", "thumb")) and "foot" not in (
        name
    ):
        return "hand"
    if "heel" in name or "foot" in name:
        return "foot"
    return "face"


def _front_vertex(v: np.ndarray, ids: np.ndarray, x: float, y: float) -> int:
    """The front-most vertex of ``ids`` within 1.5 cm of ``(x, y)``."""
    d = np.hypot(v[ids, 0] - x, v[ids, 1] - y)
    near = ids[d < 0.015]
    if len(near) == 0:
        return int(ids[np.argmin(d)])
    return int(near[np.argmax(v[near, 2])])


def _side_points(v, lab, joints, side: str) -> dict[str, int]:
    """Hand and foot points of one side on the rest-pose template.

    In the rest pose (``y`` up, facing ``+z``, arms along ``x``, palms
    down) the index knuckle is the front (``+z``) of the hand, the pinky
    its back, the thumb its front-most point; the heel is the back-most of
    the foot's lowest 3 cm, the toe tip its front-most point.
    """
    out = {}
    hand = np.flatnonzero(lab == SMPL_JOINT_NAMES.index(f"{side}_hand"))
    if len(hand):
        hj = joints[SMPL_JOINT_NAMES.index(f"{side}_hand")]
        for name, dz in (("index", 0.035), ("pinky", -0.035)):
            d = np.linalg.norm(v[hand] - (hj + [0.0, 0.0, dz]), axis=1)
            out[f"{side}_{name}"] = int(hand[np.argmin(d)])
        out[f"{side}_thumb"] = int(hand[np.argmax(v[hand, 2])])
    foot = np.flatnonzero(
        (lab == SMPL_JOINT_NAMES.index(f"{side}_foot"))
        | (lab == SMPL_JOINT_NAMES.index(f"{side}_ankle"))
    )
    if len(foot):
        low = foot[v[foot, 1] < v[foot, 1].min() + 0.03]
        out[f"{side}_heel"] = int(low[np.argmin(v[low, 2])])
        out[f"{side}_foot_index"] = int(foot[np.argmax(v[foot, 2])])
    return out


def _face_points(v: np.ndarray, head: np.ndarray) -> dict[str, int]:
    """Face points of the rest-pose template, by the face's proportions.

    The nose tip is the head's front-most vertex; with ``s`` the height
    from it to the top of the head and ``w`` the head's width, the eyes
    sit ``0.25 s`` above it, ``0.2 w`` off the midline (inner and outer
    corners at ``0.09 w`` and ``0.3 w``), the mouth corners ``0.22 s``
    below it and ``0.16 w`` off the midline, all on the front surface; the
    ears are the head's outermost vertices at mid-height between nose and
    eyes.
    """
    nose = int(head[np.argmax(v[head, 2])])
    yn = v[nose, 1]
    s = v[head, 1].max() - yn
    w = np.ptp(v[head, 0])
    ye, ym = yn + 0.25 * s, yn - 0.22 * s
    out = {"nose": nose}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for name, dx, y in (
            ("eye_inner", 0.09, ye),
            ("eye", 0.2, ye),
            ("eye_outer", 0.3, ye),
        ):
            out[f"{side}_{name}"] = _front_vertex(v, head, sign * dx * w, y)
        out[f"mouth_{side}"] = _front_vertex(v, head, sign * 0.16 * w, ym)
        band = head[np.abs(v[head, 1] - (yn + ye) / 2) < 0.015]
        band = band if len(band) else head
        pick = np.argmax(sign * v[band, 0])
        out[f"{side}_ear"] = int(band[pick])
    return out


def landmark_regressor(body, names=MEDIAPIPE_LANDMARK_NAMES) -> Tensor:
    r"""Each landmark as a linear function of the body's vertices.

    The 12 skeleton joints (:data:`~bigraph_pyg.topology.JOINT_NAMES`) are
    rows of the body's joint regressor (as the network's joints are); the
    face, hand and foot points of :data:`MEDIAPIPE_LANDMARK_NAMES` are one
    vertex each, found on the rest-pose template by its geometry
    (:func:`_face_points`, :func:`_side_points`), so the rule holds for
    SMPL and the default body alike. A point the template has no region
    for (no vertex skinned mostly to the head, a hand or a foot) gets a
    zero row and is left out of the fit.

    Args:
        body (BodyModel): The body model.
        names (tuple[str]): Landmark names, among
            :data:`MEDIAPIPE_LANDMARK_NAMES`. (default: all 33)

    Returns:
        Tensor: :math:`(K, V)` on the body's device and dtype; row ``k``
        applied to posed vertices :math:`(V, 3)` gives landmark ``k``.

    Raises:
        ValueError: an unknown landmark name.
    """
    bad = [n for n in names if n not in MEDIAPIPE_LANDMARK_NAMES]
    if bad:
        raise ValueError(
            f"Expected landmark names among MEDIAPIPE_LANDMARK_NAMES (got "
            f"{bad})"
        )
    return _landmark_regressor(body)[
        [MEDIAPIPE_LANDMARK_NAMES.index(n) for n in names]
    ]


def _landmark_regressor(body) -> Tensor:
    """All 33 rows; kept on the body (a small buffer-like attribute)."""
    cached = getattr(body, "_bigraph_landmark_regressor", None)
    ref = body.template_vertices
    if cached is not None and cached.device == ref.device:
        return cached.to(ref.dtype)
    v = ref.detach().cpu().double().numpy()
    jr = body.joint_regressor.detach().cpu().double().numpy()
    lab = body.skinning_weights.detach().cpu().numpy().argmax(1)
    joints = jr @ v
    points = {}
    head = np.flatnonzero(lab == SMPL_JOINT_NAMES.index("head"))
    if len(head):
        points.update(_face_points(v, head))
    for side in ("left", "right"):
        points.update(_side_points(v, lab, joints, side))
    rows = np.zeros((len(MEDIAPIPE_LANDMARK_NAMES), len(v)))
    for k, name in enumerate(MEDIAPIPE_LANDMARK_NAMES):
        if name in JOINT_NAMES:
            rows[k] = jr[SMPL_JOINT_NAMES.index(name)]
        elif name in points:
            rows[k, points[name]] = 1.0
    out = torch.as_tensor(rows, dtype=ref.dtype, device=ref.device)
    try:
        body._bigraph_landmark_regressor = out
    except AttributeError:  # e.g. a frozen wrapper: recompute next time
        pass
    return out


# --------------------------------------------------------------------------
# Priors
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PosePrior:
    r"""A Gaussian over the 69 body-pose angles (axis-angle, radians).

    .. math::
        E_\theta = \tfrac{1}{69}\,\lVert \mathbf{L}^{-1}
        (\theta - \mu) \rVert^2, \qquad \Sigma = \mathbf{L}\mathbf{L}^\top

    about 1 for a pose drawn from the training poses.

    Attributes:
        mean (np.ndarray): :math:`(69,)` mean pose.
        covariance (np.ndarray): :math:`(69, 69)`.
        num_samples (int): Poses it was estimated from.
        info (str): How it was built.
    """

    mean: np.ndarray
    covariance: np.ndarray
    num_samples: int = 0
    info: str = ""

    def whitening(self) -> np.ndarray:
        r""":math:`\mathbf{L}^{-1}` :math:`(69, 69)`: whitens ``θ - μ``."""
        chol = np.linalg.cholesky(self.covariance)
        return np.linalg.inv(chol)


def build_pose_prior(
    num_samples: int = 20000, seed: int = 0, regularize: float = 1e-4
) -> PosePrior:
    """Fit :class:`PosePrior` to poses of the synthetic generator's sampler.

    Draws ``num_samples`` body poses exactly as the training data does
    (:func:`~bigraph_pyg.data.sample_body_pose` with the default
    :class:`~bigraph_pyg.data.SyntheticConfig`'s activity weights and
    recombination, self-intersecting draws rejected by the default body's
    :class:`~bigraph_pyg.data.self_contact.SelfContact`), and takes their
    mean and covariance, plus ``regularize`` on the diagonal.

    Args:
        num_samples (int): Poses drawn. (default: ``20000``)
        seed (int): Seed of ``np.random.default_rng``. (default: ``0``)
        regularize (float): Added to the covariance's diagonal, rad^2.
            (default: ``1e-4``)

    Returns:
        PosePrior: the Gaussian.

    Raises:
        ValueError: ``num_samples < 100``.
    """
    from bigraph_pyg.body import default_body
    from bigraph_pyg.data.poses import sample_body_pose
    from bigraph_pyg.data.self_contact import SelfContact
    from bigraph_pyg.data.synthetic_config import SyntheticConfig

    if int(num_samples) < 100:
        raise ValueError(f"Expected num_samples >= 100 (got {num_samples})")
    cfg = SyntheticConfig()
    body = default_body()
    contact = SelfContact(
        body.template_joints().detach().numpy(), body.parents.numpy()
    )
    rng = np.random.default_rng(int(seed))
    poses = np.stack(
        [
            sample_body_pose(
                rng, cfg.activity_weights, cfg.recombine, False, contact
            ).body_pose
            for _ in range(int(num_samples))
        ]
    ).astype(np.float64)
    cov = np.cov(poses, rowvar=False) + regularize * np.eye(poses.shape[1])
    return PosePrior(
        poses.mean(0),
        cov,
        len(poses),
        f"Gaussian over {len(poses)} training body poses "
        f"(sample_body_pose, SyntheticConfig defaults, self-contact "
        f"rejected, seed {seed}); covariance + {regularize:g} I",
    )


@functools.cache
def _shipped_pose_prior() -> PosePrior:
    ref = resources.files("bigraph_pyg") / "assets" / POSE_PRIOR_FILE
    with resources.as_file(ref) as path:
        return load_pose_prior(path)


def load_pose_prior(path: str | Path | None = None) -> PosePrior:
    """Read a :class:`PosePrior` (``mean``, ``covariance``, ...) from .npz.

    Args:
        path (str or Path, optional): The file. (default: the shipped
            prior, :data:`POSE_PRIOR_FILE`)

    Returns:
        PosePrior: the prior.

    Raises:
        FileNotFoundError: no such file.
        ValueError: arrays of the wrong shapes, or a covariance that is
            not positive definite.
    """
    if path is None:
        return _shipped_pose_prior()
    from bigraph_pyg.utils.io import load_npz

    arrays = load_npz(
        Path(path), "a pose-prior .npz file", required=("mean", "covariance")
    )
    mean = np.asarray(arrays["mean"], np.float64)
    cov = np.asarray(arrays["covariance"], np.float64)
    if mean.shape != (69,) or cov.shape != (69, 69):
        raise ValueError(
            f"Expected mean (69,) and covariance (69, 69) in {path} (got "
            f"{mean.shape} and {cov.shape})"
        )
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError as err:
        raise ValueError(
            f"Expected a positive-definite covariance in {path} (got {err})"
        ) from err
    return PosePrior(
        mean,
        cov,
        int(arrays.get("num_samples", 0)),
        str(arrays.get("info", "")),
    )


# --------------------------------------------------------------------------
# The person mask as differentiable targets
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Silhouette:
    """A mask's outside-distance field on a grid, and its outline points."""

    field: Tensor  # (1, 1, R, R) photo pixels
    origin: Tensor  # (2,) photo pixels of the grid's corner
    side: float  # the grid's side, photo pixels
    outline: Tensor  # (B, 2) photo pixels


def _silhouette(mask, box, dtype, resolution=96, num_outline=300):
    """The mask around ``box`` (x, y, w, h) as fit targets, or None."""
    m = np.asarray(mask, np.float32)
    x, y, w, h = (float(v) for v in box)
    side = 1.6 * max(w, h, 1.0)
    origin = np.array([x + w / 2 - side / 2, y + h / 2 - side / 2])
    step = side / resolution
    centres = origin + (np.arange(resolution) + 0.5)[:, None] * step
    cols = np.clip(centres[:, 0].astype(int), 0, m.shape[1] - 1)
    rows = np.clip(centres[:, 1].astype(int), 0, m.shape[0] - 1)
    inside_x = (centres[:, 0] >= 0) & (centres[:, 0] < m.shape[1])
    inside_y = (centres[:, 1] >= 0) & (centres[:, 1] < m.shape[0])
    photo = inside_y[:, None] & inside_x[None, :]
    grid = (m[rows[:, None], cols[None, :]] >= 0.5) & photo
    if grid.sum() < 4:
        return None
    # Outside the photo the mask says nothing: no distance there, and the
    # frame's edge is no outline.
    out = np.pad(~grid & photo, 1)
    edge = grid & (
        out[:-2, 1:-1] | out[2:, 1:-1] | out[1:-1, :-2] | out[1:-1, 2:]
    )
    if not edge.any():
        return None
    iy, ix = np.nonzero(edge)
    pts = np.stack([centres[ix, 0], centres[iy, 1]], 1)
    gy, gx = np.meshgrid(centres[:, 1], centres[:, 0], indexing="ij")
    cells = torch.as_tensor(np.stack([gx, gy], -1).reshape(-1, 2))
    dist = torch.cdist(cells, torch.as_tensor(pts)).min(1).values
    dist = dist.reshape(resolution, resolution)
    dist[torch.as_tensor(grid | ~photo)] = 0.0
    keep = np.linspace(0, len(pts) - 1, min(num_outline, len(pts)))
    return _Silhouette(
        dist.to(dtype)[None, None],
        torch.as_tensor(origin, dtype=dtype),
        side,
        torch.as_tensor(pts[keep.astype(int)], dtype=dtype),
    )


def _sample_field(sil: _Silhouette, points: Tensor) -> Tensor:
    """Bilinear outside distance at photo pixels ``points`` (N, 2)."""
    g = (points - sil.origin) / sil.side * 2.0 - 1.0
    out = torch.nn.functional.grid_sample(
        sil.field, g[None, None], align_corners=False, padding_mode="border"
    )
    return out[0, 0, 0]


# --------------------------------------------------------------------------
# The fit
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FitWeights:
    """Weights of the fit's terms (all dimensionless, see :func:`fit_body`).

    Attributes:
        landmarks (float): 2D landmarks. (default: ``1.0``)
        silhouette_inside (float): Projected vertices inside the mask.
            (default: ``0.5``)
        silhouette_cover (float): The mask's outline covered by the body.
            (default: ``0.3``)
        joints_3d (float): The network's pelvis-centred 3D joints.
            (default: ``0.1``)
        pose_prior (float): :class:`PosePrior`. (default: ``0.005``)
        shape_prior (float): ``N(0, 1.25^2)`` betas. (default: ``0.01``)
        robust_scale (float): Geman-McClure scale of the 2D terms, in
            person heights. (default: ``0.1``)
        depth_scale (float): Scale of the 3D-joint term, metres.
            (default: ``0.1``)
    """

    landmarks: float = 1.0
    silhouette_inside: float = 0.5
    silhouette_cover: float = 0.3
    joints_3d: float = 0.1
    pose_prior: float = 0.005
    shape_prior: float = 0.01
    robust_scale: float = 0.1
    depth_scale: float = 0.1

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            ok = isinstance(v, int | float) and not isinstance(v, bool)
            if not (ok and math.isfinite(v) and v >= 0):
                raise ValueError(
                    f"Expected FitWeights.{f.name} to be a finite number "
                    f">= 0 (got {v!r})"
                )
        if self.robust_scale <= 0 or self.depth_scale <= 0:
            raise ValueError(
                "Expected FitWeights.robust_scale and depth_scale > 0 (got "
                f"{self.robust_scale} and {self.depth_scale})"
            )


@dataclass
class BodyFit:
    """:func:`fit_body`'s result (numpy; model frame is OpenCV axes).

    Attributes:
        params (dict): smplx layout, float32: ``global_orient (3,)``,
            ``body_pose (69,)``, ``betas (10,)``, ``transl (3,)`` metres
            in the camera frame.
        vertices (np.ndarray): :math:`(V, 3)` the fitted body without
            ``transl``.
        joints (np.ndarray): :math:`(12, 3)` its joints (joint regressor,
            :data:`~bigraph_pyg.topology.JOINT_NAMES`), without ``transl``.
        landmarks_2d (np.ndarray): :math:`(K, 2)` its landmarks projected,
            photo pixels (the targets' layout).
        landmark_error (tuple): Confidence-weighted mean distance between
            projected and detected landmarks over the person's height,
            ``(start, end)``; ``end <= start`` always.
        loss (tuple): The objective, ``(start, end)``.
        terms (dict): Each term's value at the end (unweighted).
        steps (int): Adam steps taken.
        milliseconds (float): Wall time of the fit.
        unseen_landmarks (tuple[str, ...]): The landmarks the 2D term did
            not use (below the confidence threshold, an unseen leg's, or
            without a counterpart on the body).
        kept_joints (tuple[str, ...]): Body-model joints whose rotations
            kept the start's (the network's): an unseen leg's.
    """

    params: dict
    vertices: np.ndarray
    joints: np.ndarray
    landmarks_2d: np.ndarray
    landmark_error: tuple[float, float]
    loss: tuple[float, float]
    terms: dict = field(default_factory=dict)
    steps: int = 0
    milliseconds: float = 0.0
    unseen_landmarks: tuple[str, ...] = ()
    kept_joints: tuple[str, ...] = ()


def _geman_mcclure(sq: Tensor, scale: float) -> Tensor:
    r""":math:`\rho(r) = r^2 / (r^2 + \sigma^2)` of squared residuals."""
    return sq / (sq + scale * scale)


def _layout(points_2d: np.ndarray) -> tuple[str, ...]:
    """Landmark names of a target array: MediaPipe's 33 or the 12 joints."""
    n = len(points_2d)
    if n == len(MEDIAPIPE_LANDMARK_NAMES):
        return MEDIAPIPE_LANDMARK_NAMES
    if n == len(JOINT_NAMES):
        return JOINT_NAMES
    raise ValueError(
        f"Expected points_2d of MediaPipe's 33 landmarks or the 12 joints "
        f"(got {n} points)"
    )


def _check_fit_inputs(init, points, conf, focal_length, center, steps):
    """Shapes and values of :func:`fit_body`'s arguments."""
    need = {"global_orient": 3, "body_pose": 69, "betas": None, "transl": 3}
    for key, size in need.items():
        if key not in init:
            raise ValueError(
                f"Expected init with keys {sorted(need)} (got {sorted(init)})"
            )
        a = np.asarray(init[key], np.float64).reshape(-1)
        if (size is not None and a.shape != (size,)) or not np.isfinite(
            a
        ).all():
            raise ValueError(
                f"Expected init[{key!r}] of {size or 'K'} finite numbers "
                f"(got shape {np.shape(init[key])})"
            )
    if points.ndim != 2 or points.shape[1] != 2 or conf.shape != (len(points),):
        raise ValueError(
            f"Expected points_2d (K, 2) and confidence (K,) (got "
            f"{points.shape} and {conf.shape})"
        )
    if not (np.isfinite(points).all() and np.isfinite(conf).all()):
        raise ValueError("Expected finite points_2d and confidence")
    f = float(focal_length)
    if not (math.isfinite(f) and f > 0):
        raise ValueError(f"Expected focal_length > 0 (got {focal_length})")
    if np.asarray(center, float).shape != (2,):
        raise ValueError(
            f"Expected camera_center (cx, cy) (got {np.shape(center)})"
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"Expected steps to be an int >= 0 (got {steps!r})")


class _SkinnedSubset:
    """The body model's linear blend skinning on some of its vertices.

    The same maths as :func:`smplx.lbs.lbs` (shape blend, pose blend,
    kinematic chain, skinning), with the joints regressed from the whole
    shaped template (a precomputed linear map of the betas) and the
    vertices posed only where the fit looks: its cost per step scales with
    the vertices used, not the body's 6890. Tested against the body model
    itself.

    Args:
        body (BodyModel): The body model.
        index (Tensor): :math:`(n,)` vertex indices to pose.
    """

    def __init__(self, body, index: Tensor):
        smpl = body.smpl
        jr = body.joint_regressor
        k = body.num_betas
        self.index = index
        self.joints_template = jr @ smpl.v_template
        self.joint_dirs = torch.einsum(
            "jv,vck->jck", jr, smpl.shapedirs[..., :k]
        )
        self.template = smpl.v_template[index]
        self.shapedirs = smpl.shapedirs[index, :, :k]
        nj = body.num_joints
        pd = smpl.posedirs.view(9 * (nj - 1), -1, 3)[:, index]
        self.posedirs = (
            pd.reshape(9 * (nj - 1), -1) if pd.abs().max() > 0 else None
        )
        self.weights = smpl.lbs_weights[index]
        self.parents = body.parents

    def __call__(self, betas: Tensor, rots: Tensor) -> Tensor:
        """Posed vertices :math:`(n, 3)`.

        Args:
            betas (Tensor): :math:`(K,)` shape.
            rots (Tensor): :math:`(J, 3, 3)` rotations, root first.

        Returns:
            Tensor: :math:`(n, 3)` the vertices of ``index``, posed.
        """
        from smplx.lbs import batch_rigid_transform

        joints = self.joints_template + self.joint_dirs @ betas
        v = self.template + self.shapedirs @ betas
        if self.posedirs is not None:
            eye = torch.eye(3, dtype=rots.dtype, device=rots.device)
            feat = (rots[1:] - eye).reshape(1, -1)
            v = v + (feat @ self.posedirs).view(-1, 3)
        _, a = batch_rigid_transform(
            rots[None], joints[None], self.parents, dtype=rots.dtype
        )
        t = (self.weights @ a[0].reshape(-1, 16)).view(-1, 4, 4)
        return (t[:, :3, :3] @ v[..., None])[..., 0] + t[:, :3, 3]


@dataclass
class _Targets:
    """What one fit matches, as tensors (see :func:`fit_body`)."""

    regressor: Tensor  # (K, V) landmarks from vertices
    pixels: Tensor  # (K, 2) detected, photo pixels
    weight: Tensor  # (K,) confidence x kind weight; 0: not used
    joint_rows: Tensor  # (12, V) the 12 joints from vertices
    joints_3d: Tensor | None  # (12, 3) the network's, pelvis-centred
    focal: float
    center: Tensor  # (2,)
    height: float  # the person's size, photo pixels
    silhouette: _Silhouette | None
    outline_vertices: Tensor  # vertices projected for the silhouette
    prior_mean: Tensor
    prior_white: Tensor
    skin: _SkinnedSubset  # the vertices the steps pose
    sub: dict  # the regressors and outline vertices within ``skin``


_HIPS = [JOINT_NAMES.index("left_hip"), JOINT_NAMES.index("right_hip")]


def _pelvis_centred(joints: Tensor) -> Tensor:
    return joints - joints[_HIPS].mean(0)


def _targets(
    body, points, conf, camera, mask, joints_3d, threshold, prior
) -> _Targets:
    """Tensors of the evidence, the person's size, the mask's field."""
    from bigraph_pyg.apps.keypoints import keypoint_box

    names = _layout(points)
    focal, center = camera

    dev, dt = body.template_vertices.device, body.template_vertices.dtype
    reg = landmark_regressor(body, names)
    kinds = torch.tensor([_KIND_WEIGHT[_kind(n)] for n in names], dtype=dt)
    used = (conf > threshold) & (reg.abs().sum(1).cpu().numpy() > 0)
    weight = torch.as_tensor(np.where(used, conf, 0.0), dtype=dt) * kinds
    box = keypoint_box(points, conf, threshold)
    height = float(max(box[2], box[3], 1.0))
    sil = None if mask is None else _silhouette(mask, box, dt)
    jr = body.joint_regressor[list(SMPL_TO_JOINTS)]
    j3d = None
    if joints_3d is not None:
        j3d = _pelvis_centred(torch.as_tensor(joints_3d, dtype=dt, device=dev))
    white = prior.whitening()
    outline = torch.arange(0, body.num_vertices, 4, device=dev)
    used_v = (reg.abs().sum(0) > 0) | (jr.abs().sum(0) > 0)
    used_v[outline] = True
    index = torch.nonzero(used_v)[:, 0]
    where = torch.full((body.num_vertices,), -1, dtype=torch.long, device=dev)
    where[index] = torch.arange(len(index), device=dev)
    sub = {
        "regressor": reg[:, index],
        "joint_rows": jr[:, index],
        "outline_vertices": where[outline],
    }
    return _Targets(
        reg,
        torch.as_tensor(points, dtype=dt, device=dev),
        weight.to(dev),
        jr,
        j3d,
        float(focal),
        torch.as_tensor(center, dtype=dt, device=dev),
        height,
        sil,
        outline,
        torch.as_tensor(prior.mean, dtype=dt, device=dev),
        torch.as_tensor(white, dtype=dt, device=dev),
        _SkinnedSubset(body, index),
        sub,
    )


def _posed_vertices(body, p: dict, orient0: Tensor) -> Tensor:
    """The body posed by the fit's parameters, without translation."""
    from bigraph_pyg.geometry import axis_angle_to_matrix

    rot = axis_angle_to_matrix(p["d_orient"]) @ orient0
    out = body(
        betas=p["betas"][None],
        body_pose=p["body_pose"][None],
        global_orient=rot[None],
    )
    return out.vertices[0]


def _project(points: Tensor, transl: Tensor, t: _Targets) -> Tensor:
    x = points + transl
    return x[:, :2] / x[:, 2:].clamp_min(1e-3) * t.focal + t.center


def _landmark_error(proj: Tensor, t: _Targets) -> float:
    """Weighted mean landmark distance over the person's height."""
    w = t.weight
    if float(w.sum()) <= 0:
        return float("nan")
    d = (proj - t.pixels).norm(dim=-1)
    return float((w * d).sum() / w.sum()) / t.height


def _rotations(p: dict, orient0: Tensor) -> Tensor:
    """The 24 rotations :math:`(24, 3, 3)` of the fit's parameters."""
    from bigraph_pyg.geometry import axis_angle_to_matrix

    root = axis_angle_to_matrix(p["d_orient"]) @ orient0
    body = axis_angle_to_matrix(p["body_pose"].view(-1, 3))
    return torch.cat([root[None], body])


def _objective(
    body, p, orient0, t: _Targets, w: FitWeights, full=False, scale=None
):
    """Total loss, each term (unweighted), vertices and 2D landmarks.

    The steps pose only the vertices the terms use (``t.skin``); with
    ``full`` the whole body model is posed (start and result). ``scale``
    replaces ``w.robust_scale`` (the early steps' wider penalty).
    """
    if full:
        v = _posed_vertices(body, p, orient0)
        reg, jr, outline = t.regressor, t.joint_rows, t.outline_vertices
    else:
        v = t.skin(p["betas"], _rotations(p, orient0))
        reg, jr, outline = (
            t.sub[k] for k in ("regressor", "joint_rows", "outline_vertices")
        )
    transl = torch.cat([p["txy"], p["log_z"].exp()])
    lm2d = _project(reg @ v, transl, t)
    s = w.robust_scale if scale is None else scale
    terms = {}
    sq = ((lm2d - t.pixels) ** 2).sum(-1) / t.height**2
    wsum = t.weight.sum().clamp_min(1e-12)
    terms["landmarks"] = (t.weight * _geman_mcclure(sq, s)).sum() / wsum
    if t.silhouette is not None:
        pv = _project(v[outline], transl, t)
        out = _sample_field(t.silhouette, pv) / t.height
        terms["silhouette_inside"] = _geman_mcclure(out**2, s).mean()
        q = t.silhouette.outline
        with torch.no_grad():  # the nearest vertex; its gradient is min's
            d2 = (pv * pv).sum(1) - 2.0 * q @ pv.T
            near = d2.argmin(1)
        gap = (q - pv[near]).norm(dim=1) / t.height
        terms["silhouette_cover"] = _geman_mcclure(gap**2, s).mean()
    if t.joints_3d is not None:
        j = _pelvis_centred(jr @ v)
        d2 = ((j - t.joints_3d) ** 2).sum(-1) / w.depth_scale**2
        terms["joints_3d"] = d2.mean()
    z = t.prior_white @ (p["body_pose"] - t.prior_mean)
    terms["pose_prior"] = (z * z).mean()
    terms["shape_prior"] = ((p["betas"] / _BETA_STD) ** 2).mean()
    total = sum(getattr(w, k) * val for k, val in terms.items())
    return total, terms, v, lm2d


def _start(body, init: Mapping, t: _Targets):
    """The start as leaf tensors, as given and with a better translation.

    Returns ``(given, start, orient0)``: the parameters of ``init``, the
    same with the translation re-solved in closed form
    (:func:`~bigraph_pyg.apps.camera.solve_translation`) against the
    confident landmarks where that projects them closer, and the fixed
    root rotation the fit turns.
    """
    from bigraph_pyg.geometry import axis_angle_to_matrix

    dev, dt = body.template_vertices.device, body.template_vertices.dtype

    def leaf(x):
        return torch.tensor(np.asarray(x, np.float64), dtype=dt, device=dev)

    orient0 = axis_angle_to_matrix(leaf(init["global_orient"]))
    transl = np.asarray(init["transl"], np.float64)
    p = {
        "d_orient": torch.zeros(3, dtype=dt, device=dev),
        "body_pose": leaf(init["body_pose"]),
        "betas": leaf(init["betas"]),
    }
    with torch.no_grad():
        v = _posed_vertices(body, p, orient0)
    lm3d = (t.regressor @ v).cpu().double().numpy()
    depth = v[:, 2].min().item()
    if not transl[2] + depth > MIN_DEPTH:
        raise ValueError(
            f"Expected init['transl'] to put the body in front of the "
            f"camera (got z = {transl[2]:.3g} m for a body reaching "
            f"{depth:.3g} m towards it)"
        )
    best, best_err = transl, math.inf
    w = t.weight.cpu().double().numpy()
    cands = [transl]
    if (w > 0).sum() >= 2:
        px = t.pixels.cpu().double().numpy()
        cands.append(
            solve_translation(lm3d, px, t.focal, t.center.cpu().numpy(), w)
        )
    for c in cands:
        if c[2] + depth <= MIN_DEPTH:  # behind or at the camera
            continue
        proj = _project(torch.as_tensor(lm3d, dtype=dt), leaf(c), t)
        err = _landmark_error(proj, t)
        if err < best_err:
            best, best_err = c, err
    given = dict(p, txy=leaf(transl[:2]), log_z=leaf([math.log(transl[2])]))
    start = {k: v.clone() for k, v in p.items()}
    start.update(txy=leaf(best[:2]), log_z=leaf([math.log(best[2])]))
    return given, start, orient0


# The robust scale starts this many times wider and narrows to
# FitWeights.robust_scale over this share of the steps.
_GNC_START = 4.0
_GNC_SHARE = 0.5
_LEARNING_RATES = {
    "d_orient": 0.03,  # radians
    "body_pose": 0.03,  # radians
    "betas": 0.05,
    "txy": 0.01,  # metres
    "log_z": 0.01,  # relative depth
}


def _robust_scales(final: float, steps: int) -> list[float]:
    """Graduated non-convexity: the robust scale of each step.

    From ``_GNC_START`` times ``final`` down to ``final`` (geometrically)
    over the first ``_GNC_SHARE`` of the steps, then ``final``: a start
    far from the evidence (residuals past the scale, where Geman-McClure
    is flat) is still pulled in, and outliers lose their pull at the end.
    """
    ramp = max(int(round(_GNC_SHARE * steps)), 1)
    return [
        final * _GNC_START ** max(1.0 - i / ramp, 0.0) for i in range(steps + 1)
    ]


def _optimise(body, given, start, orient0, t, w, steps, frozen=None):
    """Adam on every parameter; the best admissible iterate's values.

    ``frozen`` (a boolean :math:`(69,)` tensor) marks body-pose angles
    that keep their start: their gradient is zeroed, so Adam never moves
    them.

    An iterate is admissible if its landmark error is no larger than the
    one of ``given`` (the caller's start); of those, among ``given`` and
    the iterates at the final robust scale (:func:`_robust_scales`), the
    one with the lowest objective is returned (``given`` itself is
    admissible, so the fit never raises the error).
    """
    with torch.no_grad():
        loss0, _, _, lm0 = _objective(body, given, orient0, t, w)
    err0 = _landmark_error(lm0, t)
    best = (float(loss0), given)
    p = start
    for v in p.values():
        v.requires_grad_(True)
    opt = torch.optim.Adam(
        [{"params": [p[k]], "lr": lr} for k, lr in _LEARNING_RATES.items()]
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 1.0 - 0.9 * i / max(steps, 1)
    )
    scales = _robust_scales(w.robust_scale, steps)
    for i in range(steps + 1):
        opt.zero_grad(set_to_none=True)
        loss, _, _, lm2d = _objective(body, p, orient0, t, w, scale=scales[i])
        err = _landmark_error(lm2d.detach(), t)
        ok = not (err > err0 + 1e-9)  # NaN errors (no landmark) pass
        ok = ok and scales[i] == w.robust_scale
        if ok and loss.item() < best[0]:
            best = (loss.item(), {k: v.detach().clone() for k, v in p.items()})
        if i == steps:
            break
        loss.backward()
        if frozen is not None:
            p["body_pose"].grad[frozen] = 0.0
        opt.step()
        sched.step()
    return best[1]


def fit_body(
    body,
    init: Mapping,
    points_2d,
    confidence,
    focal_length: float,
    camera_center,
    mask=None,
    joints_3d=None,
    threshold: float = 0.5,
    steps: int = 40,
    weights: FitWeights | None = None,
    prior: PosePrior | None = None,
    keep_pose=(),
) -> BodyFit:
    r"""Fit the body model to one person's 2D evidence.

    Minimises the module's energy :math:`E` by Adam (``steps`` steps,
    learning rates decaying linearly to a tenth). The returned iterate is
    the one of lowest :math:`E` among those whose landmark error does not
    exceed the start's, so the fit never raises it. The steps run on one
    CPU thread (restored after): their tensors are small (about 1900 posed
    vertices), and on a busy machine more threads made a 0.35 s fit take
    4 s.

    Args:
        body (BodyModel): The body model (differentiable, 24 joints).
        init (Mapping): Start, smplx layout: ``global_orient (3,)``,
            ``body_pose (69,)``, ``betas (K,)``, ``transl (3,)`` metres,
            camera frame (e.g.
            :func:`~bigraph_pyg.apps.smplx_parameters` of the network's
            output).
        points_2d (array-like): :math:`(33, 2)` MediaPipe landmarks or
            :math:`(12, 2)` joints (:data:`~bigraph_pyg.topology.
            JOINT_NAMES`), photo pixels.
        confidence (array-like): :math:`(33,)` or :math:`(12,)`.
        focal_length (float): Pixels.
        camera_center (array-like): ``(cx, cy)`` pixels.
        mask (np.ndarray, optional): :math:`(H, W)` person mask in
            ``[0, 1]`` (MediaPipe's segmentation); inside is ``>= 0.5``.
            (default: no silhouette terms)
        joints_3d (array-like, optional): :math:`(12, 3)` the network's
            joints, model frame, metres. (default: no 3D term)
        threshold (float): Confidence above which a point is used.
            (default: ``0.5``)
        steps (int): Adam steps; ``0`` only re-solves the translation.
            (default: ``40``)
        weights (FitWeights, optional): (default: ``FitWeights()``)
        prior (PosePrior, optional): (default: the shipped prior,
            :func:`load_pose_prior`)
        keep_pose (sequence of str): Body-model joints
            (:data:`~bigraph_pyg.topology.SMPL_JOINT_NAMES`, not the
            pelvis) whose rotations keep ``init``'s (e.g. an unseen leg's:
            :func:`fit_person`). (default: none)

    Returns:
        BodyFit: parameters, body, landmarks and the fit's record.

    Raises:
        ValueError: a bad argument (the message names it, what was
            expected and what came), or an ``init`` whose translation
            puts the body behind the camera.
    """
    t0 = time.perf_counter()
    points = np.asarray(points_2d, np.float64)
    conf = np.asarray(confidence, np.float64).reshape(-1)
    _check_fit_inputs(init, points, conf, focal_length, camera_center, steps)
    if mask is not None and np.ndim(mask) != 2:
        raise ValueError(f"Expected mask (H, W) (got {np.shape(mask)})")
    frozen = _frozen_angles(keep_pose)
    weights = FitWeights() if weights is None else weights
    prior = load_pose_prior() if prior is None else prior
    camera = (focal_length, camera_center)
    t = _targets(body, points, conf, camera, mask, joints_3d, threshold, prior)
    given, best, orient0 = _steps(body, init, t, weights, steps, frozen)
    fit = _result(body, given, best, orient0, t, weights, steps, t0)
    fit.kept_joints = tuple(keep_pose)
    fit.unseen_landmarks = _unused(_layout(points), t)
    return fit


def _unused(names, t) -> tuple[str, ...]:
    """The landmarks of weight 0 in the 2D term."""
    w = t.weight.tolist()
    return tuple(n for n, wk in zip(names, w, strict=True) if wk <= 0)


def _frozen_angles(keep_pose) -> Tensor | None:
    """The body-pose angles of the joints ``keep_pose`` names, or None."""
    if isinstance(keep_pose, str):
        keep_pose = (keep_pose,)
    names = list(keep_pose)
    if not names:
        return None
    body_joints = SMPL_JOINT_NAMES[1:]
    bad = [n for n in names if n not in body_joints]
    if bad:
        raise ValueError(
            f"Expected keep_pose to name body-model joints other than the "
            f"pelvis (SMPL_JOINT_NAMES[1:]) (got {bad})"
        )
    frozen = torch.zeros(3 * len(body_joints), dtype=torch.bool)
    for n in names:
        i = body_joints.index(n)
        frozen[3 * i : 3 * i + 3] = True
    return frozen


def _steps(body, init, t, weights, steps, frozen):
    """The start and the fit on one CPU thread (restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: threads cost more than gain
    try:
        with torch.enable_grad():
            given, start, orient0 = _start(body, init, t)
            best = _optimise(
                body, given, start, orient0, t, weights, steps, frozen
            )
    finally:
        torch.set_num_threads(threads)
    return given, best, orient0


@torch.no_grad()
def _result(body, given, best, orient0, t, weights, steps, t0) -> BodyFit:
    """The whole body posed at the start and at the fit, as a BodyFit."""
    loss0, _, _, lm0 = _objective(body, given, orient0, t, weights, full=True)
    loss, terms, v, lm2d = _objective(
        body, best, orient0, t, weights, full=True
    )
    return BodyFit(
        params=_smplx_params(best, orient0),
        vertices=v.cpu().numpy(),
        joints=(t.joint_rows @ v).cpu().numpy(),
        landmarks_2d=lm2d.cpu().numpy(),
        landmark_error=(_landmark_error(lm0, t), _landmark_error(lm2d, t)),
        loss=(float(loss0), float(loss)),
        terms={k: float(val) for k, val in terms.items()},
        steps=steps,
        milliseconds=(time.perf_counter() - t0) * 1e3,
    )


def fit_person(
    body,
    init: Mapping,
    person,
    focal_length: float,
    camera_center,
    joints_3d=None,
    mask=None,
    threshold: float = 0.5,
    legs_seen: bool | None = None,
    **kwargs,
) -> BodyFit:
    """:func:`fit_body` on one detected person's evidence.

    The person's 33 MediaPipe landmarks when it has them (detected), else
    its 12 joints (a keypoint file); its mask when it carries one
    (``person.mask``) and ``mask`` is not given.

    **An upper body is fitted as an upper body.** When a knee or an ankle
    is not seen (the quality verdict's ``"upper body"``:
    :attr:`~bigraph_pyg.apps.quality.Quality.legs_seen`), the legs'
    landmarks (:data:`LEG_LANDMARKS`: knees, ankles, heels, toes, both
    sides) leave the 2D term and the legs' rotations
    (:data:`LEG_JOINTS`) keep the network's: MediaPipe's leg points are
    then guesses, even the confident ones (opencv-doc's
    ``basketball2.png``: the man cut by the frame at mid-thigh has his
    right knee and ankle at 0.14 and 0.11, and a left knee at hip height
    and a left ankle 95 px up in the photo at 0.88 and 0.75; fitted to
    them, his legs folded up into the frame). The record names them
    (:attr:`BodyFit.unseen_landmarks`, :attr:`BodyFit.kept_joints`).

    Args:
        body (BodyModel): The body model.
        init (Mapping): Start, smplx layout (see :func:`fit_body`).
        person (Person): :class:`~bigraph_pyg.apps.keypoints.Person`.
        focal_length (float): Pixels.
        camera_center (array-like): ``(cx, cy)`` pixels.
        joints_3d (array-like, optional): :math:`(12, 3)` the network's
            joints, model frame.
        mask (np.ndarray, optional): :math:`(H, W)` person mask.
        threshold (float): Confidence above which a point is used.
        legs_seen (bool, optional): Fit the legs to the landmarks.
            (default: whether the person's knees and ankles are all
            above ``threshold``)
        **kwargs: More arguments of :func:`fit_body` (``steps``,
            ``weights``, ``prior``).

    Returns:
        BodyFit: as :func:`fit_body`.

    Raises:
        ValueError: ``legs_seen`` not a bool or None, or a bad argument of
            :func:`fit_body`.
    """
    if mask is None:
        mask = getattr(person, "mask", None)
    points, conf = _evidence(person, threshold, legs_seen, kwargs)
    return fit_body(
        body,
        init,
        points,
        conf,
        focal_length,
        camera_center,
        mask=mask,
        joints_3d=joints_3d,
        threshold=threshold,
        **kwargs,
    )


def _evidence(person, threshold: float, legs_seen, kwargs: dict):
    """A person's points and confidences for the fit.

    An upper body's legs are left out: confidence 0, and ``keep_pose``
    :data:`LEG_JOINTS` set in ``kwargs``.
    """
    if legs_seen is not None and not isinstance(legs_seen, bool | np.bool_):
        raise ValueError(
            f"Expected legs_seen True, False or None (got {legs_seen!r})"
        )
    lm = getattr(person, "landmarks", None)
    if lm is not None:
        lm = np.asarray(lm, np.float64)
        points, conf = lm[:, :2], lm[:, 2].copy()
    else:
        points = np.asarray(person.joints, np.float64)
        conf = np.array(person.confidence, np.float64)
    if legs_seen is None:
        legs = [JOINT_NAMES.index(n) for n in LEG_LANDMARKS[:4]]
        seen = np.asarray(person.confidence)[legs] > threshold
        legs_seen = bool(seen.all())
    if not legs_seen:
        names = _layout(points)
        conf[[i for i, n in enumerate(names) if n in LEG_LANDMARKS]] = 0.0
        kwargs.setdefault("keep_pose", LEG_JOINTS)
    return points, conf


def _smplx_params(p: dict, orient0: Tensor) -> dict[str, np.ndarray]:
    """The fit's parameters in smplx's layout (float32 numpy)."""
    from bigraph_pyg.geometry import axis_angle_to_matrix, matrix_to_axis_angle

    rot = axis_angle_to_matrix(p["d_orient"].double()) @ orient0.double()
    transl = torch.cat([p["txy"], p["log_z"].exp()])
    out = {
        "global_orient": matrix_to_axis_angle(rot),
        "body_pose": p["body_pose"],
        "betas": p["betas"],
        "transl": transl,
    }
    return {
        k: v.detach().cpu().numpy().astype(np.float32).copy()
        for k, v in out.items()
    }


# --------------------------------------------------------------------------
# Measuring a fit
# --------------------------------------------------------------------------


def silhouette_iou(
    points_2d, faces, mask, box=None, resolution: int = 256
) -> float:
    """Intersection over union of a projected mesh and a person mask.

    The mesh's triangles are filled (Pillow) on a grid over ``box``
    enlarged 1.6 times (the whole photo without ``box``) at
    ``resolution`` cells along its longer side, and compared there with
    the mask (inside: ``>= 0.5``), within the photo only (a body cut by
    the frame is compared where the mask can see it).

    Args:
        points_2d (array-like): :math:`(V, 2)` projected vertices, pixels.
        faces (array-like): :math:`(F, 3)` int.
        mask (np.ndarray): :math:`(H, W)` in ``[0, 1]``.
        box (array-like, optional): ``(x, y, w, h)`` the person's box.
        resolution (int): Grid cells along the longer side.
            (default: ``256``)

    Returns:
        float: IoU in ``[0, 1]`` (``0`` when both are empty).

    Raises:
        ValueError: shapes that do not match.
    """
    from PIL import Image, ImageDraw

    pts = np.asarray(points_2d, np.float64)
    fc = np.asarray(faces, np.int64)
    m = np.asarray(mask, np.float32)
    if pts.ndim != 2 or pts.shape[1] != 2 or fc.ndim != 2 or m.ndim != 2:
        raise ValueError(
            f"Expected points_2d (V, 2), faces (F, 3) and mask (H, W) (got "
            f"{pts.shape}, {fc.shape} and {m.shape})"
        )
    if box is None:
        origin, side = np.zeros(2), float(max(m.shape))
    else:
        x, y, w, h = (float(v) for v in box)
        side = 1.6 * max(w, h, 1.0)
        origin = np.array([x + w / 2 - side / 2, y + h / 2 - side / 2])
    r = int(resolution) / side
    n = int(resolution)
    img = Image.new("L", (n, n), 0)
    draw = ImageDraw.Draw(img)
    tri = (pts[fc] - origin) * r
    for t in tri[np.isfinite(tri).all(axis=(1, 2))]:
        draw.polygon([tuple(t[0]), tuple(t[1]), tuple(t[2])], fill=1)
    body = np.asarray(img, bool)
    cx = origin[0] + (np.arange(n) + 0.5) / r
    cy = origin[1] + (np.arange(n) + 0.5) / r
    ok_x = (cx >= 0) & (cx < m.shape[1])
    ok_y = (cy >= 0) & (cy < m.shape[0])
    cols = np.clip(np.floor(cx).astype(int), 0, m.shape[1] - 1)
    rows = np.clip(np.floor(cy).astype(int), 0, m.shape[0] - 1)
    photo = ok_y[:, None] & ok_x[None, :]
    person = (m[rows[:, None], cols[None, :]] >= 0.5) & photo
    body &= photo  # the mask says nothing outside the photo
    union = (body | person).sum()
    return float((body & person).sum() / union) if union else 0.0


def mesh_roughness(vertices, faces, normal: bool = False) -> float:
    r"""Mean length of the uniform Laplacian over the mean edge length.

    .. math::
        \frac{\overline{\lVert \mathbf{v}_i - \frac{1}{|N(i)|}
        \sum_{j \in N(i)} \mathbf{v}_j \rVert}}{\overline{\lVert
        \mathbf{v}_i - \mathbf{v}_j \rVert}_{(i, j) \in E}}

    Scale-free: a smooth, finely tessellated surface scores low; a ragged
    one, whose vertices stand off their neighbours' mean, high. Compare
    meshes of one topology only (the tessellation sets the floor: an
    irregular tessellation has a tangential Laplacian on a smooth
    surface; ``normal=True`` keeps only the Laplacian's component along
    the vertex normal, the part that makes a surface look ragged).

    Args:
        vertices (array-like): :math:`(V, 3)`.
        faces (array-like): :math:`(F, 3)` int.
        normal (bool): Only the Laplacian's component along the
            area-weighted vertex normal. (default: :obj:`False`)

    Returns:
        float: The ratio.

    Raises:
        ValueError: shapes that do not match.
    """
    v = torch.as_tensor(np.asarray(vertices, np.float64))
    f = torch.as_tensor(np.asarray(faces, np.int64))
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(
            f"Expected vertices (V, 3) and faces (F, 3) (got "
            f"{tuple(v.shape)} and {tuple(f.shape)})"
        )
    e = torch.cat([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    e = torch.unique(torch.sort(e, dim=1).values, dim=0)
    src = torch.cat([e[:, 0], e[:, 1]])
    dst = torch.cat([e[:, 1], e[:, 0]])
    n = len(v)
    deg = torch.zeros(n, dtype=v.dtype).index_add_(
        0, src, torch.ones(len(src), dtype=v.dtype)
    )
    mean = torch.zeros_like(v).index_add_(0, src, v[dst])
    used = deg > 0
    lap = v[used] - mean[used] / deg[used, None]
    edge = (v[e[:, 0]] - v[e[:, 1]]).norm(dim=1).mean()
    if not normal:
        return float(lap.norm(dim=1).mean() / edge)
    fn = torch.linalg.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    vn = torch.zeros_like(v)
    for k in range(3):
        vn.index_add_(0, f[:, k], fn)
    vn = vn[used] / vn[used].norm(dim=1, keepdim=True).clamp_min(1e-12)
    return float((lap * vn).sum(1).abs().mean() / edge)
