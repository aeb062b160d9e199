"""Mixed dataset with fixed ratios (paper Sec. 5.2: 30/20/10/20/20 %).

GraphCMR's ``MixedDataset`` draws the member at random in ``__getitem__``.
Here the draw is a table built once per epoch from a seed: slot ``i`` names
a member and an index in it. Exactly ``round(ratio * length)`` slots go to
each member (largest remainder), each member's indices run through a random
permutation (cycled if needed), and the slots are shuffled. The dataset is
thus deterministic, works with ``DataLoader`` workers and a
``DistributedSampler``, and its ratios hold exactly per epoch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from torch.utils.data import Dataset

__all__ = ["PAPER_RATIOS", "MixedDataset"]

#: The paper's training mixture (Sec. 5.2).
PAPER_RATIOS: dict[str, float] = {
    "h36m": 0.3,
    "up3d": 0.2,
    "lsp": 0.1,
    "coco": 0.2,
    "mpii": 0.2,
}


class MixedDataset(Dataset):
    """Members drawn in given ratios.

    Args:
        datasets (Mapping[str, Dataset]): Members by name.
        ratios (Mapping[str, float], optional): Share of each member
            (normalised). (default: :data:`PAPER_RATIOS` restricted to
            ``datasets``; equal shares for unknown names)
        length (int, optional): Samples per epoch. (default: the largest
            member's length, as GraphCMR)
        seed (int): Seed of the table. (default: ``0``)

    Raises:
        ValueError: empty or mismatched members/ratios, a negative or
            non-finite ratio, an empty member with a positive ratio.
    """

    def __init__(
        self,
        datasets: Mapping[str, Dataset],
        ratios: Mapping[str, float] | None = None,
        length: int | None = None,
        seed: int = 0,
    ):
        if not datasets:
            raise ValueError("Expected at least one dataset (got none)")
        self.names: Sequence[str] = list(datasets)
        self.datasets = [datasets[n] for n in self.names]
        if ratios is None:
            ratios = {n: PAPER_RATIOS.get(n, 1.0) for n in self.names}
        if set(ratios) != set(self.names):
            raise ValueError(
                f"Expected ratios for exactly {sorted(self.names)} (got "
                f"{sorted(ratios)})"
            )
        r = np.array([float(ratios[n]) for n in self.names])
        if not np.isfinite(r).all() or (r < 0).any() or r.sum() <= 0:
            raise ValueError(
                f"Expected finite non-negative ratios with a positive sum (got "
                f"{dict(ratios)})"
            )
        self.ratios = r / r.sum()
        for n, d, p in zip(self.names, self.datasets, self.ratios, strict=True):
            if p > 0 and len(d) == 0:
                raise ValueError(
                    f"Expected a non-empty dataset {n!r} for ratio {p:.3f}"
                )
        self.length = int(
            length if length is not None else max(len(d) for d in self.datasets)
        )
        if self.length < 1:
            raise ValueError(f"Expected length >= 1 (got {self.length})")
        self.seed = int(seed)
        self.set_epoch(0)

    def counts(self) -> np.ndarray:
        """Slots per member in one epoch, :math:`(M,)` int64."""
        exact = self.ratios * self.length
        base = np.floor(exact).astype(np.int64)
        rest = self.length - int(base.sum())
        order = np.argsort(-(exact - base), kind="stable")
        base[order[:rest]] += 1
        return base

    def set_epoch(self, epoch: int) -> None:
        """Rebuild the table for ``epoch`` (call before each epoch).

        Members with a ``set_epoch`` of their own (augmentation, see
        :class:`~bigraph_pyg.data.augment.EpochSeeded`) are told too.
        """
        for d in self.datasets:
            if hasattr(d, "set_epoch"):
                d.set_epoch(epoch)
        rng = np.random.default_rng([self.seed, int(epoch)])
        member, index = [], []
        for k, (c, d) in enumerate(
            zip(self.counts(), self.datasets, strict=True)
        ):
            if c == 0:
                continue
            reps = -(-int(c) // len(d))
            idx = np.concatenate(
                [rng.permutation(len(d)) for _ in range(reps)]
            )[:c]
            member.append(np.full(c, k))
            index.append(idx)
        member = np.concatenate(member)
        index = np.concatenate(index)
        order = rng.permutation(self.length)
        self._member = member[order]
        self._index = index[order]

    def locate(self, index: int) -> tuple[str, int]:
        """Member name and member index of slot ``index``."""
        return self.names[self._member[index]], int(self._index[index])

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.length:
            raise IndexError(
                f"Expected an index in [0, {self.length}) (got {index})"
            )
        k = int(self._member[index])
        return self.datasets[k][int(self._index[index])]
