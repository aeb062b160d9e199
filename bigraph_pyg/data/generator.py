r"""Synthetic samples: the default body, posed, dressed and rendered.

Each sample is a 224² crop of the licence-free default body with random
shape (:math:`\beta \sim \mathcal{N}(0, 1)`, clipped), a pose from
:mod:`bigraph_pyg.data.poses` (standing, walking, sitting, arms raised,
bending; within per-joint anatomical limits), a random global rotation,
random clothing colours, light, camera distance and focal length, and a
random background (:mod:`bigraph_pyg.data.scene`), rendered headless by
pyrender (:mod:`bigraph_pyg.data.render`). The person is centred with a
jittered box, as real crops are.

Camera model: the pelvis is put at a depth :math:`Z \sim` log-uniform over
``depth_range`` (with a small off-axis shift); the focal length is then the
one that makes the person's projected box fill a random fraction
``fill_range`` of the crop, so near cameras get wide fields of view and far
ones narrow (:math:`f \approx 260` px at 2.5 m, :math:`\approx 850` px at
8 m for a 224² crop); the principal point centres the box, plus jitter.

Each sample's geometry (shape, pose, orientation, camera, 2D-joint noise)
comes from ``numpy.random.SeedSequence([seed, split, index])`` and its
appearance from a child stream of it, so :meth:`SampleGenerator.geometry`
draws the rendered samples' geometry without rendering. The 12 ground-truth
joints are the body's joint regressor on the posed mesh (the joints the
model's mesh branch is scored with). Splits are disjoint streams, and a
sample depends neither on the number of workers nor on the other samples of
its batch (the body is posed in float64, then rounded to float32). The
cache and the dataset are in :mod:`bigraph_pyg.data.synthetic`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from bigraph_pyg.data.noise import JointNoise
from bigraph_pyg.data.poses import (
    ACTIVITIES,
    ACTIVITY_WEIGHTS,
    sample_body_pose,
    sample_global_orient,
)
from bigraph_pyg.data.scene import (
    JOINT_GARMENT,
    PHOTO_NAMES,
    garment_colors,
    load_photos,
    random_background,
    random_light,
)
from bigraph_pyg.topology import SMPL_JOINT_NAMES, SMPL_TO_JOINTS

__all__ = [
    "ARRAY_KEYS",
    "SPLITS",
    "SampleGenerator",
    "SyntheticConfig",
    "check_split",
    "render_samples",
]

#: Split names and the stream id mixed into every sample's seed.
SPLITS: dict[str, int] = {"train": 0, "val": 1, "test": 2}

#: Per-sample arrays stored in each shard (besides ``index``).
ARRAY_KEYS = (
    "betas",
    "pose",
    "transl",
    "camera_K",
    "camera_weak",
    "joints_2d",
    "joints_3d",
    "joints24_2d",
    "joints24_3d",
    "joints_2d_est",
    "joints_2d_est_visible",
    "activity",
    "background",
)


@dataclass(frozen=True)
class SyntheticConfig:
    """Generation parameters (all stored in ``meta.json``).

    Attributes:
        image_size (int): Crop side, pixels. (default: ``224``)
        shard_size (int): Samples per shard file. (default: ``64``)
        beta_std (float): Std of the shape coefficients. (default: ``1``)
        beta_clip (float): Clip of the shape coefficients. (default: ``2.5``)
        activity_weights (dict): Probability of each activity
            (:data:`~bigraph_pyg.data.poses.ACTIVITY_WEIGHTS`).
        pose_noise (float): Multiplies the per-joint pose noise.
        depth_range (tuple): Pelvis depth, metres (log-uniform).
            (default: ``(2.5, 8.0)``)
        off_axis (float): Lateral pelvis offset, fraction of the depth
            (uniform in ``±off_axis``). (default: ``0.2``)
        fill_range (tuple): Person's box side / crop side.
            (default: ``(0.7, 0.9)``, GraphCMR's 1.2 margin ≈ 0.83)
        center_jitter (float): Box-centre jitter std, fraction of the crop.
            (default: ``0.04``)
        background_weights (tuple): Probability of solid, noise, photo.
        pixel_noise (float): Max std of additive sensor noise (0-255).
        jpeg_quality (int): JPEG quality of the stored images. (``92``)
        joint_noise (JointNoise): Model of the estimated 2D joints.
    """

    image_size: int = 224
    shard_size: int = 64
    beta_std: float = 1.0
    beta_clip: float = 2.5
    activity_weights: dict = field(
        default_factory=lambda: dict(ACTIVITY_WEIGHTS)
    )
    pose_noise: float = 1.0
    depth_range: tuple[float, float] = (2.5, 8.0)
    off_axis: float = 0.2
    fill_range: tuple[float, float] = (0.7, 0.9)
    center_jitter: float = 0.04
    background_weights: tuple[float, float, float] = (0.2, 0.3, 0.5)
    pixel_noise: float = 4.0
    jpeg_quality: int = 92
    joint_noise: JointNoise = field(default_factory=JointNoise)

    def __post_init__(self):
        if self.image_size < 16 or self.shard_size < 1:
            raise ValueError(
                "Expected image_size >= 16 and shard_size >= 1 (got "
                f"{self.image_size}, {self.shard_size})"
            )
        if set(self.activity_weights) - set(ACTIVITIES):
            raise ValueError(
                f"Expected activities among {sorted(ACTIVITIES)} (got "
                f"{sorted(self.activity_weights)})"
            )
        lo, hi = self.depth_range
        if not 0.5 <= lo <= hi:
            raise ValueError(
                f"Expected 0.5 <= depth_range[0] <= depth_range[1] (got "
                f"{self.depth_range})"
            )

    def to_json(self) -> dict:
        """Plain-JSON form (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))


