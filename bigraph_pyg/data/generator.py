r"""Synthetic samples: the default body, posed, dressed and rendered.

Each sample is a 224² crop of the licence-free default body with random
shape (:math:`\beta \sim \mathcal{N}(0, 1.25^2)`, clipped), a pose from
the pose world of :mod:`bigraph_pyg.data.poses` (31 activities built from
part families of joint-angle ranges, limbs recombined, within per-joint
anatomical limits, self-intersections rejected; the ``heldout`` split draws
only the held-out activities), a global orientation (turned, tilted or
lying, seen from eye level, above or below), random clothing (colours, and
a looseness that widens the silhouette), light, camera distance and focal
length, and a random background (:mod:`bigraph_pyg.data.scene`), rendered
headless by pyrender (:mod:`bigraph_pyg.data.render`). The person is
centred with a jittered box, as real crops are, or, in a fraction
``partial_prob`` of the samples, framed so that the legs or one side leave
the crop (those joints flagged not visible).

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
its batch (the body is posed in float64, then rounded to float32). The
parameters are in :mod:`bigraph_pyg.data.synthetic_config`; the cache and
the dataset in :mod:`bigraph_pyg.data.synthetic`.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from bigraph_pyg.data.pose_families import ACTIVITIES
from bigraph_pyg.data.poses import sample_body_pose, sample_global_orient
from bigraph_pyg.data.scene import (
    PHOTO_NAMES,
    garment_colors,
    garment_regions,
    load_photos,
    random_background,
    random_light,
)
from bigraph_pyg.data.self_contact import SelfContact
from bigraph_pyg.data.synthetic_config import (
    ARRAY_KEYS,
    SPLITS,
    SyntheticConfig,
    check_split,
)
from bigraph_pyg.topology import SMPL_JOINT_NAMES, SMPL_TO_JOINTS

__all__ = ["SampleGenerator", "render_samples"]


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
        self.contact = SelfContact(
            self.body.template_joints().detach().numpy(),
            self.body.parents.numpy(),
        )
        self.renderer = None
        if render:
            self._init_rendering()

    def _init_rendering(self) -> None:
        from bigraph_pyg.data.render import BodyRenderer, vertex_part_labels
        from bigraph_pyg.data.shading import face_incidence

        config = self.config
        weights = self.body.skinning_weights.detach().float().numpy()
        tv = self.body.template_vertices.float().numpy()
        head = (
            self.body.template_joints()[SMPL_JOINT_NAMES.index("head")]
            .detach()
            .float()
            .numpy()
        )
        self.regions = garment_regions(weights, tv, head)
        nv = weights.shape[0]
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
        rngs = [
            np.random.default_rng(
                np.random.SeedSequence([int(seed), SPLITS[split], int(i)])
            )
            for i in indices
        ]
        betas, pose, activity = self._sample_bodies(rngs, split)
        verts, joints, joints12 = self._pose_bodies(betas, pose)
        res = {key: [] for key in ARRAY_KEYS if key != "background"}
        res["vertices_camera"] = []
        for k, rng in enumerate(rngs):
            row = self._camera_view(rng, verts[k], joints[k], joints12[k])
            row.update(betas=betas[k], pose=pose[k], activity=activity[k])
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

    def _sample_bodies(
        self, rngs: list[np.random.Generator], split: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw each sample's shape, pose and activity from its stream.

        Args:
            rngs (list[np.random.Generator]): One geometry stream a sample.
            split (str): ``'heldout'`` draws the held-out activities.

        Returns:
            (np.ndarray, np.ndarray, np.ndarray): ``betas`` :math:`(n, 10)`
            float32 (clipped), ``pose`` :math:`(n, 72)` float32 (global
            orientation first) and ``activity`` :math:`(n,)` int64, the
            index into ``sorted(ACTIVITIES)``.
        """
        cfg = self.config
        n = len(rngs)
        betas = np.empty((n, 10), np.float32)
        pose = np.empty((n, 72), np.float32)
        activity = np.empty(n, np.int64)
        names = sorted(ACTIVITIES)
        for k, rng in enumerate(rngs):
            b = rng.standard_normal(10) * cfg.beta_std
            betas[k] = np.clip(b, -cfg.beta_clip, cfg.beta_clip)
            draw = sample_body_pose(
                rng,
                None if split == "heldout" else cfg.activity_weights,
                cfg.recombine,
                held_out=split == "heldout",
                contact=self.contact,
            )
            pose[k, 3:] = draw.body_pose
            pose[k, :3] = sample_global_orient(rng, draw.orientation)
            activity[k] = names.index(draw.activity)
        return betas, pose, activity

    def _pose_bodies(
        self, betas: np.ndarray, pose: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pose the bodies (one batched float64 forward), in the model frame.

        Args:
            betas (np.ndarray): :math:`(n, 10)` shapes.
            pose (np.ndarray): :math:`(n, 72)` poses, global orientation
                first.

        Returns:
            (np.ndarray, np.ndarray, np.ndarray): vertices :math:`(n, V,
            3)`, the body's joints :math:`(n, 24, 3)` and the 12
            ground-truth joints :math:`(n, 12, 3)`, float64 values rounded
            through float32.
        """
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
        return verts, joints, joints12

    def _camera_view(
        self,
        rng: np.random.Generator,
        verts: np.ndarray,
        joints: np.ndarray,
        joints12: np.ndarray,
    ) -> dict:
        """Place one posed body before the camera and project it.

        Draws, in this order, the pelvis depth (log-uniform over
        ``depth_range``) and its off-axis shift, the framing (whole body,
        or with probability ``partial_prob`` a box cut to the upper body or
        to one side), the focal length that makes the framed box fill a
        random fraction ``fill_range`` of the crop, the principal-point
        jitter, and the 2D-joint noise (joints out of the crop are not
        visible, and so never estimated).

        Args:
            rng (np.random.Generator): The sample's geometry stream, after
                :meth:`_sample_bodies`.
            verts (np.ndarray): :math:`(V, 3)` model-frame vertices.
            joints (np.ndarray): :math:`(24, 3)` the body's joints.
            joints12 (np.ndarray): :math:`(12, 3)` ground-truth joints.

        Returns:
            dict: ``transl``, ``camera_K``, ``camera_weak``, ``joints_2d``,
            ``joints_3d``, ``joints24_2d``, ``joints24_3d``,
            ``joints_2d_est``, ``joints_2d_est_visible``,
            ``joints_2d_visible`` and ``vertices_camera`` :math:`(V, 3)`
            float64.
        """
        cfg = self.config
        size = cfg.image_size
        mid = (size - 1) / 2.0
        lo, hi = np.log(cfg.depth_range)
        depth = float(np.exp(rng.uniform(lo, hi)))
        shift = rng.uniform(-cfg.off_axis, cfg.off_axis, 2) * depth
        transl = np.array([shift[0], shift[1], depth]) - joints[0]
        v = verts + transl
        j = joints + transl
        j12 = joints12 + transl
        uv = v[:, :2] / v[:, 2:]
        box_lo, box_hi = _framed_box(
            rng, uv.min(axis=0), uv.max(axis=0), cfg.partial_prob
        )
        side = float((box_hi - box_lo).max())
        f = rng.uniform(*cfg.fill_range) * size / side
        c = mid - f * (box_lo + box_hi) / 2.0
        c = c + rng.standard_normal(2) * cfg.center_jitter * size
        K = np.array([[f, 0.0, c[0]], [0.0, f, c[1]], [0.0, 0.0, 1.0]])
        j2d = f * j[:, :2] / j[:, 2:] + c
        j12_2d = f * j12[:, :2] / j12[:, 2:] + c
        s = 2.0 * f / (size * j[0, 2])
        t = transl[:2] + (2.0 * c / size - 1.0) / s
        in_frame = in_crop(j12_2d, size)
        est, est_vis = cfg.joint_noise.apply(j12_2d, rng, in_frame)
        return {
            "transl": transl,
            "camera_K": K,
            "camera_weak": np.array([s, t[0], t[1]]),
            "joints_2d": j12_2d,
            "joints_3d": j12,
            "joints24_2d": j2d,
            "joints24_3d": j,
            "joints_2d_est": est,
            "joints_2d_est_visible": est_vis,
            "joints_2d_visible": in_frame.astype(np.float32),
            "vertices_camera": v,
        }

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
        from bigraph_pyg.data.shading import shade_vertices, vertex_normals

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
            albedo, layer = garment_colors(rng, self.regions, self.num_vertices)
            normals = vertex_normals(v, self.faces, self.incidence)
            # Loose clothes: the top and the bottom stand off the body.
            loose = np.concatenate([[0.0], rng.uniform(*cfg.clothing_range, 2)])
            dressed = v + normals * loose[layer][:, None]
            lit = shade_vertices(albedo, normals, **light)
            frame = self.renderer.render(dressed, K, lit)
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


def in_crop(joints_2d: np.ndarray, size: int) -> np.ndarray:
    """Which joints lie inside a ``size``² crop (pixels, ``[0, size - 1]``).

    The ground-truth visibility of a sample's 2D joints: those outside are
    flagged unseen and never estimated.

    Args:
        joints_2d (np.ndarray): :math:`(..., J, 2)`.
        size (int): The crop side.

    Returns:
        np.ndarray: :math:`(..., J)` bool.
    """
    return ((joints_2d >= 0.0) & (joints_2d <= size - 1.0)).all(axis=-1)


def _framed_box(
    rng: np.random.Generator,
    box_lo: np.ndarray,
    box_hi: np.ndarray,
    partial_prob: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The part of the body's box the crop frames (normalised image units).

    With probability ``partial_prob``, the box is cut: two times in three
    to its top 45-75 % (the legs leave the frame, as in a portrait or a
    half-body shot), else to 55-80 % of its width from the left or the
    right (one side leaves it). Always four draws, so the rest of the
    sample's stream does not depend on the framing.
    """
    u, kind, frac, left = rng.random(4)
    if u >= partial_prob:
        return box_lo, box_hi
    lo, hi = box_lo.copy(), box_hi.copy()
    if kind < 2.0 / 3.0:  # image y points down: keep the top
        hi[1] = lo[1] + (0.45 + 0.30 * frac) * (hi[1] - lo[1])
    elif left < 0.5:
        hi[0] = lo[0] + (0.55 + 0.25 * frac) * (hi[0] - lo[0])
    else:
        lo[0] = hi[0] - (0.55 + 0.25 * frac) * (hi[0] - lo[0])
    return lo, hi


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
