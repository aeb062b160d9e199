r"""One evaluation function for training and ``examples/eval_bigraph.py``.

:func:`evaluate` runs a model over a loader with the **estimated** 2D
joints as the skeleton input (paper Sec. 5.2: "only use the estimated 2D
joints during inference") and accumulates the metrics of Sec. 5.1 (inputs
in metres, results in millimetres, :mod:`bigraph_pyg.metrics`):

* ``mpjpe`` / ``pa_mpjpe``: the 12 joints regressed from the predicted
  mesh, :math:`\hat{V}^{j3d}_m`, against ``joints_3d``, pelvis-aligned
  (mean of the hips); ``*_skeleton`` the same for the Skeleton-GCN output
  :math:`\hat{V}_s` (models with a skeleton branch);
* ``mpjpe_h36m`` / ``pa_mpjpe_h36m``: with a Human3.6M joint regressor
  (GraphCMR's ``J_regressor_h36m.npy``, 17 x 6890), the joints regressed
  from the mesh with it (its 14-joint LSP-order subset, of which the 12
  shared joints are scored) — the numbers of H36M protocol 1 (MPJPE, all
  cameras) and protocol 2 (PA-MPJPE, frontal camera) when the loader holds
  that protocol's split;
* ``mpve``: non-parametric mesh against the ground-truth vertices (UP-3D
  protocol, no alignment); ``mpve_smpl`` the mesh of the predicted SMPL
  parameters (with a ``body``);
* ``fb_acc`` / ``fb_f1`` / ``parts_acc`` / ``parts_f1``: LSP-style
  foreground and six-part segmentation of the projected predicted mesh
  (rendered with the predicted weak-perspective camera) against
  ``mask``/``part_seg``, accumulated over the whole set as GraphCMR does.

Every metric averages over the samples that have its ground truth; a
metric no sample supports is absent from the result. Each batch is scored
by :mod:`bigraph_pyg.engine._batch_scorer` into the running sums of
:mod:`bigraph_pyg.engine._metric_sums`;
:func:`~bigraph_pyg.engine.format_metrics` prints the result as tables.

:func:`score` is :func:`evaluate` with a training run's batching: a
:class:`~bigraph_pyg.engine.Trainer`'s validation and the test of
:func:`~bigraph_pyg.engine.train_and_evaluate` both go through it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from bigraph_pyg.engine._batch_scorer import BatchScorer
from bigraph_pyg.engine.baselines import TrainingStatistics
from bigraph_pyg.engine.batch_transforms import collate_samples
from bigraph_pyg.engine.batching import prepare_batch
from bigraph_pyg.engine.train_config import TrainConfig
from bigraph_pyg.losses import LossWeights

__all__ = [
    "H36M_TO_J14",
    "evaluate",
    "load_h36m_regressor",
    "score",
]

#: Rows of GraphCMR's 17-joint H36M regressor in LSP order (14 joints: the
#: project's 12, then neck and head top).
H36M_TO_J14: tuple[int, ...] = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)


def load_h36m_regressor(path) -> Tensor:
    """Read a Human3.6M joint regressor into the 12 shared joints.

    Args:
        path (str or PathLike): ``.npy`` of shape ``(17, 6890)`` (GraphCMR's
            ``J_regressor_h36m.npy``) or ``(14, 6890)`` (LSP order).

    Returns:
        Tensor: :math:`(12, 6890)` float32, the project's joint order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unreadable file (truncated, an ``.npz``, an object
            array), another shape, a non-numeric dtype or a non-finite
            value; the message names the file.
    """
    from bigraph_pyg.utils.io import load_npy

    what = "the H36M regressor (J_regressor_h36m.npy)"
    hint = "get J_regressor_h36m.npy from GraphCMR's data download"
    reg = load_npy(path, what, hint)
    if reg.ndim != 2 or reg.shape[0] not in (14, 17):
        raise ValueError(
            f"Expected a (17, V) or (14, V) regressor in {path} "
            f"(got shape {reg.shape})"
        )
    if reg.dtype.kind not in "iuf":
        raise ValueError(
            f"Expected a numeric regressor in {path} (got dtype {reg.dtype})"
        )
    if not np.isfinite(reg).all():
        raise ValueError(
            f"Expected finite values in the regressor {path} (got "
            f"{int((~np.isfinite(reg)).sum())} NaN or infinite)"
        )
    if reg.shape[0] == 17:
        reg = reg[list(H36M_TO_J14)]
    return torch.as_tensor(reg[:12], dtype=torch.float32)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    loader: Iterable[Mapping],
    device: torch.device | str = "cpu",
    *,
    body=None,
    h36m_regressor: Tensor | None = None,
    segmentation: bool = False,
    with_loss: bool = True,
    max_batches: int | None = None,
    progress: bool = True,
    baselines: TrainingStatistics | None = None,
    loss_weights: LossWeights | None = None,
) -> dict[str, float]:
    """Metrics of ``model`` on ``loader`` (paper Sec. 5.1).

    Args:
        model (BiGraphBody): The model (put in eval mode here, restored
            after). A DDP wrapper is unwrapped.
        loader (Iterable[Mapping]): Collated batches with the keys of
            :data:`~bigraph_pyg.engine.batching.TRAIN_KEYS`.
        device (torch.device or str): Where to run.
        body (BodyModel, optional): Poses the predicted SMPL parameters for
            ``mpve_smpl``.
        h36m_regressor (Tensor, optional): :math:`(12, 6890)` from
            :func:`load_h36m_regressor`.
        segmentation (bool): Render the projected mesh for the LSP-style
            segmentation scores (needs pyrender with EGL; skipped with a
            warning where rendering is unavailable). (default: :obj:`False`)
        with_loss (bool): Also average Eq. 6 (with the estimated joints).
        loss_weights (LossWeights, optional): Its weights, e.g. the
            training's ``TrainConfig.loss``. (default: the paper's)
        max_batches (int, optional): Stop after this many batches.
        progress (bool): tqdm bar.
        baselines (TrainingStatistics, optional): Training-split means;
            adds the baselines' scores, the skill ratios and nothing else
            (the depth correlations are always computed).

    A sample whose image has a non-finite pixel is left out (with a
    warning that counts them), as in training: its prediction would turn
    every sum it enters into NaN.

    Returns:
        dict[str, float]: metric name to value (see
        :data:`~bigraph_pyg.engine.metric_table.METRIC_LABELS`), and
        ``num_samples``.
    """
    net = getattr(model, "module", model)
    was_training = net.training
    net.eval()
    device = torch.device(device)
    scorer = BatchScorer.build(
        net,
        device,
        body=body,
        h36m_regressor=h36m_regressor,
        segmentation=segmentation,
        with_loss=with_loss,
        baselines=baselines,
        loss_weights=loss_weights,
    )
    try:
        left_out = _score_batches(
            net, loader, scorer, device, max_batches, progress
        )
    finally:
        net.train(was_training)
    if left_out:
        warnings.warn(
            f"Left {left_out} sample(s) whose image has non-finite pixels "
            "out of the evaluation (num_samples counts the rest)",
            stacklevel=2,
        )
    return scorer.sums.summary()


def _score_batches(
    net, loader, scorer: BatchScorer, device, max_batches, progress
) -> int:
    """Score the batches of ``loader`` into ``scorer``.

    Returns:
        int: the samples left out for a non-finite image pixel (their
        prediction would turn every sum it enters into NaN).
    """
    from tqdm.auto import tqdm

    left_out = 0
    bar = tqdm(
        loader, desc="eval", unit="batch", disable=not progress, leave=False
    )
    for i, batch in enumerate(bar):
        if max_batches is not None and i >= max_batches:
            break
        mb = prepare_batch(batch, net.config.image_size, device)
        keep = mb.finite_images()
        if not bool(keep.all()):
            left_out += int((~keep).sum())
            mb = mb.select(keep)
            if len(mb) == 0:
                continue
        scorer.score(mb, net(mb.images, mb.joints_est))
    return left_out


def score(
    net,
    dataset: Dataset,
    config: TrainConfig,
    device: torch.device,
    *,
    body=None,
    segmentation: bool = False,
    baselines=None,
) -> tuple[dict[str, float], DataLoader]:
    """Evaluate ``net`` on ``dataset`` with the run's batching.

    Args:
        net (BiGraphBody): The model.
        dataset (Dataset): The held-out samples.
        config (TrainConfig): The run's ``batch_size``, ``num_workers`` and
            ``progress``.
        device (torch.device): Where to run.
        body (BodyModel, optional): For the SMPL-mesh metric.
        segmentation (bool): Segmentation scores too.
        baselines (TrainingStatistics, optional): Scores the trivial
            predictors beside the model.

    Returns:
        tuple[dict[str, float], DataLoader]: the metrics of
        :func:`~bigraph_pyg.engine.evaluate.evaluate`, and the loader (e.g.
        for an overlay of its first batch).
    """
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=False,
        collate_fn=collate_samples,
        num_workers=config.num_workers,
    )
    metrics = evaluate(
        net,
        loader,
        device,
        body=body,
        segmentation=segmentation,
        progress=config.progress,
        baselines=baselines,
        loss_weights=config.loss,
    )
    return metrics, loader
