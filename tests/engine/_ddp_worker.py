"""Worker of test_distributed: 2 gloo processes train 2 steps with DDP.

Run by ``python -m torch.distributed.run --nproc_per_node=2 _ddp_worker.py
OUT``; each rank writes ``OUT/rank<k>.pt`` (initial and final weights).
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from fakes import FakeHumans, tiny_config  # noqa: E402

from bigraph_pyg.body import default_body  # noqa: E402
from bigraph_pyg.engine import (  # noqa: E402
    TrainConfig,
    Trainer,
    cleanup_distributed,
    init_distributed,
)
from bigraph_pyg.models import BiGraphBody  # noqa: E402


def main(out: str) -> None:
    torch.set_num_threads(1)
    ctx = init_distributed("cpu")
    assert ctx.world_size == 2 and ctx.backend == "gloo"
    body = default_body()
    torch.manual_seed(0)  # same init on every rank (DDP also broadcasts)
    model = BiGraphBody.from_body(tiny_config(), body)
    # Parameters only: BatchNorm running stats are per rank between DDP's
    # buffer broadcasts (rank 0's are the ones checkpointed).
    init = {k: v.detach().clone() for k, v in model.named_parameters()}
    data = FakeHumans(body, 8)
    cfg = TrainConfig(epochs=1, batch_size=2, max_steps=2, progress=False)
    result = Trainer(model, data, cfg, Path(out) / "run", context=ctx).fit()
    final = {k: v.detach().clone() for k, v in model.named_parameters()}
    torch.save(
        {
            "init": init,
            "final": final,
            "steps": result.step,
            "losses": [h.get("loss") for h in result.history],
        },
        Path(out) / f"rank{ctx.rank}.pt",
    )
    cleanup_distributed()


if __name__ == "__main__":
    main(sys.argv[1])
