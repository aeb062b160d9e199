r"""Synthetic training data: the default body, posed, dressed and rendered.

Each sample is a 224² crop of the licence-free default body with random
shape (:math:`\beta \sim \mathcal{N}(0, 1)`, clipped), a pose from
:mod:`bigraph_pyg.data.poses` (standing, walking, sitting, arms raised,
bending; within per-joint anatomical limits), a random global rotation, random
clothing colours, light, camera distance and focal length, and a random
background (:mod:`bigraph_pyg.data.scene`), rendered headless by pyrender
(:mod:`bigraph_pyg.data.render`). The person is centred with a jittered box,
as real crops are.

Camera model: the pelvis is put at a depth :math:`Z \sim` log-uniform over
``depth_range`` (with a small off-axis shift); the focal length is then the
one that makes the person's projected box fill a random fraction
``fill_range`` of the crop, so near cameras get wide fields of view and far
ones narrow (:math:`f \approx 260` px at 2.5 m, :math:`\approx 850` px at
8 m for a 224² crop); the principal point centres the box, plus jitter.

Generation is deterministic from ``seed`` (each sample's randomness comes
from ``numpy.random.SeedSequence([seed, split, index])``, so splits are
disjoint streams and a sample does not depend on the number of workers),
runs in worker processes, and writes a cache folder once::

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

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from bigraph_pyg.data.augment import (
    PART_FLIP,
    AugmentConfig,
    AugmentParams,
    crop_matrix,
    sample_augment,
    transform_intrinsics,
    transform_points_2d,
    transform_pose,
    warp_image,
)
from bigraph_pyg.data.keys import empty_sample, normalize_image
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
from bigraph_pyg.topology import FLIP_PERM, SMPL_JOINT_NAMES, SMPL_TO_JOINTS

__all__ = [
    'FORMAT_VERSION',
    'SPLITS',
    'SyntheticConfig',
    'SyntheticHumans',
    'generate_synthetic',
    'render_samples',
]

#: Version of the cache layout; a cache of another version is refused.
FORMAT_VERSION = 1
#: Split names and the stream id mixed into every sample's seed.
SPLITS: dict[str, int] = {'train': 0, 'val': 1, 'test': 2}

_ARRAY_KEYS = (
    'betas', 'pose', 'transl', 'camera_K', 'camera_weak', 'joints_2d',
    'joints_3d', 'joints24_2d', 'joints24_3d', 'joints_2d_est',
    'joints_2d_est_visible', 'activity', 'background',
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
        default_factory=lambda: dict(ACTIVITY_WEIGHTS))
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
                'Expected image_size >= 16 and shard_size >= 1 (got '
                f'{self.image_size}, {self.shard_size})'
            )
        if set(self.activity_weights) - set(ACTIVITIES):
            raise ValueError(
                f'Expected activities among {sorted(ACTIVITIES)} (got '
                f'{sorted(self.activity_weights)})'
            )
        lo, hi = self.depth_range
        if not 0.5 <= lo <= hi:
            raise ValueError(
                f'Expected 0.5 <= depth_range[0] <= depth_range[1] (got '
                f'{self.depth_range})'
            )

    def to_json(self) -> dict:
        """Plain-JSON form (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))


def _body_digest() -> str:
    from bigraph_pyg.body import default_body_path

    return hashlib.sha1(default_body_path().read_bytes()).hexdigest()[:16]


def _meta(config: SyntheticConfig, split: str, seed: int,
          num_samples: int) -> dict:
    return {
        'format_version': FORMAT_VERSION,
        'generator': 'bigraph_pyg.data.synthetic',
        'split': split,
        'seed': int(seed),
        'num_samples': int(num_samples),
        'config': config.to_json(),
        'photos': list(PHOTO_NAMES),
        'body': _body_digest(),
    }


