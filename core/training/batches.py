"""The data order of a run, and the per-step random generators.

A run's crops come from a random-access dataset whose item i is a deterministic
function of (seed, i). Step s of a run with (global) batch B uses items

    s * B, s * B + 1, ..., s * B + B - 1,

split between the W distributed processes in contiguous slices: rank r takes
``s * B + r * B/W + j`` for j = 0 .. B/W - 1. The data order therefore depends only on
the step, not on the number of processes or on when the run was interrupted: resuming
at step s reads exactly what an uninterrupted run would have read.

The training noise (noise levels, Gaussian noise, distillation indices) comes from
generators re-seeded at every step from (seed, step[, rank]), so it too is a function
of the step alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler


def step_indices(step: int, batch: int, rank: int = 0, world_size: int = 1) -> list[int]:
    """Dataset indices of this rank's share of step ``step`` (see the module doc)."""
    local = batch // world_size
    start = step * batch + rank * local
    return list(range(start, start + local))


class StepBatchSampler(Sampler[list[int]]):
    """Yields :func:`step_indices` for steps ``start, start + 1, ...`` (without end)."""

    def __init__(self, start: int, batch: int, rank: int = 0, world_size: int = 1) -> None:
        self.start = start
        self.batch = batch
        self.rank = rank
        self.world_size = world_size

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start
        while True:
            yield step_indices(step, self.batch, self.rank, self.world_size)
            step += 1


@dataclass
class Batch:
    """One training batch on the training device.

    Attributes:
        mixture: ``(B, 1, L)`` mixtures.
        target: ``(B, 1, L)`` the labelled instrument's stem.
        labels: ``(B,)`` instrument indices.
    """

    mixture: torch.Tensor
    target: torch.Tensor
    labels: torch.Tensor

    @classmethod
    def from_items(cls, items, device: torch.device) -> Batch:
        """From collated ``(mixture (B, L), target (B, L), labels (B,))``."""
        mixture, target, labels = items
        as_signal = lambda t: torch.as_tensor(t, dtype=torch.float32)[:, None, :].to(device)  # noqa: E731
        return cls(as_signal(mixture), as_signal(target), torch.as_tensor(labels).long().to(device))

    def __len__(self) -> int:
        return self.labels.shape[0]


def collate(items: list) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """List of dataset items ``(mixture (L,), target (L,), label)`` -> stacked tensors."""
    mixtures, targets, labels = zip(*items, strict=True)
    return (
        torch.stack([torch.as_tensor(np.asarray(m), dtype=torch.float32) for m in mixtures]),
        torch.stack([torch.as_tensor(np.asarray(t), dtype=torch.float32) for t in targets]),
        torch.as_tensor([int(label) for label in labels]),
    )


def batches(
    dataset: Dataset,
    start_step: int,
    batch: int,
    device: torch.device,
    rank: int = 0,
    world_size: int = 1,
    workers: int = 0,
) -> Iterator[Batch]:
    """Endless :class:`Batch` stream of this rank, from ``start_step`` on."""
    loader = DataLoader(
        dataset,
        batch_sampler=StepBatchSampler(start_step, batch, rank, world_size),
        num_workers=workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )
    for items in loader:
        yield Batch.from_items(items, device)


def step_seed(seed: int, step: int, rank: int | None = None) -> int:
    """A 63-bit seed mixed from (seed, step[, rank]) by NumPy's SeedSequence."""
    entropy = [seed, step] if rank is None else [seed, step, rank + 1]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclass
class StepGenerators:
    """The two generators of one step.

    Attributes:
        local: on the training device, seeded from (seed, step, rank): this rank's noise.
        shared: on the CPU, seeded from (seed, step): choices every rank must agree on
            (e.g. the number of teacher steps k, so the ranks do equal work).
    """

    local: torch.Generator
    shared: torch.Generator

    @classmethod
    def create(cls, device: torch.device) -> StepGenerators:
        return cls(torch.Generator(device=device), torch.Generator())

    def reseed(self, seed: int, step: int, rank: int) -> StepGenerators:
        self.local.manual_seed(step_seed(seed, step, rank))
        self.shared.manual_seed(step_seed(seed, step))
        return self
