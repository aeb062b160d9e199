r"""GraphCMR-format datasets (paper Sec. 5.1): crops, augmentation, keys.

:class:`GraphCMRDataset` reads one GraphCMR ``.npz`` (the format and its
checks are in :mod:`bigraph_pyg.data.graphcmr_npz`) and returns samples
with the keys of :data:`~bigraph_pyg.data.keys.SAMPLE_KEYS`; the
constructors :func:`h36m`, :func:`up3d`, :func:`lsp`, :func:`coco` and
:func:`mpii` know each dataset's file names (:data:`DATASET_FILES`) and
which ground truth it has.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from bigraph_pyg.data.augment import (
    PART_FLIP,
    AugmentConfig,
    AugmentParams,
    EpochSeeded,
    crop_matrix,
    sample_augment,
    transform_points_2d,
    transform_pose,
    warp_image,
)
from bigraph_pyg.data.graphcmr_npz import load_graphcmr_npz
from bigraph_pyg.data.keys import IMAGE_SIZE, empty_sample, normalize_image
from bigraph_pyg.data.noise import JointNoise
from bigraph_pyg.topology import FLIP_PERM, JOINT_NAMES
from bigraph_pyg.utils.io import resolve_inside

__all__ = [
    "DATASET_FILES",
    "GraphCMRDataset",
    "coco",
    "h36m",
    "lsp",
    "mpii",
    "up3d",
]

log = logging.getLogger(__name__)

#: GraphCMR's file names by dataset and split (``datasets/`` of its
#: ``config.py``); the npz files ship with GraphCMR's data release.
DATASET_FILES: dict[str, dict[str, str]] = {
    "h36m": {
        "train": "h36m_train.npz",
        "test_p1": "h36m_valid_protocol1.npz",
        "test_p2": "h36m_valid_protocol2.npz",
    },
    "up3d": {"train": "up_3d_trainval.npz", "test": "up_3d_lsp_test.npz"},
    "lsp": {
        "train": "lsp_dataset_original_train.npz",
        "test": "lsp_dataset_test.npz",
    },
    "coco": {"train": "coco_2014_train.npz"},
    "mpii": {"train": "mpii_train.npz"},
}

_NUM = len(JOINT_NAMES)


class GraphCMRDataset(EpochSeeded, Dataset):
    r"""One GraphCMR-format dataset: crops, augmentation, common keys.

    Args:
        npz_path (str or PathLike): The ``.npz`` file.
        img_dir (str or PathLike): Folder ``imgname`` is relative to.
        name (str): Dataset name, stored in every sample's ``dataset``.
        train (bool): Apply augmentation (GraphCMR's
            ``is_train``). (default: :obj:`True`)
        augment (AugmentConfig, optional): Ranges. (default: GraphCMR's)
        joint_noise (JointNoise, optional): Model of ``joints_2d_est``.
        body (BodyModel, optional): If given, ``vertices`` and
            ``coarse_vertices`` are computed from ``(pose, shape)`` where
            ``has_smpl`` (else zeros, ``has_vertices`` false; GraphCMR
            computes them in the training step). ``coarse_down`` must then
            be given too for ``coarse_vertices``.
        coarse_down (Tensor, optional): Sparse :math:`\\mathbf{D}_0`
            ``(1723, 6890)``.
        skip_unreadable (bool): A missing or corrupt image is logged,
            counted (:attr:`num_skipped`, per process) and replaced by the
            next sample instead of raising. (default: :obj:`False`)
        allow_pickle (bool): Let ``np.load`` read object arrays (only for
            files you trust). (default: :obj:`False`)
        seed (int): Seed of the augmentation and the 2D-detection noise
            (see :class:`~bigraph_pyg.data.augment.EpochSeeded`).
            (default: ``0``)

    Raises:
        FileNotFoundError: ``npz_path`` or ``img_dir`` missing.
        ValueError: a truncated or corrupted file, missing keys, wrong
            shapes, non-finite or non-positive boxes, NaN keypoints,
            object arrays without ``allow_pickle``, or an ``imgname``
            (``maskname``, ``partname``) that is absolute or escapes
            ``img_dir`` with ``..`` (each message names the file and key).
    """

    def __init__(
        self,
        npz_path: str | os.PathLike,
        img_dir: str | os.PathLike,
        name: str,
        train: bool = True,
        augment: AugmentConfig | None = None,
        joint_noise: JointNoise | None = None,
        body=None,
        coarse_down: torch.Tensor | None = None,
        skip_unreadable: bool = False,
        allow_pickle: bool = False,
        seed: int = 0,
    ):
        self.seed = int(seed)
        self.npz_path = Path(npz_path)
        self.img_dir = Path(img_dir)
        self.name = str(name)
        self.train = bool(train)
        self.augment = augment or AugmentConfig()
        self.joint_noise = joint_noise or JointNoise()
        self.body = body
        self.coarse_down = coarse_down
        self.skip_unreadable = bool(skip_unreadable)
        self.num_skipped = 0
        if not self.img_dir.is_dir():
            raise FileNotFoundError(
                f"Expected an image folder {self.img_dir} for {self.npz_path}"
                " (got "
                + ("a file" if self.img_dir.exists() else "no such folder")
                + ")"
            )
        self.data = load_graphcmr_npz(self.npz_path, self.img_dir, allow_pickle)

    def __len__(self) -> int:
        return len(self.data["imgname"])

    def _read_image(self, key: str, index: int, gray: bool = False):
        """Read an image of sample ``index``, as the demo reads photos.

        RGB: EXIF orientation applied (as GraphCMR's ``cv2.imread`` does),
        16-bit scaled rather than clipped, a size cap. Masks and part maps:
        as stored, one channel.
        """
        from PIL import Image, UnidentifiedImageError

        from bigraph_pyg.utils.images import load_image

        path = resolve_inside(
            self.img_dir,
            self.data[key][index],
            f"'{key}'[{index}] of {self.npz_path}",
        )
        where = f"(sample {index} of {self.npz_path})"
        if not path.is_file():
            got = "a folder" if path.is_dir() else "no such file"
            raise FileNotFoundError(
                f"Expected the image {path} {where} (got {got})"
            )
        if not gray:
            try:
                return load_image(path), path
            except ValueError as err:  # unreadable: skip_unreadable's case
                raise OSError(f"{err} {where}") from err
        try:
            with Image.open(path) as im:
                return np.asarray(im.convert("L")), path
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise OSError(
                f"Expected a readable image {path} {where} "
                f"(got {type(err).__name__}: {err})"
            ) from err

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(
                f"Expected an index in [0, {len(self)}) (got {index})"
            )
        if not self.skip_unreadable:
            return self._sample(index)
        for k in range(len(self)):
            i = (index + k) % len(self)
            try:
                return self._sample(i)
            except OSError as err:  # includes FileNotFoundError
                self.num_skipped += 1
                log.warning(
                    "%s: skipped unreadable sample %d (%d skipped "
                    "so far in this process): %s",
                    self.name,
                    i,
                    self.num_skipped,
                    err,
                )
        raise OSError(
            f"Expected a readable image in {self.npz_path} (got none)"
        )

    def _sample(self, index: int) -> dict:
        d = self.data
        size = IMAGE_SIZE
        rng = self.sample_rng(index)
        params = (
            sample_augment(rng, self.augment) if self.train else AugmentParams()
        )
        rgb, path = self._read_image("imgname", index)
        center = d["center"][index].astype(np.float64)
        box = 200.0 * float(d["scale"][index]) * params.scale
        h, w = rgb.shape[:2]
        if (
            center[0] + box / 2 < 0
            or center[0] - box / 2 > w
            or center[1] + box / 2 < 0
            or center[1] - box / 2 > h
        ):
            raise ValueError(
                f"Expected the box (center {center.tolist()}, side "
                f"{box:.1f}) to overlap the image {path} of size {w}x{h} "
                f"(sample {index} of {self.npz_path})"
            )
        A = crop_matrix(center, box, size, params.rot, params.flip)
        img = warp_image(rgb, A, size).astype(np.float32)
        img = np.clip(img * np.asarray(params.gain, np.float32), 0, 255)
        s = empty_sample(self.name, index)
        s["img"] = normalize_image(img.astype(np.uint8))
        perm = list(FLIP_PERM) if params.flip else list(range(_NUM))
        part = d["part"][index, :_NUM].astype(np.float64)
        j2d = transform_points_2d(part[:, :2], A)[perm]
        vis = (part[:, 2] > 0).astype(np.float32)[perm]
        s["joints_2d"] = torch.from_numpy(j2d.astype(np.float32))
        s["joints_2d_visible"] = torch.from_numpy(vis)
        s["has_joints_2d"] = torch.tensor(bool(vis.any()))
        if vis.any():
            est, est_vis = self.joint_noise.apply(j2d, rng, vis)
        else:
            est, est_vis = j2d.astype(np.float32), vis
        s["joints_2d_est"] = torch.from_numpy(est)
        s["joints_2d_est_visible"] = torch.from_numpy(est_vis)
        M = params.matrix_3d()
        if "S" in d:
            S = d["S"][index, :_NUM].astype(np.float64)
            s["joints_3d"] = torch.from_numpy(
                (S[:, :3] @ M.T)[perm].astype(np.float32)
            )
            conf = (S[:, 3] > 0).astype(np.float32)[perm]
            s["joints_3d_visible"] = torch.from_numpy(conf)
            s["has_pose_3d"] = torch.tensor(bool(conf.any()))
        if "pose" in d and d["has_smpl"][index] > 0:
            pose = transform_pose(d["pose"][index], params)
            s["pose"] = torch.from_numpy(pose)
            s["betas"] = torch.from_numpy(d["shape"][index].astype(np.float32))
            s["has_smpl"] = torch.tensor(True)
            if self.body is not None:
                with torch.no_grad():
                    p = s["pose"][None]
                    v = self.body(
                        betas=s["betas"][None],
                        body_pose=p[:, 3:],
                        global_orient=p[:, :3],
                    ).vertices[0]
                s["vertices"] = v
                if self.coarse_down is not None:
                    s["coarse_vertices"] = torch.sparse.mm(self.coarse_down, v)
                s["has_vertices"] = torch.tensor(True)
        if "maskname" in d:
            mask, _ = self._read_image("maskname", index, gray=True)
            mask = warp_image((mask > 0).astype(np.uint8), A, size, True)
            s["mask"] = torch.from_numpy(mask)
            if "partname" in d:
                part_img, _ = self._read_image("partname", index, gray=True)
                labels = warp_image(part_img, A, size, nearest=True)
                if params.flip:
                    lut = np.arange(256, dtype=np.uint8)
                    lut[: len(PART_FLIP)] = PART_FLIP
                    labels = lut[labels]
                s["part_seg"] = torch.from_numpy(labels)
            s["has_seg"] = torch.tensor(True)
        return s


def _make(dataset: str, root, img_dir, split: str, **kwargs):
    files = DATASET_FILES[dataset]
    if split not in files:
        raise ValueError(
            f"Expected a {dataset} split in {sorted(files)} (got {split!r})"
        )
    if not Path(root).is_dir():
        got = "a file" if Path(root).exists() else "no such folder"
        raise FileNotFoundError(
            f"Expected the folder of GraphCMR's {dataset} npz files as root "
            f"(got {got} at {root})"
        )
    kwargs.setdefault("train", split == "train")
    return GraphCMRDataset(
        Path(root) / files[split], img_dir, dataset, **kwargs
    )


def h36m(root, img_dir, split: str = "train", **kwargs) -> GraphCMRDataset:
    """Human3.6M (2D, 3D joints, SMPL from MoSh). See :class:`GraphCMRDataset`.

    Args:
        root: Folder of GraphCMR's npz files.
        img_dir: Folder of the extracted frames.
        split (str): ``'train'`` (S1, 5, 6, 7, 8), ``'test_p1'``,
            ``'test_p2'`` (S9, 11).
        **kwargs: Passed to :class:`GraphCMRDataset`.

    Returns:
        GraphCMRDataset: The split, named ``'h36m'``; ``train`` defaults to
        ``split == 'train'``.
    """
    return _make("h36m", root, img_dir, split, **kwargs)


def up3d(root, img_dir, split: str = "train", **kwargs) -> GraphCMRDataset:
    """UP-3D (2D joints, SMPL fits). See :func:`h36m` for the arguments.

    Args:
        root: Folder of GraphCMR's npz files.
        img_dir: Folder of the extracted frames.
        split (str): ``'train'`` (trainval) or ``'test'`` (LSP test).
        **kwargs: Passed to :class:`GraphCMRDataset`.

    Returns:
        GraphCMRDataset: The split, named ``'up3d'``; ``train`` defaults to
        ``split == 'train'``.
    """
    return _make("up3d", root, img_dir, split, **kwargs)


def lsp(root, img_dir, split: str = "train", **kwargs) -> GraphCMRDataset:
    """LSP (2D joints; test: masks, parts). See :func:`h36m`.

    Args:
        root: Folder of GraphCMR's npz files.
        img_dir: Folder of the extracted frames.
        split (str): ``'train'`` or ``'test'``.
        **kwargs: Passed to :class:`GraphCMRDataset`.

    Returns:
        GraphCMRDataset: The split, named ``'lsp'``; ``train`` defaults to
        ``split == 'train'``.
    """
    return _make("lsp", root, img_dir, split, **kwargs)


def coco(root, img_dir, split: str = "train", **kwargs) -> GraphCMRDataset:
    """COCO 2014 (2D joints). See :func:`h36m`.

    Args:
        root: Folder of GraphCMR's npz files.
        img_dir: Folder of the extracted frames.
        split (str): ``'train'`` (the only split).
        **kwargs: Passed to :class:`GraphCMRDataset`.

    Returns:
        GraphCMRDataset: The split, named ``'coco'``; ``train`` defaults to
        ``split == 'train'``.
    """
    return _make("coco", root, img_dir, split, **kwargs)


def mpii(root, img_dir, split: str = "train", **kwargs) -> GraphCMRDataset:
    """MPII (2D joints). See :func:`h36m`.

    Args:
        root: Folder of GraphCMR's npz files.
        img_dir: Folder of the extracted frames.
        split (str): ``'train'`` (the only split).
        **kwargs: Passed to :class:`GraphCMRDataset`.

    Returns:
        GraphCMRDataset: The split, named ``'mpii'``; ``train`` defaults to
        ``split == 'train'``.
    """
    return _make("mpii", root, img_dir, split, **kwargs)
