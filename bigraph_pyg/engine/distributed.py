"""Distributed data parallel set-up on PyTorch's own engine (torchrun).

``torchrun --nproc_per_node=N examples/train_bigraph.py`` sets ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`init_distributed` reads them and joins the process group (NCCL on
CUDA, gloo on CPU). Without those variables everything runs in one process.
:func:`wrap_ddp` wraps the model for training, :func:`all_ranks_true`
lets every process take the same decision (e.g. to skip a step) and
:func:`barrier` waits for all (e.g. while the main process validates).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = [
    "DistributedContext",
    "all_ranks_true",
    "all_reduce_mean",
    "barrier",
    "cleanup_distributed",
    "init_distributed",
    "wrap_ddp",
]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands.

    Attributes:
        rank (int): Global rank (``0`` without distribution).
        local_rank (int): Rank on this machine.
        world_size (int): Number of processes.
        device (torch.device): This process's device.
        backend (str or None): ``"nccl"``/``"gloo"``; :obj:`None` if not
            distributed.
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    backend: str | None = None

    @property
    def is_distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 (writes logs and checkpoints)."""
        return self.rank == 0


def init_distributed(
    device: str | torch.device = "cpu", backend: str | None = None
) -> DistributedContext:
    """Join the process group if launched by ``torchrun``.

    Args:
        device (str or torch.device): ``"cpu"``, ``"cuda"`` or
            ``"cuda:k"``; under ``torchrun`` with CUDA, each process takes
            ``cuda:LOCAL_RANK``.
        backend (str, optional): Process-group backend. (default: NCCL for
            CUDA, gloo for CPU)

    Returns:
        DistributedContext: this process's rank, device and backend.

    Raises:
        ValueError: a CUDA device without CUDA, or a world larger than the
            visible GPUs.
    """
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"Expected CUDA for device={device} (got "
            "torch.cuda.is_available() == False); use "
            "device='cpu' (the scripts' --device cpu)"
        )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistributedContext(device=device)
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ValueError(
                f"Expected at most {torch.cuda.device_count()} processes "
                f"per node, one per GPU (got LOCAL_RANK={local})"
            )
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    backend = backend or ("nccl" if device.type == "cuda" else "gloo")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistributedContext(rank, local, world, device, backend)


def cleanup_distributed() -> None:
    """Leave the process group (no-op if not joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean of ``value`` over processes (itself without distribution).

    Args:
        value (Tensor): Any shape; same on every process.

    Returns:
        Tensor: the mean, a new tensor.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return value.clone()
    out = value.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / dist.get_world_size()


def wrap_ddp(
    module: torch.nn.Module, context: DistributedContext
) -> torch.nn.Module:
    """``module`` under ``DistributedDataParallel`` with several processes.

    Gradients are averaged over the processes at each backward
    (``find_unused_parameters=True``: a step may leave a parameter without
    a gradient). The graph buffers (sparse sampler matrices among them) are
    constants built identically on every rank; DDP cannot broadcast sparse
    tensors, so those are left out of its syncs.

    Args:
        module (torch.nn.Module): The model, on ``context.device``.
        context (DistributedContext): This process.

    Returns:
        torch.nn.Module: the DDP wrapper, or ``module`` itself in one
        process.
    """
    if not context.is_distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    device = context.device
    ids = [device.index] if device.type == "cuda" else None
    sparse = [n for n, b in module.named_buffers() if b.is_sparse]
    ddp = DistributedDataParallel
    ddp._set_params_and_buffers_to_ignore_for_model(module, sparse)
    return DistributedDataParallel(
        module, device_ids=ids, find_unused_parameters=True
    )


def all_ranks_true(flag: torch.Tensor, context: DistributedContext) -> bool:
    """Whether ``flag`` holds on every process (a MIN all-reduce).

    A collective: with several processes every one must call it, and all
    get the same answer.

    Args:
        flag (Tensor): A 0-dim float, ``1.`` (true) or ``0.`` (false), on
            ``context.device`` (NCCL reduces CUDA tensors only); reduced in
            place.
        context (DistributedContext): This process; in one process the
            answer is ``flag`` itself.

    Returns:
        bool: :obj:`True` if ``flag`` is ``1`` on every process.
    """
    if context.is_distributed:
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return flag.item() >= 1


def barrier(context: DistributedContext) -> None:
    """Wait until every process gets here (a no-op in one process).

    Args:
        context (DistributedContext): This process.
    """
    if context.is_distributed:
        dist.barrier()