class _Generator:
    """Per-process state: body, renderer, photos (built once)."""

    def __init__(self, config: SyntheticConfig):
        from bigraph_pyg.body import default_body
        from bigraph_pyg.data.render import (
            BodyRenderer,
            face_incidence,
            vertex_part_labels,
        )

        torch.set_num_threads(1)
        self.config = config
        # float64, cast after: a sample's vertices do not depend on which
        # other samples share its batch (float32 batched matmuls would).
        self.body = default_body(dtype=torch.float64)
        self.faces = self.body.faces.numpy()
        weights = self.body.skinning_weights.detach().float().numpy()
        dominant = weights.argmax(axis=1)
        nv = weights.shape[0]
        self.regions = {}
        for name in ('top', 'bottom', 'shoes', 'skin', 'sleeve_upper',
                     'sleeve_lower', 'leg_lower', 'head'):
            joints = [SMPL_JOINT_NAMES.index(j)
                      for j, g in JOINT_GARMENT.items() if g == name]
            self.regions[name] = np.isin(dominant, joints)
        tv = self.body.template_vertices.float().numpy()
        head_y = self.body.template_joints()[
            SMPL_JOINT_NAMES.index('head')].detach().float().numpy()
        # Hair: the head's skin above the head joint + 4 cm, and the back.
        self.regions['hair'] = self.regions['head'] & (
            (tv[:, 1] > head_y[1] + 0.04)
            | ((tv[:, 1] > head_y[1] - 0.02) & (tv[:, 2] < head_y[2] - 0.03))
        )
        self.num_vertices = nv
        self.incidence = face_incidence(self.faces, nv)
        self.renderer = BodyRenderer(
            self.faces, vertex_part_labels(weights),
            config.image_size, config.image_size,
        )
        self.photos = load_photos(PHOTO_NAMES)

    def shard(self, seed: int, split: str, indices: list[int]) -> dict:
        """Render the samples ``indices``; returns arrays and images."""
        from bigraph_pyg.data.render import shade_vertices, vertex_normals

        cfg = self.config
        size = cfg.image_size
        rngs = [np.random.default_rng(
            np.random.SeedSequence([int(seed), SPLITS[split], int(i)]))
            for i in indices]
        n = len(indices)
        betas = np.empty((n, 10), np.float32)
        pose = np.empty((n, 72), np.float32)
        activity = np.empty(n, np.int64)
        names = sorted(ACTIVITIES)
        for k, rng in enumerate(rngs):
            b = rng.standard_normal(10) * cfg.beta_std
            betas[k] = np.clip(b, -cfg.beta_clip, cfg.beta_clip)
            body_pose, act = sample_body_pose(rng, cfg.activity_weights,
                                              cfg.pose_noise)
            pose[k, 3:] = body_pose
            pose[k, :3] = sample_global_orient(rng)
            activity[k] = names.index(act)
        with torch.no_grad():
            out = self.body(
                betas=torch.from_numpy(betas).double(),
                body_pose=torch.from_numpy(pose[:, 3:]).double(),
                global_orient=torch.from_numpy(pose[:, :3]).double())
        # Rounded through float32 (the precision of the cache).
        verts = out.vertices.float().double().numpy()
        joints = out.joints.float().double().numpy()
        res = {key: [] for key in _ARRAY_KEYS}
        res['images'], res['parts'] = [], []
        mid = (size - 1) / 2.0
        for k, rng in enumerate(rngs):
            lo, hi = np.log(cfg.depth_range)
            depth = float(np.exp(rng.uniform(lo, hi)))
            shift = rng.uniform(-cfg.off_axis, cfg.off_axis, 2) * depth
            transl = np.array([shift[0], shift[1], depth]) - joints[k, 0]
            v = verts[k] + transl
            j = joints[k] + transl
            uv = v[:, :2] / v[:, 2:]
            box_lo, box_hi = uv.min(axis=0), uv.max(axis=0)
            side = float((box_hi - box_lo).max())
            f = rng.uniform(*cfg.fill_range) * size / side
            c = mid - f * (box_lo + box_hi) / 2.0
            c = c + rng.standard_normal(2) * cfg.center_jitter * size
            K = np.array([[f, 0.0, c[0]], [0.0, f, c[1]], [0.0, 0.0, 1.0]])
            j2d = f * j[:, :2] / j[:, 2:] + c
            s = 2.0 * f / (size * j[0, 2])
            t = transl[:2] + (2.0 * c / size - 1.0) / s
            light = random_light(rng)
            albedo = garment_colors(rng, self.regions, self.num_vertices)
            lit = shade_vertices(albedo, vertex_normals(
                v, self.faces, self.incidence), **light)
            frame = self.renderer.render(v, K, lit)
            bg, kind = random_background(rng, size, self.photos,
                                         cfg.background_weights)
            alpha = frame.rgba[..., 3:].astype(np.float32) / 255.0
            img = frame.rgba[..., :3].astype(np.float32) + (
                1.0 - alpha) * bg.astype(np.float32)
            sigma = rng.uniform(0.0, cfg.pixel_noise)
            img += rng.standard_normal(img.shape, np.float32) * sigma
            est, est_vis = cfg.joint_noise.apply(j2d[list(SMPL_TO_JOINTS)],
                                                 rng)
            res['images'].append(np.clip(img + 0.5, 0, 255).astype(np.uint8))
            res['parts'].append(frame.part_seg)
            row = {
                'betas': betas[k], 'pose': pose[k], 'transl': transl,
                'camera_K': K, 'camera_weak': np.array([s, t[0], t[1]]),
                'joints_2d': j2d[list(SMPL_TO_JOINTS)],
                'joints_3d': j[list(SMPL_TO_JOINTS)],
                'joints24_2d': j2d, 'joints24_3d': j,
                'joints_2d_est': est, 'joints_2d_est_visible': est_vis,
                'activity': activity[k], 'background': kind,
            }
            for key in _ARRAY_KEYS:
                res[key].append(row[key])
        arrays = {key: np.stack(res[key]) for key in _ARRAY_KEYS}
        for key in _ARRAY_KEYS:
            if arrays[key].dtype == np.float64:
                arrays[key] = arrays[key].astype(np.float32)
        arrays['index'] = np.asarray(indices, np.int64)
        return {'arrays': arrays, 'images': res['images'],
                'parts': res['parts']}


