"""Datasets for the example scripts: the synthetic splits and the real mix.

* :func:`synthetic_splits`: generates (once, cached in ``root``) and reads
  the synthetic humans of :mod:`bigraph_pyg.data`, held in memory at the
  model's input size (:class:`~bigraph_pyg.engine.batching.CachedDataset`).
* :func:`real_training_mix`: GraphCMR-format Human3.6M, UP-3D, LSP, COCO
  and MPII in the paper's 30/20/10/20/20 % mixture (Sec. 5.2).
* :func:`real_eval_set`: one GraphCMR-format test split (H36M protocol 1
  or 2, UP-3D, LSP).
* :func:`redraw_joint_noise`: replaces a synthetic set's estimated 2D
  joints by draws from another noise model (e.g. the demo detector's,
  :meth:`JointNoise.mediapipe() <bigraph_pyg.data.JointNoise.mediapipe>`)
  without rendering again; :func:`apply_joint_noise` does it for the
  scripts' ``--joint-noise`` choices (:data:`JOINT_NOISES`), among them
  the demo detector's own joints on the renders
  (:mod:`~bigraph_pyg.apps.detector_joints`).

Missing folders raise :class:`FileNotFoundError` naming the folder and
what should be in it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bigraph_pyg.engine.batching import CachedDataset

if TYPE_CHECKING:
    from bigraph_pyg.data import JointNoise, SyntheticPoses

__all__ = [
    "EVAL_SPLITS",
    "JOINT_NOISES",
    "NOISE_STREAMS",
    "REAL_DATASETS",
    "apply_joint_noise",
    "real_eval_set",
    "real_training_mix",
    "redraw_joint_noise",
    "synthetic_splits",
]

#: The scripts' ``--joint-noise`` choices: the cache's own estimates
#: (``JointNoise()``, drawn at generation), redrawn as MediaPipe errs
#: (``JointNoise.mediapipe()``), or MediaPipe's own joints on each render
#: (``"detector"``; the fitted noise where there is no render or no person).
JOINT_NOISES: tuple[str, ...] = ("cache", "mediapipe", "detector")

#: Noise streams of :func:`redraw_joint_noise`, one per set.
NOISE_STREAMS: dict[str, int] = {
    "train": 0,
    "val": 1,
    "test": 2,
    "lift": 3,
    "heldout": 4,
}

#: Real training sets of the paper (Sec. 5.1).
REAL_DATASETS: tuple[str, ...] = ("h36m", "up3d", "lsp", "coco", "mpii")
#: Evaluation sets: name -> (dataset, split).
EVAL_SPLITS: dict[str, tuple[str, str]] = {
    "h36m_p1": ("h36m", "test_p1"),
    "h36m_p2": ("h36m", "test_p2"),
    "up3d": ("up3d", "test"),
    "lsp": ("lsp", "test"),
}


def synthetic_splits(
    root: str | os.PathLike,
    sizes: Mapping[str, int],
    image_size: Sequence[int],
    body=None,
    seed: int = 0,
    num_workers: int = 2,
    progress: bool = True,
) -> dict[str, CachedDataset]:
    """Generate (if needed) and load synthetic splits into memory.

    Args:
        root (str or PathLike): Cache folder (``root/<split>``).
        sizes (Mapping[str, int]): Samples per split, e.g.
            ``{"train": 320, "val": 32, "test": 64, "heldout": 64}``
            (``heldout``: the held-out pose families).
        image_size (Sequence[int]): Model input ``(H, W)``.
        body (BodyModel, optional): Poses the ground-truth vertices.
            (default: the default body)
        seed (int): Generation seed. (default: ``0``)
        num_workers (int): Rendering processes. (default: ``2``)
        progress (bool): tqdm bars.

    Returns:
        dict[str, CachedDataset]: by split.
    """
    from bigraph_pyg.data.synthetic import SyntheticHumans

    if body is None:
        from bigraph_pyg.body import default_body

        body = default_body()
    out = {}
    for split, n in sizes.items():
        ds = SyntheticHumans(
            root,
            split,
            num_samples=int(n),
            seed=seed,
            num_workers=num_workers,
            with_vertices=False,
            progress=progress,
        )
        out[split] = CachedDataset(ds, image_size, body=body, progress=progress)
    return out


def _check_folder(path, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(
            f"Expected a folder of {what} at {path} (got no such folder); "
            "pass the right path"
        )
    return path


def _image_dir(
    name: str, image_root, image_dirs: Mapping[str, str] | None
) -> Path:
    if image_dirs and name in image_dirs:
        return _check_folder(image_dirs[name], f"{name} images")
    if image_root is None:
        raise FileNotFoundError(
            f"Expected an image folder for {name} (got neither "
            f"image_root nor image_dirs[{name!r}]; the scripts' "
            f"--image-root / --image-dir {name}=PATH)"
        )
    return _check_folder(
        Path(image_root) / name, f"{name} images (IMAGE_ROOT/{name})"
    )


def real_training_mix(
    npz_root: str | os.PathLike,
    image_root: str | os.PathLike | None,
    names: Sequence[str] = REAL_DATASETS,
    image_dirs: Mapping[str, str] | None = None,
    body=None,
    length: int | None = None,
    seed: int = 0,
):
    """The paper's training mixture of GraphCMR-format datasets.

    Args:
        npz_root (str or PathLike): Folder of GraphCMR's ``.npz`` files.
        image_root (str or PathLike, optional): Folder with one image
            folder per dataset (``h36m/``, ``up3d/``, ...).
        names (Sequence[str]): Datasets to mix (paper ratios, renormalised).
        image_dirs (Mapping[str, str], optional): Per-dataset image folders
            overriding ``image_root``.
        body (BodyModel, optional): Poses ground-truth vertices.
        length (int, optional): Samples per epoch (default: the largest).
        seed (int): Seed of the mixture table and of every member's
            augmentation (redrawn per epoch by ``set_epoch``).

    Returns:
        MixedDataset: the training set.

    Raises:
        FileNotFoundError: a missing folder or file.
    """
    from bigraph_pyg import data

    root = _check_folder(npz_root, "GraphCMR .npz files")
    if body is None:
        from bigraph_pyg.body import default_body

        body = default_body()
    members = {}
    for name in names:
        if name not in REAL_DATASETS:
            raise ValueError(
                f"Expected datasets among {REAL_DATASETS} (got {name!r})"
            )
        members[name] = getattr(data, name)(
            root,
            _image_dir(name, image_root, image_dirs),
            "train",
            body=body,
            seed=seed,
        )
    return data.MixedDataset(members, length=length, seed=seed)


def real_eval_set(
    name: str,
    npz_root: str | os.PathLike,
    image_root: str | os.PathLike | None,
    image_dirs: Mapping[str, str] | None = None,
    body=None,
):
    """One GraphCMR-format test split (see :data:`EVAL_SPLITS`).

    Args:
        name (str): A key of :data:`EVAL_SPLITS` (``'h36m_p1'``,
            ``'h36m_p2'``, ``'up3d'``, ``'lsp'``).
        npz_root (str or PathLike): Folder of GraphCMR's ``.npz`` files.
        image_root (str or PathLike, optional): Folder with one image
            folder per dataset (``h36m/``, ``up3d/``, ...).
        image_dirs (Mapping[str, str], optional): Per-dataset image folders
            overriding ``image_root``.
        body (BodyModel, optional): Poses ground-truth vertices.
            (default: :func:`~bigraph_pyg.body.default_body`)

    Returns:
        GraphCMRDataset: without augmentation.

    Raises:
        ValueError: an unknown ``name``.
        FileNotFoundError: a missing folder or file.
    """
    from bigraph_pyg import data

    if name not in EVAL_SPLITS:
        raise ValueError(
            f"Expected an evaluation set in "
            f"{sorted(EVAL_SPLITS)} (got {name!r})"
        )
    dataset, split = EVAL_SPLITS[name]
    root = _check_folder(npz_root, "GraphCMR .npz files")
    if body is None:
        from bigraph_pyg.body import default_body

        body = default_body()
    return getattr(data, dataset)(
        root,
        _image_dir(dataset, image_root, image_dirs),
        split,
        train=False,
        body=body,
    )


def redraw_joint_noise(
    dataset: CachedDataset | SyntheticPoses,
    noise: JointNoise,
    seed: int,
    stream: str,
) -> None:
    """Replace a synthetic set's estimated 2D joints, in place.

    ``joints_2d_est`` and ``joints_2d_est_visible`` are drawn again from
    the ground truth ``joints_2d`` (and its visibility, where the set has
    one) with :func:`~bigraph_pyg.data.draw_estimates`: sample ``i`` from
    its own generator, ``[seed, NOISE_STREAMS[stream], i, REDRAW_STREAM]``,
    independent of the draws that made the sample. Pose-only samples also
    take ``noise`` as their config's ``joint_noise``, so that
    :meth:`SyntheticPoses.batch(redraw=...)
    <bigraph_pyg.data.SyntheticPoses.batch>` draws from it too. Nothing
    else changes.

    Args:
        dataset (CachedDataset or SyntheticPoses): A synthetic set held in
            memory (a :class:`CachedDataset` of
            :class:`~bigraph_pyg.data.SyntheticHumans`, or pose-only
            samples).
        noise (JointNoise): The new noise model.
        seed (int): Base seed.
        stream (str): One of :data:`NOISE_STREAMS` (the set's role).

    Raises:
        ValueError: an unknown ``stream``, or not a synthetic set held in
            memory (a real dataset draws its estimates itself: pass its
            ``joint_noise``).
    """
    import numpy as np
    import torch

    from bigraph_pyg.data import SyntheticPoses, draw_estimates

    if stream not in NOISE_STREAMS:
        raise ValueError(
            f"Expected stream in {sorted(NOISE_STREAMS)} (got {stream!r})"
        )
    if isinstance(dataset, SyntheticPoses):
        store = dataset.arrays
        # Its batches redraw from the config's model (batch(redraw=...)):
        # the same noise as the draw replaced here, not the generator's.
        dataset.config = dataclasses.replace(dataset.config, joint_noise=noise)
    elif (
        isinstance(dataset, CachedDataset)
        and dataset.source_name == "SyntheticHumans"
    ):
        store = dataset.data
    else:
        name = getattr(dataset, "source_name", type(dataset).__name__)
        raise ValueError(
            "Expected a CachedDataset of SyntheticHumans or a SyntheticPoses "
            f"(got {name}); a real set draws its estimates with its own "
            "joint_noise"
        )

    def as_numpy(x):
        return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)

    vis = store.get("joints_2d_visible")
    est, est_vis = draw_estimates(
        noise,
        as_numpy(store["joints_2d"]),
        seed,
        NOISE_STREAMS[stream],
        None if vis is None else as_numpy(vis),
    )
    for key, new in (
        ("joints_2d_est", est),
        ("joints_2d_est_visible", est_vis),
    ):
        old = store[key]
        store[key] = (
            torch.from_numpy(new).to(old.dtype)
            if isinstance(old, torch.Tensor)
            else new.astype(old.dtype)
        )


def apply_joint_noise(
    joint_noise: str,
    sets: Mapping,
    seed: int,
    root: str | os.PathLike | None = None,
    progress: bool = False,
) -> dict:
    """The estimated 2D joints of a run's synthetic sets, by name.

    ``"cache"`` leaves the sets as generated; ``"mediapipe"`` redraws each
    with :meth:`JointNoise.mediapipe()
    <bigraph_pyg.data.JointNoise.mediapipe>` (:func:`redraw_joint_noise`);
    ``"detector"`` does the same, then gives every render's sample the
    demo detector's own joints
    (:func:`~bigraph_pyg.apps.detector_joints.detect_split`, kept in the
    split's folder): samples without a render (the pose-only ``lift``
    set) or where no person was found keep the fitted noise's draw.

    Args:
        joint_noise (str): One of :data:`JOINT_NOISES`.
        sets (Mapping): Role (a key of :data:`NOISE_STREAMS`) to set;
            :obj:`None` entries are skipped.
        seed (int): Base seed (the run's).
        root (str or PathLike, optional): The synthetic cache the
            ``train`` / ``val`` / ``test`` sets were built from (their
            renders are ``root/<role>/images``); needed for
            ``"detector"``.
        progress (bool): tqdm bar while detecting. (default: :obj:`False`)

    Returns:
        dict: for ``"detector"``, role to the :math:`(N,)` bool mask of
        the samples given detected joints; else empty.

    Raises:
        ValueError: an unknown ``joint_noise``, or ``"detector"`` without
            ``root``; see :func:`redraw_joint_noise`.
        ImportError: ``"detector"`` without the ``detect`` extra.
    """
    if joint_noise not in JOINT_NOISES:
        raise ValueError(
            f"Expected joint_noise in {JOINT_NOISES} (got {joint_noise!r})"
        )
    if joint_noise == "cache":
        return {}
    if joint_noise == "detector" and root is None:
        raise ValueError(
            "Expected root (the synthetic cache folder) with joint_noise "
            "'detector' (got None): the detector runs on its renders"
        )
    from bigraph_pyg.data import JointNoise

    noise = JointNoise.mediapipe()
    found = {}
    for role, dataset in sets.items():
        if dataset is None:
            continue
        redraw_joint_noise(dataset, noise, seed, role)
        if joint_noise == "detector" and isinstance(dataset, CachedDataset):
            from bigraph_pyg.apps.detector_joints import (
                detect_split,
                use_detections,
            )

            det = detect_split(Path(root) / role, len(dataset), None, progress)
            found[role] = use_detections(dataset, det)
    return found
