"""Several processes, one run: PyTorch's own distributed engine (torchrun + DDP).

Launch with ``torchrun --nproc_per_node N -m core.cli train ...`` (or
``python -m torch.distributed.run``); torchrun sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` and this module joins the group
with ``init_method="env://"``: NCCL on CUDA (one GPU per process, ``cuda:LOCAL_RANK``),
gloo elsewhere. Without those variables the run is a single process and nothing here
touches ``torch.distributed``.

Rank 0 alone writes the run folder (config, logs, checkpoints); every rank computes
the same data order (see :mod:`core.training.batches`) and DDP averages gradients, so
all ranks keep identical weights.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from core.devices import resolve_device


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in the run.

    Attributes:
        rank: this process's index (0 writes the run folder).
        world_size: number of processes.
        device: where this process trains.
    """

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def launched_world_size() -> int:
    """``WORLD_SIZE`` set by torchrun (1 when not launched by it)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup(device_name: str) -> Distributed:
    """Join the process group if torchrun launched several processes; pick the device."""
    world_size = launched_world_size()
    device = resolve_device(device_name)
    if world_size <= 1:
        return Distributed(0, 1, device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method="env://")
    return Distributed(dist.get_rank(), dist.get_world_size(), device)


def teardown(context: Distributed) -> None:
    """Leave the process group (no-op for a single process)."""
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()


def any_rank(flag: bool, context: Distributed) -> bool:
    """True on every rank when ``flag`` is True on at least one (a collective call:
    every rank must call it at the same step)."""
    if not context.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=context.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def barrier(context: Distributed) -> None:
    """Wait for every rank (no-op for a single process)."""
    if context.enabled:
        dist.barrier()


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; nothing elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