_WORKER: _Generator | None = None


def _image_path(folder: Path, index: int) -> Path:
    return folder / 'images' / f'{index:07d}.jpg'


def _part_path(folder: Path, index: int) -> Path:
    return folder / 'parts' / f'{index:07d}.png'


def _shard_path(folder: Path, shard: int) -> Path:
    return folder / f'shard_{shard:05d}.npz'


def _write_shard(folder: Path, shard: int, data: dict, quality: int) -> None:
    from PIL import Image

    for i, img, part in zip(data['arrays']['index'], data['images'],
                            data['parts'], strict=True):
        Image.fromarray(img).save(_image_path(folder, int(i)),
                                  quality=quality)
        Image.fromarray(part).save(_part_path(folder, int(i)))
    tmp = folder / f'.shard_{shard:05d}.tmp.npz'
    np.savez(tmp, **data['arrays'])
    os.replace(tmp, _shard_path(folder, shard))


def _init_worker(config: SyntheticConfig) -> None:
    global _WORKER
    os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')
    _WORKER = _Generator(config)


def _run_shard(job: tuple) -> int:
    folder, seed, split, shard, indices = job
    data = _WORKER.shard(seed, split, indices)
    _write_shard(Path(folder), shard, data, _WORKER.config.jpeg_quality)
    return len(indices)