class SampleGenerator:
    """Renders synthetic samples; holds the per-process state.

    Builds the body (float64), the garment regions, one
    :class:`~bigraph_pyg.data.render.BodyRenderer` and the background photos
    once; :meth:`shard` then renders any list of sample indices, and
    :meth:`geometry` draws their geometry without rendering.

    Args:
        config (SyntheticConfig): Generation parameters.
        render (bool): Build the renderer now (else on the first
            :meth:`shard`; :meth:`geometry` needs none). (default:
            :obj:`True`)
    """

    def __init__(self, config: SyntheticConfig, render: bool = True):
        from bigraph_pyg.body import default_body

        torch.set_num_threads(1)
        self.config = config
        # float64, cast after: a sample's vertices do not depend on which
        # other samples share its batch (float32 batched matmuls would).
        self.body = default_body(dtype=torch.float64)
        self.faces = self.body.faces.numpy()
        # The 12 ground-truth joints are the body's joint regressor applied
        # to the posed mesh, as the model's mesh joints are: a perfect mesh
        # scores 0 (the skinned joint centres would not).
        self.regressor = self.body.joint_regressor.detach()[
            list(SMPL_TO_JOINTS)
        ].double()
        self.renderer = None
        if render:
            self._init_rendering()

    def _init_rendering(self) -> None:
        from bigraph_pyg.data.render import (
            BodyRenderer,
            face_incidence,
            vertex_part_labels,
        )

        config = self.config
        weights = self.body.skinning_weights.detach().float().numpy()
        dominant = weights.argmax(axis=1)
        nv = weights.shape[0]
        self.regions = {}
        for name in (
            "top",
            "bottom",
            "shoes",
            "skin",
            "sleeve_upper",
            "sleeve_lower",
            "leg_lower",
            "head",
        ):
            joints = [
                SMPL_JOINT_NAMES.index(j)
                for j, g in JOINT_GARMENT.items()
                if g == name
            ]
            self.regions[name] = np.isin(dominant, joints)
        tv = self.body.template_vertices.float().numpy()
        head_y = (
            self.body.template_joints()[SMPL_JOINT_NAMES.index("head")]
            .detach()
            .float()
            .numpy()
        )
        # Hair: the head's skin above the head joint + 4 cm, and the back.
        self.regions["hair"] = self.regions["head"] & (
            (tv[:, 1] > head_y[1] + 0.04)
            | ((tv[:, 1] > head_y[1] - 0.02) & (tv[:, 2] < head_y[2] - 0.03))
        )
        self.num_vertices = nv
        self.incidence = face_incidence(self.faces, nv)
        self.renderer = BodyRenderer(
            self.faces,
            vertex_part_labels(weights),
            config.image_size,
            config.image_size,
        )
        self.photos = load_photos(PHOTO_NAMES)

    def geometry(
        self,
        seed: int,
        split: str,
        indices: list[int],
        with_vertices: bool = False,
    ) -> dict:
        """Draw the samples' body, camera and 2D joints, without rendering.

        Every draw of a sample's geometry (shape, pose, orientation, camera,
        2D-joint noise) comes from its own stream ``SeedSequence([seed,
        split, index])``; the appearance (:meth:`shard`) from another, so
        this is bit for bit the geometry of the rendered cache.

        Args:
            seed (int): Base seed.
            split (str): One of :data:`SPLITS`.
            indices (list[int]): Sample indices.
            with_vertices (bool): Also return ``vertices`` :math:`(n, V,
                3)` float32 in the model frame (no translation).

        Returns:
            dict: :data:`ARRAY_KEYS` but ``background`` (stacked, float32
            for real values), ``index``, and ``vertices_camera``
            :math:`(n, V, 3)` float64 (for the renderer) and optionally
            ``vertices``.
        """
        cfg = self.config
        size = cfg.image_size
        rngs = [
            np.random.default_rng(
                np.random.SeedSequence([int(seed), SPLITS[split], int(i)])
            )
            for i in indices
        ]
        n = len(indices)
        betas = np.empty((n, 10), np.float32)
        pose = np.empty((n, 72), np.float32)
        activity = np.empty(n, np.int64)
        names = sorted(ACTIVITIES)
        for k, rng in enumerate(rngs):
            b = rng.standard_normal(10) * cfg.beta_std
            betas[k] = np.clip(b, -cfg.beta_clip, cfg.beta_clip)
            body_pose, act = sample_body_pose(
                rng, cfg.activity_weights, cfg.pose_noise
            )
            pose[k, 3:] = body_pose
            pose[k, :3] = sample_global_orient(rng)
            activity[k] = names.index(act)
        with torch.no_grad():
            out = self.body(
                betas=torch.from_numpy(betas).double(),
                body_pose=torch.from_numpy(pose[:, 3:]).double(),
                global_orient=torch.from_numpy(pose[:, :3]).double(),
            )
            joints12 = torch.einsum("jn,bnc->bjc", self.regressor, out.vertices)
        # Rounded through float32 (the precision of the cache).
        verts = out.vertices.float().double().numpy()
        joints = out.joints.float().double().numpy()
        joints12 = joints12.float().double().numpy()
        res = {key: [] for key in ARRAY_KEYS if key != "background"}
        res["vertices_camera"] = []
        mid = (size - 1) / 2.0
        for k, rng in enumerate(rngs):
            lo, hi = np.log(cfg.depth_range)
            depth = float(np.exp(rng.uniform(lo, hi)))
            shift = rng.uniform(-cfg.off_axis, cfg.off_axis, 2) * depth
            transl = np.array([shift[0], shift[1], depth]) - joints[k, 0]
            v = verts[k] + transl
            j = joints[k] + transl
            j12 = joints12[k] + transl
            uv = v[:, :2] / v[:, 2:]
            box_lo, box_hi = uv.min(axis=0), uv.max(axis=0)
            side = float((box_hi - box_lo).max())
            f = rng.uniform(*cfg.fill_range) * size / side
            c = mid - f * (box_lo + box_hi) / 2.0
            c = c + rng.standard_normal(2) * cfg.center_jitter * size
            K = np.array([[f, 0.0, c[0]], [0.0, f, c[1]], [0.0, 0.0, 1.0]])
            j2d = f * j[:, :2] / j[:, 2:] + c
            j12_2d = f * j12[:, :2] / j12[:, 2:] + c
            s = 2.0 * f / (size * j[0, 2])
            t = transl[:2] + (2.0 * c / size - 1.0) / s
            est, est_vis = cfg.joint_noise.apply(j12_2d, rng)
            row = {
                "betas": betas[k],
                "pose": pose[k],
                "transl": transl,
                "camera_K": K,
                "camera_weak": np.array([s, t[0], t[1]]),
                "joints_2d": j12_2d,
                "joints_3d": j12,
                "joints24_2d": j2d,
                "joints24_3d": j,
                "joints_2d_est": est,
                "joints_2d_est_visible": est_vis,
                "activity": activity[k],
                "vertices_camera": v,
            }
            for key in res:
                res[key].append(row[key])
        arrays = {key: np.stack(val) for key, val in res.items()}
        for key in arrays:
            if key != "vertices_camera" and arrays[key].dtype == np.float64:
                arrays[key] = arrays[key].astype(np.float32)
        arrays["index"] = np.asarray(indices, np.int64)
        if with_vertices:
            arrays["vertices"] = verts.astype(np.float32)
        return arrays

    def shard(self, seed: int, split: str, indices: list[int]) -> dict:
        """Render the samples ``indices`` (one batched body forward).

        Args:
            seed (int): Base seed.
            split (str): One of :data:`SPLITS`.
            indices (list[int]): Sample indices.

        Returns:
            dict: ``arrays`` (:data:`ARRAY_KEYS` + ``index``, stacked,
            float32), ``images`` (list of :math:`(S, S, 3)` uint8),
            ``parts`` (list of :math:`(S, S)` uint8).
        """
        from bigraph_pyg.data.render import shade_vertices, vertex_normals

        if self.renderer is None:
            self._init_rendering()
        cfg = self.config
        size = cfg.image_size
        arrays = self.geometry(seed, split, indices)
        images, parts, kinds = [], [], []
        for k, i in enumerate(indices):
            rng = np.random.default_rng(
                np.random.SeedSequence(
                    [int(seed), SPLITS[split], int(i), _APPEARANCE_STREAM]
                )
            )
            v = arrays["vertices_camera"][k]
            K = arrays["camera_K"][k].astype(np.float64)
            light = random_light(rng)
            albedo = garment_colors(rng, self.regions, self.num_vertices)
            lit = shade_vertices(
                albedo, vertex_normals(v, self.faces, self.incidence), **light
            )
            frame = self.renderer.render(v, K, lit)
            bg, kind = random_background(
                rng, size, self.photos, cfg.background_weights
            )
            alpha = frame.rgba[..., 3:].astype(np.float32) / 255.0
            img = frame.rgba[..., :3].astype(np.float32) + (
                1.0 - alpha
            ) * bg.astype(np.float32)
            sigma = rng.uniform(0.0, cfg.pixel_noise)
            img += rng.standard_normal(img.shape, np.float32) * sigma
            images.append(np.clip(img + 0.5, 0, 255).astype(np.uint8))
            parts.append(frame.part_seg)
            kinds.append(kind)
        del arrays["vertices_camera"]
        arrays["background"] = np.asarray(kinds, np.int64)
        return {"arrays": arrays, "images": images, "parts": parts}


