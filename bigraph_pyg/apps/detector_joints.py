r"""The demo detector's own 2D joints on a synthetic cache's renders.

The demo feeds the skeleton branch MediaPipe Pose's joints
(:func:`~bigraph_pyg.apps.detection.detect_people`).
:meth:`JointNoise.mediapipe() <bigraph_pyg.data.JointNoise.mediapipe>`
is a noise model fitted to those errors; this module gives the errors
themselves, so a run can train and be scored on exactly the detector's
output (``--joint-noise detector`` of the scripts). The paper trains the
skeleton branch on a detector's output too (HRNet detections, Sec. 4.3.2);
HRNet's weights are not available offline, and MediaPipe is the detector
whose errors the demo meets, so it stands in:

* :func:`detect_split` runs the demo's detection (the first person of
  :func:`~bigraph_pyg.apps.detection.detect_people`: the most complete
  and nearest, :func:`~bigraph_pyg.apps.detection.person_score`) on
  every render of a cache split, once, and keeps the result next to the
  renders (``<split>/mediapipe_joints.npz``, written atomically);
* :func:`use_detections` writes them into the split's in-memory copy
  (:class:`~bigraph_pyg.engine.batching.CachedDataset`) as its estimated
  joints: scaled to the model's input, a joint MediaPipe is not confident
  of (visibility :math:`\le` ``threshold``, the demo's rule) flagged
  invisible and put at the confident joints' mean, as
  :class:`~bigraph_pyg.data.JointNoise` does with a miss.

Renders where MediaPipe finds no person keep their estimates (the caller
decides: the trainer keeps them, the evaluation leaves those samples out,
as the demo would refuse the photo).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bigraph_pyg.topology import JOINT_NAMES

__all__ = ["DETECTIONS_FILE", "detect_split", "use_detections"]

#: The file :func:`detect_split` keeps in a split's folder.
DETECTIONS_FILE = "mediapipe_joints.npz"
#: The arrays :func:`detect_split` returns.
_KEYS = ("joints", "confidence", "person", "image_size")


def _mediapipe_tag() -> str:
    """The detector's name and version; ImportError naming the extra."""
    from bigraph_pyg.apps.detection import _mediapipe

    _mediapipe()  # imports mediapipe, or names the extra to install
    import mediapipe

    return f"mediapipe {mediapipe.__version__}, largest person"


def detect_split(
    folder: str | os.PathLike,
    num_samples: int,
    detect: Callable | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """The detector's joints on the first ``num_samples`` renders of a split.

    Args:
        folder (str or PathLike): A split of a synthetic cache
            (``root/<split>``, with ``images/0000000.jpg`` ...).
        num_samples (int): Renders to detect on (the split's size).
        detect (Callable, optional): ``image -> list[Person]``, best
            first (the most complete and nearest:
            :func:`~bigraph_pyg.apps.detection.person_score`, the mean
            visibility of the 12 joints times the box height); :obj:`None`
            is the demo's MediaPipe detection, whose
            result is kept in ``folder/mediapipe_joints.npz`` and read
            back while its version and ``num_samples`` match.
        progress (bool): tqdm bar. (default: :obj:`True`)

    Returns:
        dict: ``joints`` :math:`(N, 12, 2)` float32 render pixels,
        ``confidence`` :math:`(N, 12)` float32, ``person`` :math:`(N,)`
        bool (a person was found), ``image_size`` ``(H, W)`` of the
        renders.

    Raises:
        ImportError: the ``detect`` extra is missing (named).
        FileNotFoundError: a render is missing (names it and the fix).
    """
    from PIL import Image
    from tqdm.auto import tqdm

    folder = Path(folder)
    n = int(num_samples)
    path = folder / DETECTIONS_FILE
    tag = None
    if detect is None:
        from bigraph_pyg.apps.detection import detect_people

        tag, detect = _mediapipe_tag(), detect_people
        if path.exists():
            with np.load(path) as f:
                kept = {k: f[k] for k in f.files}
            if str(kept.get("detector")) == tag and int(kept["num"]) == n:
                kept["person"] = kept["person"].astype(bool)
                return {k: kept[k] for k in _KEYS}
    joints = np.zeros((n, len(JOINT_NAMES), 2), np.float32)
    conf = np.zeros((n, len(JOINT_NAMES)), np.float32)
    person = np.zeros(n, bool)
    hw = None
    for i in tqdm(range(n), desc="detecting", disable=not progress):
        image_path = folder / "images" / f"{i:07d}.jpg"
        try:
            with Image.open(image_path) as im:
                img = np.asarray(im.convert("RGB"))
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"Expected the render {image_path} (got no such file); "
                f"delete {folder} to regenerate the cache"
            ) from err
        hw = img.shape[:2] if hw is None else hw
        people = detect(img)
        if people:
            joints[i] = people[0].joints
            conf[i] = people[0].confidence
            person[i] = True
    out = dict(
        joints=joints,
        confidence=conf,
        person=person,
        image_size=np.asarray(hw if hw is not None else (0, 0), np.int64),
    )
    if tag is not None:
        tmp = path.with_name(path.name + ".partial.npz")
        np.savez(tmp, detector=np.asarray(tag), num=np.asarray(n), **out)
        os.replace(tmp, path)
    return out


def use_detections(
    dataset,
    detections: dict[str, np.ndarray],
    threshold: float = 0.5,
) -> np.ndarray:
    """Write a split's detections into its in-memory copy, in place.

    Args:
        dataset (CachedDataset): The split at the model's input size, in
            render order (as :func:`~bigraph_pyg.apps.datasets.
            synthetic_splits` builds it).
        detections (dict): :func:`detect_split`'s result for that split.
        threshold (float): Confidence above which a joint counts as
            detected (the demo's). (default: ``0.5``)

    Returns:
        np.ndarray: :math:`(N,)` bool, the samples given the detector's
        joints (a person with a confident joint); the others are unchanged.

    Raises:
        ValueError: the detections are not of the dataset's size.
    """
    store = dataset.data
    n = store["joints_2d_est"].shape[0]
    joints = np.asarray(detections["joints"], np.float64)
    if joints.shape != (n, len(JOINT_NAMES), 2):
        raise ValueError(
            f"Expected detections of {n} samples, shape ({n}, "
            f"{len(JOINT_NAMES)}, 2) (got {joints.shape}); detect the "
            "split the dataset was built from"
        )
    h0, w0 = (int(s) for s in detections["image_size"])
    h, w = dataset.image_size
    ok = np.asarray(detections["confidence"]) > threshold
    ok &= np.asarray(detections["person"], bool)[:, None]
    used = ok.any(axis=1)
    est = joints * np.array([w / max(w0, 1), h / max(h0, 1)])
    mean = (est * ok[..., None]).sum(1) / np.maximum(ok.sum(1), 1)[:, None]
    est = np.where(ok[..., None], est, mean[:, None, :])
    idx = torch.from_numpy(np.flatnonzero(used))
    for key, new in (("joints_2d_est", est), ("joints_2d_est_visible", ok)):
        old = store[key]
        store[key][idx] = torch.from_numpy(new[used]).to(old.dtype)
    return used
