r"""Synthetic humans: the dataset that reads the cache on disk.

:class:`SyntheticHumans` is the default data of every example: crops of
the licence-free default body in random shapes, poses, clothing, light,
cameras and backgrounds, rendered headless by pyrender (see
:mod:`bigraph_pyg.data.generator` for how a sample is drawn).

Generation (:mod:`bigraph_pyg.data.generator`) is deterministic from
``seed``, runs in worker processes, and writes a cache folder once
(:mod:`bigraph_pyg.data.synthetic_cache`)::

    root/<split>/meta.json            format version + every parameter
    root/<split>/shard_00000.npz      arrays of samples [0, shard_size)
    root/<split>/images/0000000.jpg   RGB crop
    root/<split>/parts/0000000.png    part labels (render.PART_NAMES)

Vertices are **not** stored (83 KB a sample): the dataset recomputes them
from the stored ``(betas, pose)`` with the same body (exact up to float
rounding), and ``coarse_vertices`` as :math:`\mathbf{D}_0 \mathbf{V}` of the
mesh hierarchy (6890 -> 1723).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from bigraph_pyg.data.augment import (
    PART_FLIP,
    SMPL_FLIP_PERM,
    AugmentConfig,
    AugmentParams,
    EpochSeeded,
    crop_matrix,
    sample_augment,
    transform_intrinsics,
    transform_points_2d,
    transform_pose,
    warp_image,
)
from bigraph_pyg.data.keys import empty_sample, normalize_image
from bigraph_pyg.data.synthetic_cache import (
    FORMAT_VERSION,
    _check_meta,
    _image_path,
    _meta,
    _part_path,
    generate_synthetic,
    read_shard,
)
from bigraph_pyg.data.synthetic_config import (
    SPLITS,
    SyntheticConfig,
    check_split,
)
from bigraph_pyg.topology import FLIP_PERM

__all__ = [
    "FORMAT_VERSION",
    "SPLITS",
    "SyntheticConfig",
    "SyntheticHumans",
    "generate_synthetic",
]


class SyntheticHumans(EpochSeeded, Dataset):
    """The synthetic dataset: generated once into ``root``, then read.

    Args:
        root (str or PathLike): Cache root (``root/<split>``).
        split (str): ``'train'``, ``'val'`` or ``'test'``.
            (default: ``'train'``)
        num_samples (int): Number of samples. (default: ``1024``)
        seed (int): Base seed of the generation and of the augmentation
            (see :class:`~bigraph_pyg.data.augment.EpochSeeded`).
            (default: ``0``)
        config (SyntheticConfig, optional): Generation parameters.
        num_workers (int): Generation processes. (default: ``2``)
        augment (AugmentConfig, optional): Online augmentation (flip,
            rotation, scale, colour gain); :obj:`None` for none.
        with_vertices (bool): Compute ``vertices``/``coarse_vertices``
            from ``(betas, pose)``. (default: :obj:`True`)
        progress (bool): Progress bar while generating.
        generate (bool): Generate a missing cache; if :obj:`False`, a
            missing or incomplete cache raises. (default: :obj:`True`)

    Every item is a dict with the keys of
    :data:`~bigraph_pyg.data.keys.SAMPLE_KEYS`.

    Raises:
        ValueError: a cache written with other parameters or by another
            version.
        FileNotFoundError: ``generate=False`` and no complete cache; or a
            cache file removed after generation (named, with the remedy).
    """

    name = "synthetic"

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        num_samples: int = 1024,
        seed: int = 0,
        config: SyntheticConfig | None = None,
        num_workers: int = 2,
        augment: AugmentConfig | None = None,
        with_vertices: bool = True,
        progress: bool = True,
        generate: bool = True,
    ):
        check_split(split)
        self.seed = int(seed)
        self.config = config or SyntheticConfig()
        self.split = split
        self.folder = Path(root) / split
        meta_path = self.folder / "meta.json"
        complete = False
        if meta_path.exists():
            complete = (
                _check_meta(
                    self.folder, _meta(self.config, split, seed, num_samples)
                ).get("complete")
                is True
            )
        if not complete:
            if not generate:
                raise FileNotFoundError(
                    f"Expected a complete synthetic cache at {meta_path} "
                    "(got none); pass generate=True or run "
                    "generate_synthetic"
                )
            generate_synthetic(
                root,
                split,
                num_samples,
                seed,
                self.config,
                num_workers,
                progress,
            )
        size = self.config.shard_size
        parts = []
        for shard in range((num_samples + size - 1) // size):
            parts.append(read_shard(self.folder, shard, size, num_samples))
        self.arrays = {
            k: np.concatenate([p[k] for p in parts]) for k in parts[0]
        }
        if len(self.arrays["index"]) != num_samples:
            raise ValueError(
                f"Expected {num_samples} samples in {self.folder} (got "
                f"{len(self.arrays['index'])}); delete it to regenerate"
            )
        self.augment = augment
        self.with_vertices = with_vertices
        self._body = None
        self._down = None

    def __len__(self) -> int:
        return len(self.arrays["index"])

    def _body_and_down(self):
        if self._body is None:
            from bigraph_pyg.body import default_body
            from bigraph_pyg.topology import mesh_hierarchy

            self._body = default_body()
            h = mesh_hierarchy(self._body.template_vertices, self._body.faces)
            self._down = h.down[0].coalesce()
        return self._body, self._down

    def _read(self, index: int):
        from PIL import Image

        paths = (
            _image_path(self.folder, index),
            _part_path(self.folder, index),
        )
        out = []
        for path in paths:
            try:
                with Image.open(path) as im:
                    out.append(np.asarray(im))
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f"Expected the cache file {path} (got no such file); "
                    f"delete {self.folder} to regenerate the cache"
                ) from err
            except OSError as err:
                raise OSError(
                    f"Expected a readable image {path} (got "
                    f"{type(err).__name__}: {err}); delete {self.folder} "
                    "to regenerate the cache"
                ) from err
        return out

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(
                f"Expected an index in [0, {len(self)}) (got {index})"
            )
        a = {k: v[index] for k, v in self.arrays.items()}
        img, part = self._read(index)
        size = self.config.image_size
        for array, path, shape in (
            (img, _image_path(self.folder, index), (size, size, 3)),
            (part, _part_path(self.folder, index), (size, size)),
        ):
            if array.shape != shape or array.dtype != np.uint8:
                raise ValueError(
                    f"Expected a {shape} uint8 image at {path} (got "
                    f"{array.shape} {array.dtype}); delete {self.folder} to "
                    "regenerate the cache"
                )
        if self.augment is not None:
            params = sample_augment(self.sample_rng(index), self.augment)
        else:
            params = AugmentParams()
        sample = empty_sample(self.name, index)
        a = _apply_augment(a, params, size)
        if params != AugmentParams():
            A = crop_matrix(
                np.array([(size - 1) / 2.0] * 2),
                size * params.scale,
                size,
                params.rot,
                params.flip,
            )
            img = warp_image(img, A, size)
            part = warp_image(part, A, size, nearest=True)
            if params.flip:
                part = np.asarray(PART_FLIP, np.uint8)[part]
            img = np.clip(img * np.asarray(params.gain), 0, 255).astype(
                np.uint8
            )
        sample["img"] = normalize_image(img)
        for key in (
            "joints_2d",
            "joints_3d",
            "joints24_2d",
            "joints24_3d",
            "joints_2d_est",
            "joints_2d_est_visible",
            "joints_2d_visible",
            "pose",
            "betas",
            "transl",
            "camera_K",
            "camera_weak",
        ):
            sample[key] = torch.as_tensor(np.asarray(a[key], np.float32))
        sample["joints_3d_visible"].fill_(1.0)
        sample["part_seg"] = torch.from_numpy(np.array(part, np.uint8))
        sample["mask"] = (sample["part_seg"] > 0).to(torch.uint8)
        for key in (
            "has_smpl",
            "has_pose_3d",
            "has_joints_2d",
            "has_joints24",
            "has_camera",
            "has_seg",
        ):
            sample[key] = torch.tensor(True)
        if self.with_vertices:
            body, down = self._body_and_down()
            with torch.no_grad():
                pose = sample["pose"][None]
                v = body(
                    betas=sample["betas"][None],
                    body_pose=pose[:, 3:],
                    global_orient=pose[:, :3],
                ).vertices[0]
            sample["vertices"] = v
            sample["coarse_vertices"] = torch.sparse.mm(down, v)
            sample["has_vertices"] = torch.tensor(True)
        return sample


def _apply_augment(a: dict, params: AugmentParams, size: int) -> dict:
    """Apply ``params`` to one sample's arrays (crop centred, box = crop)."""
    if params == AugmentParams():
        return a
    a = dict(a)
    A = crop_matrix(
        np.array([(size - 1) / 2.0] * 2),
        size * params.scale,
        size,
        params.rot,
        params.flip,
    )
    M = params.matrix_3d()
    perm12 = list(FLIP_PERM) if params.flip else list(range(12))
    perm24 = list(SMPL_FLIP_PERM) if params.flip else list(range(24))
    a["joints_2d"] = transform_points_2d(a["joints_2d"], A)[perm12]
    a["joints_2d_est"] = transform_points_2d(a["joints_2d_est"], A)[perm12]
    a["joints_2d_est_visible"] = a["joints_2d_est_visible"][perm12]
    a["joints_2d_visible"] = a["joints_2d_visible"][perm12]
    a["joints24_2d"] = transform_points_2d(a["joints24_2d"], A)[perm24]
    a["joints_3d"] = (a["joints_3d"] @ M.T)[perm12]
    a["joints24_3d"] = (a["joints24_3d"] @ M.T)[perm24]
    a["camera_K"] = transform_intrinsics(a["camera_K"], A)
    a["pose"] = transform_pose(a["pose"], params)
    # The model frame follows the pose; translation approximately M @ t.
    a["transl"] = M @ a["transl"]
    K = a["camera_K"]
    zr = float(a["joints24_3d"][0, 2])
    s = 2.0 * K[0, 0] / (size * zr)
    t = a["transl"][:2] + (2.0 * K[:2, 2] / size - 1.0) / s
    a["camera_weak"] = np.array([s, t[0], t[1]])
    return a
