r"""Detector-like noise for "estimated" 2D joints.

The paper feeds the skeleton branch 2D joints from an off-the-shelf
detector (HRNet, Sec. 4.3.2) and, during training, mixes ground-truth and
estimated joints with a ratio that decays to zero by the last epoch
(Sec. 5.2). Without a detector, :class:`JointNoise` simulates one:

* Gaussian jitter with a per-joint scale (wrists and ankles are harder),
  proportional to the person's box size;
* occasional outliers (a large jump);
* occasional left/right swaps of a limb pair (a classic detector error);
* misses: the joint is flagged invisible (``visible = 0``) and its position
  is replaced by the mean of the visible joints (a detector still outputs
  *something*; a consumer should down-weight it).

A real detector's failures come together and depend on the joint
(``docs/data.md``, "Detector noise"): the optional fields add per-joint
miss rates, whole-limb swaps and whole-limb outliers, and a fixed inward
offset of the hips and shoulders (where the detector's joints sit on the
body). :meth:`JointNoise.mediapipe` sets them to match MediaPipe Pose, the
demo's detector, as measured on rendered samples. :func:`draw_estimates`
draws the estimates of many samples at once, e.g. to train under another
noise model than a cache was generated with.

:func:`bigraph_pyg.engine.schedule.gt_mix_ratio` and
:func:`~bigraph_pyg.engine.schedule.mix_joints_2d` implement the schedule
(the trainer's; its one home).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from bigraph_pyg.topology import FLIP_PERM, JOINT_NAMES

__all__ = ["REDRAW_STREAM", "JointNoise", "draw_estimates"]

_HARD = ("right_wrist", "left_wrist", "right_ankle", "left_ankle")

#: Limb chains of one side, each with its mirror in the same position:
#: (right arm, left arm), (right leg, left leg).
_CHAINS = (
    (
        ("right_shoulder", "right_elbow", "right_wrist"),
        ("left_shoulder", "left_elbow", "left_wrist"),
    ),
    (
        ("right_hip", "right_knee", "right_ankle"),
        ("left_hip", "left_knee", "left_ankle"),
    ),
)
_CHAIN_IDX = tuple(
    tuple(tuple(JOINT_NAMES.index(n) for n in side) for side in pair)
    for pair in _CHAINS
)

#: Fields added after the first cache format: written to a cache's
#: configuration only when they differ from their defaults, so caches made
#: before they existed still match.
_OPTIONAL = (
    "miss_probs",
    "chain_swap_prob",
    "chain_outlier_prob",
    "chain_outlier_sigma",
    "hip_width_scale",
    "shoulder_width_scale",
)

#: Fourth word of :func:`draw_estimates`' seeds: a sample's geometry is
#: drawn from ``[seed, split, index]`` and its appearance from
#: ``[seed, split, index, 1]`` (:class:`~bigraph_pyg.data.SampleGenerator`);
#: a redrawn estimate must come from neither, or its jitter would repeat the
#: sample's shape and pose draws.
REDRAW_STREAM = 2


@dataclass(frozen=True)
class JointNoise:
    """Parameters of the detector-like 2D joint noise.

    Attributes:
        sigma (float): Jitter standard deviation as a fraction of the box
            size (the larger side of the joints' bounding box).
            (default: ``0.02``)
        hard_scale (float): Jitter multiplier for wrists and ankles.
            (default: ``1.8``)
        outlier_prob (float): Per-joint probability of an outlier.
            (default: ``0.03``)
        outlier_sigma (float): Outlier jump, fraction of box size.
            (default: ``0.15``)
        swap_prob (float): Per-sample probability of swapping one random
            left/right limb pair. (default: ``0.03``)
        miss_prob (float): Per-joint probability of a miss.
            (default: ``0.04``)
        miss_probs (tuple[float, ...], optional): Per-joint miss
            probabilities, 12 in :data:`~bigraph_pyg.topology.JOINT_NAMES`
            order; when given, ``miss_prob`` is not used.
            (default: :obj:`None`)
        chain_swap_prob (float): Per-sample probability of swapping one
            whole limb (shoulder-elbow-wrist or hip-knee-ankle) with its
            mirror, a detector's typical left/right confusion.
            (default: ``0.0``)
        chain_outlier_prob (float): Per-sample probability that one whole
            limb jumps together (a limb put on another body part).
            (default: ``0.0``)
        chain_outlier_sigma (float): That jump, fraction of box size.
            (default: ``0.3``)
        hip_width_scale (float): The hips are placed at this fraction of
            their true distance from their midpoint before the noise (a
            detector's definition of the hip joint). (default: ``1.0``)
        shoulder_width_scale (float): The same for the shoulders.
            (default: ``1.0``)
    """

    sigma: float = 0.02
    hard_scale: float = 1.8
    outlier_prob: float = 0.03
    outlier_sigma: float = 0.15
    swap_prob: float = 0.03
    miss_prob: float = 0.04
    miss_probs: tuple[float, ...] | None = None
    chain_swap_prob: float = 0.0
    chain_outlier_prob: float = 0.0
    chain_outlier_sigma: float = 0.3
    hip_width_scale: float = 1.0
    shoulder_width_scale: float = 1.0

    def __post_init__(self):
        if self.miss_probs is not None:
            try:
                probs = tuple(float(p) for p in self.miss_probs)
            except (TypeError, ValueError):
                probs = ()
            if len(probs) != len(JOINT_NAMES) or not all(
                0 <= p <= 1 for p in probs
            ):
                raise ValueError(
                    f"Expected 'miss_probs' of {len(JOINT_NAMES)} values in "
                    f"[0, 1] (got {self.miss_probs!r})"
                )
            object.__setattr__(self, "miss_probs", probs)
        for name, value in asdict(self).items():
            if name != "miss_probs" and (not np.isfinite(value) or value < 0):
                raise ValueError(
                    f"Expected a finite non-negative '{name}' (got {value})"
                )
        for name in (
            "outlier_prob",
            "swap_prob",
            "miss_prob",
            "chain_swap_prob",
            "chain_outlier_prob",
        ):
            if getattr(self, name) > 1:
                raise ValueError(
                    f"Expected '{name}' in [0, 1] (got {getattr(self, name)})"
                )

    @classmethod
    def mediapipe(cls) -> JointNoise:
        """The noise of MediaPipe Pose (the demo's detector) on renders.

        Not in the paper (it trains on HRNet detections, Sec. 4.3.2): a
        stand-in for the errors of the detector the demo uses.

        Set by hand to match MediaPipe's errors on 200 rendered test samples
        (``docs/results/detector_noise.json``, from
        ``scripts/detector_noise.py``); ``scripts/detector_noise_preset.py``
        compares the two (``docs/data.md``). Per-joint misses (a fifth of
        elbows and wrists, a tenth of knees and ankles, ~1 % of hips and
        shoulders), whole-limb swaps and outliers, no extra jitter at the
        wrists and ankles, and hips at 76 % and shoulders at 92 % of their
        true width.

        Returns:
            JointNoise: The preset.
        """
        return cls(**_MEDIAPIPE)

    def to_json(self) -> dict:
        """Plain-JSON form; the optional fields only where set.

        Returns:
            dict: Field name to value (tuples become lists).
        """
        out = asdict(self)
        defaults = {f.name: f.default for f in fields(self)}
        for name in _OPTIONAL:
            if out[name] == defaults[name]:
                del out[name]
        if out.get("miss_probs") is not None:
            out["miss_probs"] = list(out["miss_probs"])
        return out

    def apply(
        self,
        joints_2d: np.ndarray,
        rng: np.random.Generator,
        visible: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Corrupt one person's 2D joints.

        Args:
            joints_2d (np.ndarray): :math:`(12, 2)` ground truth, pixels
                (any unit: noise scales with the joints' box).
            rng (np.random.Generator): Source of randomness.
            visible (np.ndarray, optional): :math:`(12,)` ground-truth
                visibility; invisible joints stay invisible.

        Returns:
            tuple: estimated joints :math:`(12, 2)` float32 and their
            visibility :math:`(12,)` float32 in ``{0, 1}``.

        Raises:
            ValueError: joints not of shape ``(12, 2)`` or not finite.
        """
        j = np.asarray(joints_2d, dtype=np.float64)
        n = len(JOINT_NAMES)
        if j.shape != (n, 2) or not np.isfinite(j).all():
            raise ValueError(
                f"Expected finite joints_2d of shape ({n}, 2) (got "
                f"{j.shape}, finite={bool(np.isfinite(j).all())})"
            )
        vis = (
            np.ones(n)
            if visible is None
            else (np.asarray(visible) > 0).astype(np.float64)
        )
        known = vis > 0
        ref = j[known] if known.any() else j
        box = float(max(np.ptp(ref[:, 0]), np.ptp(ref[:, 1]), 1e-6))
        j = self._offset(j)
        scale = np.array(
            [self.hard_scale if nm in _HARD else 1.0 for nm in JOINT_NAMES]
        )
        out = j + rng.standard_normal((n, 2)) * (
            self.sigma * box * scale[:, None]
        )
        jump = rng.random(n) < self.outlier_prob
        out[jump] += rng.standard_normal((int(jump.sum()), 2)) * (
            self.outlier_sigma * box
        )
        if rng.random() < self.swap_prob:
            i = int(rng.integers(n))
            k = FLIP_PERM[i]
            out[[i, k]] = out[[k, i]]
        out = self._chain_errors(out, box, rng)  # no draws when unset
        miss_prob = (
            self.miss_prob
            if self.miss_probs is None
            else np.asarray(self.miss_probs)
        )
        miss = rng.random(n) < miss_prob
        vis = vis * (~miss)
        if (vis > 0).any():
            out[vis == 0] = out[vis > 0].mean(axis=0)
        return out.astype(np.float32), vis.astype(np.float32)

    def apply_batch(
        self,
        joints_2d: np.ndarray,
        rng: np.random.Generator,
        visible: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Corrupt many people's 2D joints at once: :meth:`apply`, batched.

        The same noise as :meth:`apply` (each sample's box, jitter,
        outliers, swaps, whole-limb errors and misses), drawn for the whole
        batch in a few vectorised draws: ~100 times faster than a loop over
        :meth:`apply`, for redrawing the estimates of every training batch.
        Not the same random stream as :meth:`apply` with the same ``rng``.

        Args:
            joints_2d (np.ndarray): :math:`(B, 12, 2)` ground truth, pixels;
                an invisible joint may be non-finite (a placeholder).
            rng (np.random.Generator): Source of randomness.
            visible (np.ndarray, optional): :math:`(B, 12)` ground-truth
                visibility; invisible joints stay invisible.

        Returns:
            tuple: estimated joints :math:`(B, 12, 2)` float32 and their
            visibility :math:`(B, 12)` float32 in ``{0, 1}``.

        Raises:
            ValueError: joints not of shape ``(B, 12, 2)``, ``visible`` not
                ``(B, 12)``, or a visible joint not finite.
        """
        j, vis = _checked_batch(joints_2d, visible)
        b, n = vis.shape
        known = vis > 0
        # Each sample's box over its known joints (all of them if none).
        ref = known | ~known.any(axis=1, keepdims=True)
        lo = np.where(ref[..., None], j, np.inf).min(axis=1)
        hi = np.where(ref[..., None], j, -np.inf).max(axis=1)
        box = np.maximum((hi - lo).max(axis=1), 1e-6)[:, None, None]
        j = self._offset(j)
        scale = np.array(
            [self.hard_scale if nm in _HARD else 1.0 for nm in JOINT_NAMES]
        )
        out = j + rng.standard_normal((b, n, 2)) * (
            self.sigma * box * scale[:, None]
        )
        jump = rng.random((b, n)) < self.outlier_prob
        out += (
            jump[..., None]
            * rng.standard_normal((b, n, 2))
            * (self.outlier_sigma * box)
        )
        out = self._swaps_batch(out, box[:, 0], rng)
        miss_prob = (
            self.miss_prob
            if self.miss_probs is None
            else np.asarray(self.miss_probs)
        )
        vis = vis * ~(rng.random((b, n)) < miss_prob)
        seen = vis > 0
        count = seen.sum(axis=1)
        mean = (out * seen[..., None]).sum(axis=1) / np.maximum(count, 1)[
            :, None
        ]
        fill = ~seen & (count > 0)[:, None]
        out = np.where(fill[..., None], mean[:, None], out)
        return out.astype(np.float32), vis.astype(np.float32)

    def _swaps_batch(
        self, out: np.ndarray, box: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """:meth:`apply_batch`'s pair swaps and whole-limb errors, in place.

        ``out`` :math:`(B, 12, 2)`, ``box`` :math:`(B, 1)` (each sample's box
        size).
        """
        b, n = out.shape[:2]
        rows = np.arange(b)
        swap = rows[rng.random(b) < self.swap_prob]
        i = rng.integers(n, size=len(swap))
        k = np.asarray(FLIP_PERM)[i]
        out[swap, i], out[swap, k] = out[swap, k].copy(), out[swap, i].copy()
        if self.chain_swap_prob > 0:
            hit = rows[rng.random(b) < self.chain_swap_prob]
            pair = rng.integers(len(_CHAIN_IDX), size=len(hit))
            for p, (right, left) in enumerate(_CHAIN_IDX):
                s = hit[pair == p][:, None]
                out[s, list(right + left)] = out[s, list(left + right)]
        if self.chain_outlier_prob > 0:
            hit = rows[rng.random(b) < self.chain_outlier_prob]
            limb = rng.integers(2 * len(_CHAIN_IDX), size=len(hit))
            shift = rng.standard_normal((len(hit), 2)) * (
                self.chain_outlier_sigma * box[hit]
            )
            for c, idx in enumerate(p for pair in _CHAIN_IDX for p in pair):
                sel = limb == c
                out[hit[sel][:, None], list(idx)] += shift[sel][:, None]
        return out

    def _offset(self, j: np.ndarray) -> np.ndarray:
        """Hips and shoulders moved towards their midpoints (no draws).

        ``j``: :math:`(12, 2)` or :math:`(B, 12, 2)`.
        """
        pairs = (
            (("right_hip", "left_hip"), self.hip_width_scale),
            (("right_shoulder", "left_shoulder"), self.shoulder_width_scale),
        )
        j = j.copy()
        for names, f in pairs:
            if f != 1.0:
                i, k = (JOINT_NAMES.index(nm) for nm in names)
                a, c = j[..., i, :], j[..., k, :]
                mid = (a + c) / 2.0
                j[..., i, :], j[..., k, :] = (
                    mid + f * (a - mid),
                    mid + f * (c - mid),
                )
        return j

    def _chain_errors(
        self, out: np.ndarray, box: float, rng: np.random.Generator
    ) -> np.ndarray:
        """Whole-limb swaps and jumps; draws nothing when both are off."""
        if self.chain_swap_prob > 0 and rng.random() < self.chain_swap_prob:
            right, left = _CHAIN_IDX[int(rng.integers(len(_CHAIN_IDX)))]
            out[list(right + left)] = out[list(left + right)]
        if (
            self.chain_outlier_prob > 0
            and rng.random() < self.chain_outlier_prob
        ):
            pair = _CHAIN_IDX[int(rng.integers(len(_CHAIN_IDX)))]
            limb = list(pair[int(rng.integers(2))])
            out[limb] += rng.standard_normal(2) * (
                self.chain_outlier_sigma * box
            )
        return out


def _checked_batch(
    joints_2d: np.ndarray, visible: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`JointNoise.apply_batch`'s inputs, checked.

    Returns the joints (an invisible one's NaN zeroed) and the visibility,
    float64.
    """
    j = np.asarray(joints_2d, dtype=np.float64)
    n = len(JOINT_NAMES)
    if j.ndim != 3 or j.shape[1:] != (n, 2):
        raise ValueError(
            f"Expected joints_2d of shape (B, {n}, 2) (got {j.shape})"
        )
    b = j.shape[0]
    vis = (
        np.ones((b, n))
        if visible is None
        else (np.asarray(visible) > 0).astype(np.float64)
    )
    if vis.shape != (b, n):
        raise ValueError(
            f"Expected visible of shape {(b, n)} (got {vis.shape})"
        )
    if not np.isfinite(j[vis > 0]).all():
        raise ValueError("Expected finite visible joints_2d")
    return np.nan_to_num(j), vis


def draw_estimates(
    noise: JointNoise,
    joints_2d: np.ndarray,
    seed: int,
    stream: int = 0,
    visible: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Estimated joints of many samples, each from its own generator.

    Sample ``i`` draws from ``np.random.default_rng([seed, stream, i,``
    :data:`REDRAW_STREAM` ``])``, so its estimate does not depend on the
    other samples or their order, nor repeat the draws that made the
    sample (a synthetic sample's geometry comes from ``[seed, split, i]``).

    Args:
        noise (JointNoise): The noise model.
        joints_2d (np.ndarray): :math:`(N, 12, 2)` ground truth, pixels.
        seed (int): Base seed.
        stream (int): Keeps the streams of different sets apart (e.g. one
            per split). (default: ``0``)
        visible (np.ndarray, optional): :math:`(N, 12)` ground-truth
            visibility; invisible joints stay invisible.

    Returns:
        tuple: estimates :math:`(N, 12, 2)` float32 and their visibility
        :math:`(N, 12)` float32.

    Raises:
        ValueError: ``joints_2d`` not of shape ``(N, 12, 2)`` or ``visible``
            not ``(N, 12)``; a non-finite visible joint (names the sample).
    """
    j = np.asarray(joints_2d, dtype=np.float64)
    n = len(JOINT_NAMES)
    if j.ndim != 3 or j.shape[1:] != (n, 2):
        raise ValueError(
            f"Expected joints_2d of shape (N, {n}, 2) (got {j.shape})"
        )
    vis = None if visible is None else np.asarray(visible, dtype=np.float64)
    if vis is not None and vis.shape != j.shape[:2]:
        raise ValueError(
            f"Expected visible of shape {j.shape[:2]} (got {vis.shape})"
        )
    est = np.empty(j.shape, np.float32)
    out_vis = np.empty(j.shape[:2], np.float32)
    for i in range(len(j)):
        rng = np.random.default_rng([int(seed), int(stream), i, REDRAW_STREAM])
        v = None if vis is None else vis[i]
        known = j[i] if v is None else j[i][v > 0]
        if not np.isfinite(known).all():
            raise ValueError(
                f"Expected finite visible joints_2d (got non-finite ones in "
                f"sample {i})"
            )
        # Invisible joints may be NaN: placeholders (apply wants finite ones).
        est[i], out_vis[i] = noise.apply(np.nan_to_num(j[i]), rng, v)
    return est, out_vis


#: :meth:`JointNoise.mediapipe` (``scripts/detector_noise_preset.py``).
_MEDIAPIPE = dict(
    sigma=0.016,
    hard_scale=1.0,
    outlier_prob=0.12,
    outlier_sigma=0.06,
    swap_prob=0.0,
    miss_probs=(0.09, 0.105, 0.011, 0.011, 0.105, 0.09)
    + (0.19, 0.2, 0.006, 0.006, 0.2, 0.19),
    chain_swap_prob=0.09,
    chain_outlier_prob=0.06,
    chain_outlier_sigma=0.3,
    hip_width_scale=0.76,
    shoulder_width_scale=0.92,
)