def render_samples(
    indices: list[int],
    seed: int = 0,
    split: str = 'train',
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
    _check_split(split)
    global _WORKER
    config = config or SyntheticConfig()
    if _WORKER is None or _WORKER.config != config:
        _init_worker(config)
    return _WORKER.shard(seed, split, list(indices))


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(
            f'Expected split in {sorted(SPLITS)} (got {split!r})')


def _check_meta(folder: Path, expected: dict) -> None:
    path = folder / 'meta.json'
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(
            f'Expected a readable JSON file {path} (got {type(err).__name__}'
            f': {err}); delete {folder} to regenerate it'
        ) from err
    if found.get('format_version') != FORMAT_VERSION:
        raise ValueError(
            f'Expected a synthetic cache of format version {FORMAT_VERSION} '
            f'in {path} (got {found.get("format_version")!r}, written by '
            f'another version of bigraph_pyg); delete {folder} to '
            'regenerate it, or pass another root'
        )
    found = {k: v for k, v in found.items() if k != 'complete'}
    diff = sorted(k for k in set(expected) | set(found)
                  if expected.get(k) != found.get(k))
    if diff:
        detail = {k: (found.get(k), expected.get(k)) for k in diff}
        raise ValueError(
            f'Expected the cache {path} to match the requested generation '
            f'parameters (got differences (cached, requested): {detail}); '
            f'delete {folder} to regenerate it, or pass another root'
        )


def generate_synthetic(
    root: str | os.PathLike,
    split: str = 'train',
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
        num_workers (int): Worker processes; ``0`` renders in this
            process. (default: ``2``)
        progress (bool): Show a tqdm progress bar. (default: :obj:`True`)

    Returns:
        Path: the split folder.

    Raises:
        ValueError: a cache written with other parameters or by another
            version (the message names ``meta.json`` and the differences).
    """
    _check_split(split)
    if num_samples < 1:
        raise ValueError(f'Expected num_samples >= 1 (got {num_samples})')
    config = config or SyntheticConfig()
    folder = Path(root) / split
    expected = _meta(config, split, seed, num_samples)
    meta_path = folder / 'meta.json'
    if meta_path.exists():
        _check_meta(folder, expected)
        if json.loads(meta_path.read_text()).get('complete'):
            return folder
    elif folder.exists() and any(folder.iterdir()):
        raise ValueError(
            f'Expected an empty folder or a synthetic cache at {folder} '
            f'(got files but no meta.json); delete it or pass another root'
        )
    for sub in ('images', 'parts'):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps({**expected, 'complete': False},
                                    indent=1))
    size = config.shard_size
    jobs = []
    for shard in range((num_samples + size - 1) // size):
        if not _shard_path(folder, shard).exists():
            idx = list(range(shard * size,
                             min(num_samples, (shard + 1) * size)))
            jobs.append((str(folder), seed, split, shard, idx))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(len(j[4]) for j in jobs), unit='img',
                   desc=f'synthetic {split}')
    if num_workers == 0:
        _init_worker(config)
        for job in jobs:
            done = _run_shard(job)
            if bar is not None:
                bar.update(done)
    elif jobs:
        import multiprocessing as mp

        ctx = mp.get_context('spawn')
        with ctx.Pool(num_workers, initializer=_init_worker,
                      initargs=(config,)) as pool:
            for done in pool.imap_unordered(_run_shard, jobs):
                if bar is not None:
                    bar.update(done)
    if bar is not None:
        bar.close()
    meta_path.write_text(json.dumps({**expected, 'complete': True},
                                    indent=1))
    return folder


class SyntheticHumans(Dataset):
    """The synthetic dataset: generated once into ``root``, then read.

    Args:
        root (str or PathLike): Cache root (``root/<split>``).
        split (str): ``'train'``, ``'val'`` or ``'test'``.
            (default: ``'train'``)
        num_samples (int): Number of samples. (default: ``1024``)
        seed (int): Base seed. (default: ``0``)
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

    name = 'synthetic'

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = 'train',
        num_samples: int = 1024,
        seed: int = 0,
        config: SyntheticConfig | None = None,
        num_workers: int = 2,
        augment: AugmentConfig | None = None,
        with_vertices: bool = True,
        progress: bool = True,
        generate: bool = True,
    ):
        _check_split(split)
        self.config = config or SyntheticConfig()
        self.split = split
        self.folder = Path(root) / split
        meta_path = self.folder / 'meta.json'
        complete = meta_path.exists() and json.loads(
            meta_path.read_text()).get('complete', False)
        if meta_path.exists():
            _check_meta(self.folder, _meta(self.config, split, seed,
                                           num_samples))
        if not complete:
            if not generate:
                raise FileNotFoundError(
                    f'Expected a complete synthetic cache at {meta_path} '
                    '(got none); pass generate=True or run '
                    'generate_synthetic'
                )
            generate_synthetic(root, split, num_samples, seed, self.config,
                               num_workers, progress)
        size = self.config.shard_size
        parts = []
        for shard in range((num_samples + size - 1) // size):
            path = _shard_path(self.folder, shard)
            try:
                with np.load(path, allow_pickle=False) as z:
                    parts.append({k: z[k] for k in z.files})
            except (OSError, ValueError) as err:
                raise FileNotFoundError(
                    f'Expected a readable shard {path} (got '
                    f'{type(err).__name__}: {err}); delete {self.folder} '
                    'to regenerate the cache'
                ) from err
        self.arrays = {k: np.concatenate([p[k] for p in parts])
                       for k in parts[0]}
        if len(self.arrays['index']) != num_samples:
            raise ValueError(
                f'Expected {num_samples} samples in {self.folder} (got '
                f'{len(self.arrays["index"])}); delete it to regenerate'
            )
        self.augment = augment
        self.with_vertices = with_vertices
        self._body = None
        self._down = None

    def __len__(self) -> int:
        return len(self.arrays['index'])

    def _body_and_down(self):
        if self._body is None:
            from bigraph_pyg.body import default_body
            from bigraph_pyg.topology import mesh_hierarchy

            self._body = default_body()
            h = mesh_hierarchy(self._body.template_vertices,
                               self._body.faces)
            self._down = h.down[0].coalesce()
        return self._body, self._down

    def _read(self, index: int):
        from PIL import Image

        paths = (_image_path(self.folder, index),
                 _part_path(self.folder, index))
        out = []
        for path in paths:
            try:
                with Image.open(path) as im:
                    out.append(np.asarray(im))
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f'Expected the cache file {path} (got no such file); '
                    f'delete {self.folder} to regenerate the cache'
                ) from err
            except OSError as err:
                raise OSError(
                    f'Expected a readable image {path} (got '
                    f'{type(err).__name__}: {err}); delete {self.folder} '
                    'to regenerate the cache'
                ) from err
        return out

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(
                f'Expected an index in [0, {len(self)}) (got {index})')
        a = {k: v[index] for k, v in self.arrays.items()}
        img, part = self._read(index)
        size = self.config.image_size
        if self.augment is not None:
            rng = np.random.default_rng([torch.initial_seed() % 2**63,
                                         index])
            params = sample_augment(rng, self.augment)
        else:
            params = AugmentParams()
        sample = empty_sample(self.name, index)
        a = _apply_augment(a, params, size)
        if params != AugmentParams():
            A = crop_matrix(np.array([(size - 1) / 2.0] * 2),
                            size * params.scale, size, params.rot,
                            params.flip)
            img = warp_image(img, A, size)
            part = warp_image(part, A, size, nearest=True)
            if params.flip:
                part = np.asarray(PART_FLIP, np.uint8)[part]
            img = np.clip(img * np.asarray(params.gain), 0, 255).astype(
                np.uint8)
        sample['img'] = normalize_image(img)
        for key in ('joints_2d', 'joints_3d', 'joints24_2d', 'joints24_3d',
                    'joints_2d_est', 'joints_2d_est_visible', 'pose',
                    'betas', 'transl', 'camera_K', 'camera_weak'):
            sample[key] = torch.as_tensor(np.asarray(a[key], np.float32))
        sample['joints_2d_visible'].fill_(1.0)
        sample['joints_3d_visible'].fill_(1.0)
        sample['part_seg'] = torch.from_numpy(np.array(part, np.uint8))
        sample['mask'] = (sample['part_seg'] > 0).to(torch.uint8)
        for key in ('has_smpl', 'has_pose_3d', 'has_joints_2d',
                    'has_joints24', 'has_camera', 'has_seg'):
            sample[key] = torch.tensor(True)
        if self.with_vertices:
            body, down = self._body_and_down()
            with torch.no_grad():
                pose = sample['pose'][None]
                v = body(betas=sample['betas'][None],
                         body_pose=pose[:, 3:],
                         global_orient=pose[:, :3]).vertices[0]
            sample['vertices'] = v
            sample['coarse_vertices'] = torch.sparse.mm(down, v)
            sample['has_vertices'] = torch.tensor(True)
        return sample


def _apply_augment(a: dict, params: AugmentParams, size: int) -> dict:
    """Apply ``params`` to one sample's arrays (crop centred, box = crop)."""
    if params == AugmentParams():
        return a
    a = dict(a)
    A = crop_matrix(np.array([(size - 1) / 2.0] * 2), size * params.scale,
                    size, params.rot, params.flip)
    M = params.matrix_3d()
    perm12 = list(FLIP_PERM) if params.flip else list(range(12))
    from bigraph_pyg.data.augment import SMPL_FLIP_PERM

    perm24 = list(SMPL_FLIP_PERM) if params.flip else list(range(24))
    a['joints_2d'] = transform_points_2d(a['joints_2d'], A)[perm12]
    a['joints_2d_est'] = transform_points_2d(a['joints_2d_est'], A)[perm12]
    a['joints_2d_est_visible'] = a['joints_2d_est_visible'][perm12]
    a['joints24_2d'] = transform_points_2d(a['joints24_2d'], A)[perm24]
    a['joints_3d'] = (a['joints_3d'] @ M.T)[perm12]
    a['joints24_3d'] = (a['joints24_3d'] @ M.T)[perm24]
    a['camera_K'] = transform_intrinsics(a['camera_K'], A)
    a['pose'] = transform_pose(a['pose'], params)
    # The model frame follows the pose; translation approximately M @ t.
    a['transl'] = M @ a['transl']
    K = a['camera_K']
    zr = float(a['joints24_3d'][0, 2])
    s = 2.0 * K[0, 0] / (size * zr)
    t = a['transl'][:2] + (2.0 * K[:2, 2] / size - 1.0) / s
    a['camera_weak'] = np.array([s, t[0], t[1]])
    return a
