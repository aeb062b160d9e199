"""Training, evaluation and inference engine (paper Secs. 4.4, 5).

The example scripts (``examples/train_bigraph.py``, ``eval_bigraph.py``,
``demo.py``, ``reproduce_ablation.py``) parse arguments and call into this
package, which owns the loop, the metrics, checkpoints and logging.
"""

from bigraph_pyg.engine.baselines import (
    BASELINES,
    DepthCorrelation,
    TrainingStatistics,
    flat_lift,
    skill_ratios,
)
from bigraph_pyg.engine.batch_transforms import collate_samples
from bigraph_pyg.engine.batching import (
    TRAIN_KEYS,
    CachedDataset,
    EpochBatchSampler,
    ModelBatch,
    prepare_batch,
    prepare_pose_batch,
)
from bigraph_pyg.engine.checkpoint import (
    CHECKPOINT_VERSION,
    CheckpointError,
    load_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from bigraph_pyg.engine.distributed import (
    DistributedContext,
    cleanup_distributed,
    init_distributed,
)
from bigraph_pyg.engine.evaluate import evaluate, load_h36m_regressor
from bigraph_pyg.engine.logger import TrainLogger, overlay_images
from bigraph_pyg.engine.metric_table import format_metrics
from bigraph_pyg.engine.runner import RunSummary, train_and_evaluate
from bigraph_pyg.engine.schedule import gt_mix_ratio, mix_joints_2d
from bigraph_pyg.engine.train_config import TrainConfig, TrainResult
from bigraph_pyg.engine.trainer import Trainer

__all__ = [
    "BASELINES",
    "DepthCorrelation",
    "TrainingStatistics",
    "flat_lift",
    "skill_ratios",
    "CHECKPOINT_VERSION",
    "CachedDataset",
    "CheckpointError",
    "DistributedContext",
    "EpochBatchSampler",
    "ModelBatch",
    "TRAIN_KEYS",
    "TrainConfig",
    "TrainLogger",
    "RunSummary",
    "TrainResult",
    "Trainer",
    "cleanup_distributed",
    "collate_samples",
    "evaluate",
    "format_metrics",
    "gt_mix_ratio",
    "init_distributed",
    "load_checkpoint",
    "load_h36m_regressor",
    "mix_joints_2d",
    "model_from_checkpoint",
    "overlay_images",
    "prepare_batch",
    "prepare_pose_batch",
    "save_checkpoint",
    "train_and_evaluate",
]