#: Child stream of a sample's seed for its appearance (clothing, light,
#: background, sensor noise), so its geometry stream is the same whether or
#: not it is rendered.
_APPEARANCE_STREAM = 1


_WORKER: SampleGenerator | None = None


def _init_worker(config: SyntheticConfig) -> None:
    global _WORKER
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    _WORKER = SampleGenerator(config)


def render_samples(
    indices: list[int],
    seed: int = 0,
    split: str = "train",
    config: SyntheticConfig | None = None,
) -> dict:
    """Render samples in this process without writing anything.

    Args:
        indices (list[int]): Sample indices.
        seed (int): Base seed. (default: ``0``)
        split (str): One of :data:`SPLITS`. (default: ``'train'``)
        config (SyntheticConfig, optional): Parameters.

    Returns:
        dict: ``arrays`` (stacked per key), ``images`` (list of
        :math:`(S, S, 3)` uint8) and ``parts`` (list of :math:`(S, S)` uint8).
    """
    check_split(split)
    global _WORKER
    config = config or SyntheticConfig()
    if _WORKER is None or _WORKER.config != config:
        _init_worker(config)
    return _WORKER.shard(seed, split, list(indices))


def check_split(split: str) -> None:
    """Raise :class:`ValueError` unless ``split`` is in :data:`SPLITS`.

    Args:
        split (str): The split name to check.
    """
    if split not in SPLITS:
        raise ValueError(f"Expected split in {sorted(SPLITS)} (got {split!r})")
