r"""The synthetic cache on disk: write it (in workers), check it, read it.

:func:`generate_synthetic` renders the samples of one split with
:class:`~bigraph_pyg.data.generator.SampleGenerator` (in ``spawn`` worker
processes, see :mod:`bigraph_pyg.data.workers`) and writes::

    root/<split>/meta.json            format version + every parameter
    root/<split>/shard_00000.npz      arrays of samples [0, shard_size)
    root/<split>/images/0000000.jpg   RGB crop
    root/<split>/parts/0000000.png    part labels (render.PART_NAMES)

Each shard is written atomically (a temporary file, then a rename), and
``meta.json`` says ``complete`` only once every shard is there, so an
interrupted generation (a crash, a killed worker) resumes where it
stopped. Every file is read through :mod:`bigraph_pyg.utils.io`: a damaged
shard or ``meta.json`` fails with its name and the remedy.
:class:`~bigraph_pyg.data.SyntheticHumans` is the dataset over the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from bigraph_pyg.data import generator as _gen
from bigraph_pyg.data import workers
from bigraph_pyg.data.scene import PHOTO_NAMES
from bigraph_pyg.data.synthetic_config import (
    ARRAY_KEYS,
    SyntheticConfig,
    check_split,
)
from bigraph_pyg.utils._checks import (
    check_non_negative_int,
    check_positive_int,
)
from bigraph_pyg.utils.io import load_json, load_npz

__all__ = [
    "FORMAT_VERSION",
    "MAX_SAMPLES",
    "generate_synthetic",
    "read_shard",
]

#: 3: the pose world (issue #24) and ``joints_2d_visible`` (partial
#: framings); 2: the 12 joints are the joint regressor on the posed mesh (1:
#: the skinned joint centres); appearance drawn from its own stream.
FORMAT_VERSION = 3
#: The most samples a split may have: the image names have seven digits
#: (about 1.5 TB of 224-pixel images). A larger ``num_samples`` is refused
#: before anything is allocated (it only ran the machine out of memory).
MAX_SAMPLES = 10_000_000


def _body_digest() -> str:
    from bigraph_pyg.body import default_body_path

    return hashlib.sha1(default_body_path().read_bytes()).hexdigest()[:16]


def _meta(
    config: SyntheticConfig, split: str, seed: int, num_samples: int
) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "generator": "bigraph_pyg.data.synthetic",
        "split": split,
        "seed": int(seed),
        "num_samples": int(num_samples),
        "config": config.to_json(),
        "photos": list(PHOTO_NAMES),
        "body": _body_digest(),
    }


def _image_path(folder: Path, index: int) -> Path:
    return folder / "images" / f"{index:07d}.jpg"


def _part_path(folder: Path, index: int) -> Path:
    return folder / "parts" / f"{index:07d}.png"


def _shard_path(folder: Path, shard: int) -> Path:
    return folder / f"shard_{shard:05d}.npz"


def _write_shard(folder: Path, shard: int, data: dict, quality: int) -> None:
    from PIL import Image

    for i, img, part in zip(
        data["arrays"]["index"], data["images"], data["parts"], strict=True
    ):
        Image.fromarray(img).save(_image_path(folder, int(i)), quality=quality)
        Image.fromarray(part).save(_part_path(folder, int(i)))
    tmp = folder / f".shard_{shard:05d}.tmp.npz"
    np.savez(tmp, **data["arrays"])
    os.replace(tmp, _shard_path(folder, shard))


def read_shard(folder: Path, shard: int, size: int, num_samples: int) -> dict:
    """Load one shard, checking its keys and sample indices.

    Args:
        folder (Path): The split folder ``root/<split>``.
        shard (int): Shard number.
        size (int): ``shard_size`` of the cache.
        num_samples (int): Samples in the split.

    Returns:
        dict: the shard's arrays (:data:`ARRAY_KEYS` and ``index``).

    Raises:
        FileNotFoundError: the shard is missing.
        ValueError: truncated or corrupted, keys missing, or not the
            expected samples (each message names the file and the fix).
    """
    path = _shard_path(folder, shard)
    arrays = load_npz(
        path,
        "a synthetic shard",
        required=("index", *ARRAY_KEYS),
        hint=f"delete {folder} to regenerate the cache",
    )
    expected = np.arange(shard * size, min(num_samples, (shard + 1) * size))
    index = arrays["index"]
    if index.shape != expected.shape or not (index == expected).all():
        raise ValueError(
            f"Expected 'index' = samples [{expected[0]}, {expected[-1]}] "
            f"in the synthetic shard {path} (got {index.tolist()[:8]}...); "
            f"delete {folder} to regenerate the cache"
        )
    bad = [k for k in ARRAY_KEYS if arrays[k].shape[:1] != index.shape]
    if bad:
        raise ValueError(
            f"Expected {len(index)} samples in every array of the synthetic "
            f"shard {path} (got other lengths in {bad}); delete {folder} "
            "to regenerate the cache"
        )
    return arrays


def _run_shard(job: tuple) -> int:
    folder, seed, split, shard, indices = job
    data = _gen._WORKER.shard(seed, split, indices)
    _write_shard(Path(folder), shard, data, _gen._WORKER.config.jpeg_quality)
    return len(indices)


def _shard_names(jobs: list) -> str:
    return ", ".join(
        f"{_shard_path(Path(j[0]), j[3]).name} (samples {j[4][0]}-{j[4][-1]})"
        for j in jobs
    )


def _render(
    folder: Path, jobs: list, config: SyntheticConfig, num_workers: int, bar
) -> None:
    """Render and write ``jobs`` (in ``num_workers`` processes, or here).

    Raises:
        RuntimeError: a shard failed, or a worker process died; the message
            names the shard(s) not written and says that the shards
            already written are kept (the next call resumes).
    """
    total = len(list(folder.glob("shard_*.npz"))) + len(jobs)

    def kept() -> str:
        written = len(list(folder.glob("shard_*.npz")))
        return (
            f"{written} of {total} shards are written in {folder} and "
            "kept: call again to resume"
        )

    if num_workers == 0:
        results = _in_process(jobs, config)
    else:
        results = workers.imap_jobs(
            _run_shard, jobs, num_workers, _gen._init_worker, (config,)
        )
    try:
        for _job, done in results:
            if bar is not None:
                bar.update(done)
    except workers.WorkerDied as err:
        raise RuntimeError(
            "Expected every synthetic-generation worker process to finish "
            "(got a worker that ended without a result: killed by the "
            "system (out of memory?), crashed (in the EGL renderer?) or "
            f'failed while starting; "{err.reason.rstrip(".")}"). Not '
            f"written: {_shard_names(err.pending)}. {kept()}. If this "
            f"call is at the top level of a script, {workers.GUARD_HINT}"
        ) from err
    except workers.JobFailed as err:
        raise RuntimeError(
            f"Expected {_shard_names([err.job])} of {folder} to render (got "
            f"{type(err.__cause__).__name__}: {err.__cause__}); {kept()}"
        ) from err.__cause__


def _in_process(jobs: list, config: SyntheticConfig):
    """:func:`workers.imap_jobs` without processes."""
    if jobs:
        _gen._init_worker(config)
    for job in jobs:
        try:
            done = _run_shard(job)
        except Exception as err:
            raise workers.JobFailed(job) from err
        yield job, done


def _check_meta(folder: Path, expected: dict) -> dict:
    """Read ``meta.json`` and check it against ``expected``; return it."""
    path = folder / "meta.json"
    found = load_json(
        path,
        "a synthetic cache's meta.json",
        hint=f"delete {folder} to regenerate the cache",
    )
    if found.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"Expected a synthetic cache of format version {FORMAT_VERSION} "
            f"in {path} (got {found.get('format_version')!r}, written by "
            f"another version of bigraph_pyg); delete {folder} to "
            "regenerate it, or pass another root"
        )
    diff = sorted(
        k
        for k in (set(expected) | set(found)) - {"complete"}
        if expected.get(k) != found.get(k)
    )
    if diff:
        detail = {k: (found.get(k), expected.get(k)) for k in diff}
        raise ValueError(
            f"Expected the cache {path} to match the requested generation "
            f"parameters (got differences (cached, requested): {detail}); "
            f"delete {folder} to regenerate it, or pass another root"
        )
    return found


def generate_synthetic(
    root: str | os.PathLike,
    split: str = "train",
    num_samples: int = 1024,
    seed: int = 0,
    config: SyntheticConfig | None = None,
    num_workers: int = 2,
    progress: bool = True,
) -> Path:
    """Write (or complete) the cache of one split; reuse it if present.

    Args:
        root (str or PathLike): Cache root; the split goes to
            ``root/<split>``.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        num_samples (int): Number of samples.
        seed (int): Base seed. (default: ``0``)
        config (SyntheticConfig, optional): Parameters.
        num_workers (int): Worker processes (``spawn``); ``0`` renders in
            this process. Called from a script's top level without an
            ``if __name__ == '__main__':`` guard, rendering falls back to
            this process with a warning (workers would re-run the
            script). (default: ``2``)
        progress (bool): Show a tqdm progress bar. (default: :obj:`True`)

    Returns:
        Path: the split folder.

    Raises:
        ValueError: a cache written with other parameters or by another
            version (the message names ``meta.json`` and the
            differences), or a ``meta.json`` that is not JSON.
        RuntimeError: a shard failed to render, or a worker process died
            (killed, out of memory, crashed): the message names the
            shards not written; those already written are kept, and the
            next call resumes from them.
    """
    check_split(split)
    _check_arguments(num_samples, num_workers)
    config = config or SyntheticConfig()
    folder = Path(root) / split
    expected = _meta(config, split, seed, num_samples)
    if _is_complete(folder, expected):
        return folder
    workers.check_not_bootstrapping()  # before anything is written
    for sub in ("images", "parts"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    meta_path = folder / "meta.json"
    meta_path.write_text(json.dumps({**expected, "complete": False}, indent=1))
    jobs = _missing_shards(folder, seed, split, num_samples, config.shard_size)
    if num_workers > 0 and jobs:
        num_workers = _workers_if_safe(split, num_workers)
    bar = _progress_bar(jobs, split) if progress else None
    try:
        _render(folder, jobs, config, num_workers, bar)
    finally:
        if bar is not None:
            bar.close()
    meta_path.write_text(json.dumps({**expected, "complete": True}, indent=1))
    return folder


def _check_arguments(num_samples: int, num_workers: int) -> None:
    """Raise :class:`ValueError` unless both counts are valid."""
    check_positive_int("num_samples", num_samples)
    if num_samples > MAX_SAMPLES:
        raise ValueError(
            f"Expected `num_samples` <= {MAX_SAMPLES:_} (got {num_samples:_}"
            "): the cache names its images with seven digits"
        )
    check_non_negative_int("num_workers", num_workers)


def _is_complete(folder: Path, expected: dict) -> bool:
    """Whether ``folder`` holds the complete cache ``expected`` describes.

    Raises:
        ValueError: a cache written with other parameters (see
            :func:`_check_meta`), or files but no ``meta.json``.
    """
    if (folder / "meta.json").exists():
        return _check_meta(folder, expected).get("complete") is True
    if folder.exists() and any(folder.iterdir()):
        raise ValueError(
            f"Expected an empty folder or a synthetic cache at {folder} "
            f"(got files but no meta.json); delete it or pass another root"
        )
    return False


def _missing_shards(
    folder: Path, seed: int, split: str, num_samples: int, size: int
) -> list:
    """The jobs ``(folder, seed, split, shard, indices)`` not yet written."""
    jobs = []
    for shard in range((num_samples + size - 1) // size):
        if not _shard_path(folder, shard).exists():
            idx = list(
                range(shard * size, min(num_samples, (shard + 1) * size))
            )
            jobs.append((str(folder), seed, split, shard, idx))
    return jobs


def _workers_if_safe(split: str, num_workers: int) -> int:
    """``num_workers``, or 0 with a warning where ``spawn`` is unsafe.

    A script that called :func:`generate_synthetic` from its top level,
    outside an ``if __name__ == '__main__':`` block, would be run again
    by every worker process.
    """
    safe, where = workers.spawn_is_safe()
    if safe:
        return num_workers
    warnings.warn(
        f"Rendering the synthetic {split} split in this process "
        f"(num_workers=0 instead of {num_workers}): it was started "
        f"from the top level of {where}, outside an `if __name__ == "
        "'__main__':` block, and every worker process would run "
        f"that script again. To render with workers, "
        f"{workers.GUARD_FIX}",
        stacklevel=3,  # generate_synthetic's caller
    )
    return 0


def _progress_bar(jobs: list, split: str):
    """A tqdm bar over the images of ``jobs``."""
    from tqdm.auto import tqdm

    return tqdm(
        total=sum(len(j[4]) for j in jobs),
        unit="img",
        desc=f"synthetic {split}",
    )
