r"""Pose-only synthetic samples: the generator's geometry, never rendered.

A 2D-to-3D lifter learns from many poses, and poses are cheap: drawing one
sample's body, camera and detector-like 2D joints costs ~5 ms, rendering
and training on its image ~100 times more. :class:`SyntheticPoses` holds
``num_samples`` such samples, drawn by
:meth:`~bigraph_pyg.data.SampleGenerator.geometry` from the **training**
stream at indices ``first_index + k`` (disjoint from the rendered training
samples ``[0, N)``, and from the validation and test streams). The trainer
feeds them to the model image-free (``model(None, joints_2d)``) beside each
image batch (:attr:`TrainConfig.lift_batch_size
<bigraph_pyg.engine.TrainConfig>`).

Each sample holds what an image-free step needs: 2D joints (ground truth
and estimated, pixels of the generator's crop), the 12 3D joints (camera
frame), SMPL ``pose``/``betas``, and the ground-truth mesh at one level of
the model's mesh hierarchy (model frame; level 0 is 83 KB a sample, level 2
5 KB). The arrays are cached in ``root`` as one ``.npz`` with its
parameters, checked on load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from bigraph_pyg.data.generator import SampleGenerator, in_crop
from bigraph_pyg.data.synthetic_cache import MAX_SAMPLES
from bigraph_pyg.data.synthetic_config import SyntheticConfig
from bigraph_pyg.utils._checks import check_positive_int
from bigraph_pyg.utils.io import load_npz

__all__ = ["POSE_KEYS", "SyntheticPoses"]

#: Arrays of a pose-only sample.
POSE_KEYS: tuple[str, ...] = (
    "joints_2d",
    "joints_2d_est",
    "joints_2d_est_visible",
    "joints_3d",
    "pose",
    "betas",
    "vertices",
)

_VERSION = 1


class SyntheticPoses(Dataset):
    """Pose-only training samples (no image), cached on disk.

    Args:
        root (str or PathLike or None): Cache folder (``None``: memory
            only).
        num_samples (int): Samples.
        seed (int): Base seed of the generator. (default: ``0``)
        level (int): Mesh level of ``vertices`` (``0`` full resolution).
            (default: ``0``)
        sampler (MeshSampler, optional): Down-samples the mesh to
            ``level``; required for ``level > 0``.
        config (SyntheticConfig, optional): Generation parameters (those of
            the rendered training split).
        first_index (int): Index of the first sample in the training
            stream. (default: ``1_000_000``)
        chunk (int): Samples posed at once. (default: ``256``)
        progress (bool): tqdm bar. (default: :obj:`True`)

    Raises:
        ValueError: ``num_samples`` not in ``[1, MAX_SAMPLES]``, ``level >
            0`` without a sampler,
            or a cache written with other parameters.
    """

    def __init__(
        self,
        root,
        num_samples: int,
        seed: int = 0,
        level: int = 0,
        sampler=None,
        config: SyntheticConfig | None = None,
        first_index: int = 1_000_000,
        chunk: int = 256,
        progress: bool = True,
    ) -> None:
        check_positive_int("num_samples", num_samples)
        if num_samples > MAX_SAMPLES:  # before anything is allocated
            raise ValueError(
                f"Expected num_samples <= {MAX_SAMPLES} pose-only samples "
                f"(got {num_samples})"
            )
        if isinstance(level, bool) or not isinstance(level, int) or level < 0:
            raise ValueError(
                f"Expected level an integer >= 0 (a mesh level; 0 is full "
                f"resolution) (got {level!r})"
            )
        if level > 0 and sampler is None:
            raise ValueError(
                f"Expected a `sampler` for level={level} (got None)"
            )
        self.config = config or SyntheticConfig()
        self.level = int(level)
        meta = {
            "version": _VERSION,
            "num_samples": int(num_samples),
            "seed": int(seed),
            "level": self.level,
            "first_index": int(first_index),
            "config": self.config.to_json(),
        }
        path = None
        if root is not None:
            path = Path(root) / (
                f"poses_s{seed}_n{num_samples}_l{level}_i{first_index}.npz"
            )
        if path is not None and path.is_file():
            self.arrays = _load(path, meta)
        else:
            self.arrays = _generate(self.config, meta, sampler, chunk, progress)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
                np.savez(tmp, meta=np.array(json.dumps(meta)), **self.arrays)
                os.replace(tmp, path)
        self.path = path

    def __len__(self) -> int:
        return len(self.arrays["joints_3d"])

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(
                f"Expected an index in [0, {len(self)}) (got {index})"
            )
        return {k: torch.from_numpy(v[index]) for k, v in self.arrays.items()}

    def batch(
        self, indices: Tensor, redraw: np.random.Generator | None = None
    ) -> dict[str, Tensor]:
        """The samples ``indices`` stacked (faster than a DataLoader).

        Args:
            indices (Tensor): :math:`(B,)` int64.
            redraw (np.random.Generator, optional): Draw the estimated
                joints afresh from this generator
                (:meth:`~bigraph_pyg.data.JointNoise.apply_batch` with the
                config's ``joint_noise``; the joints outside the crop stay
                unseen, as the generator flags them) instead of the cached
                draw: a pose seen twice then comes with other detector
                errors. (default: the cached estimates)

        Returns:
            dict[str, Tensor]: :data:`POSE_KEYS`, each :math:`(B, ...)`.
        """
        idx = indices.cpu().numpy()
        out = {k: v[idx] for k, v in self.arrays.items()}
        if redraw is not None:
            uv = out["joints_2d"]
            in_frame = in_crop(uv, self.config.image_size)
            est, vis = self.config.joint_noise.apply_batch(uv, redraw, in_frame)
            out["joints_2d_est"], out["joints_2d_est_visible"] = est, vis
        return {k: torch.from_numpy(v) for k, v in out.items()}


def _generate(
    config: SyntheticConfig, meta: dict, sampler, chunk: int, progress: bool
) -> dict[str, np.ndarray]:
    from tqdm.auto import tqdm

    threads = torch.get_num_threads()  # before the generator pins one
    gen = SampleGenerator(config, render=False)
    first, n = meta["first_index"], meta["num_samples"]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in POSE_KEYS}
    try:
        for start in tqdm(
            range(0, n, chunk),
            desc="poses",
            unit="chunk",
            disable=not progress,
            leave=False,
        ):
            idx = list(range(first + start, first + min(n, start + chunk)))
            a = gen.geometry(meta["seed"], "train", idx, with_vertices=True)
            v = torch.from_numpy(a["vertices"])
            if meta["level"] > 0:
                with torch.no_grad():
                    v = sampler.downsample(v, 0, meta["level"])
            a["vertices"] = v.numpy().astype(np.float32)
            for k in POSE_KEYS:
                parts[k].append(a[k])
    finally:
        torch.set_num_threads(threads)  # the generator pins one thread
    return {k: np.concatenate(v) for k, v in parts.items()}


def _load(path: Path, meta: dict) -> dict[str, np.ndarray]:
    data = load_npz(
        path,
        "a pose-only cache written by bigraph_pyg",
        required=("meta", *POSE_KEYS),
        hint="delete it to regenerate",
    )
    try:
        found = json.loads(str(data["meta"]))
    except ValueError as err:
        raise ValueError(
            f"Expected JSON parameters in 'meta' of the pose-only cache "
            f"{path} (got {type(err).__name__}: {err}); delete it to "
            "regenerate"
        ) from err
    arrays = {k: data[k] for k in POSE_KEYS}
    if not isinstance(found, dict):
        found = {}
    if found != meta:
        diff = sorted(k for k in meta if found.get(k) != meta[k])
        raise ValueError(
            f"Expected the pose-only cache {path} to match this run's "
            f"parameters (got differences in {diff}); delete it to "
            "regenerate"
        )
    return arrays
