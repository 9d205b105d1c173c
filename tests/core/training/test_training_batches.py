"""Data order and per-step randomness depend on the step alone."""

from __future__ import annotations

import torch
from toy_data import ToyStems

from core.training.batches import StepGenerators, batches, step_indices
from core.training.validation import validation_batches

CPU = torch.device("cpu")


def test_each_step_takes_the_next_batch_of_indices_split_between_ranks():
    assert step_indices(0, 4) == [0, 1, 2, 3]
    assert step_indices(5, 4) == [20, 21, 22, 23]
    assert step_indices(5, 4, rank=0, world_size=2) + step_indices(5, 4, rank=1, world_size=2) == [20, 21, 22, 23]


def test_a_stream_started_at_step_s_equals_the_tail_of_one_started_at_zero():
    dataset = ToyStems(64)
    from_zero = batches(dataset, 0, 2, CPU)
    whole = [next(from_zero) for _ in range(4)]
    resumed = batches(dataset, 2, 2, CPU)
    for expected in whole[2:]:
        batch = next(resumed)
        assert batch.mixture.shape == (2, 1, 64) and batch.labels.dtype == torch.long
        assert torch.equal(batch.mixture, expected.mixture)
        assert torch.equal(batch.target, expected.target)
        assert torch.equal(batch.labels, expected.labels)


def test_step_generators_depend_on_seed_step_and_rank():
    def draw(seed, step, rank):
        generators = StepGenerators.create(CPU).reseed(seed, step, rank)
        return torch.randn(3, generator=generators.local), torch.randn(3, generator=generators.shared)

    local, shared = draw(1, 10, 0)
    assert torch.equal(draw(1, 10, 0)[0], local)
    other_rank_local, other_rank_shared = draw(1, 10, 1)
    assert not torch.equal(other_rank_local, local) and torch.equal(other_rank_shared, shared)
    assert not torch.equal(draw(1, 11, 0)[0], local)
    assert not torch.equal(draw(2, 10, 0)[0], local)


def test_validation_crops_skip_silent_targets_and_are_fixed():
    class SomeSilent(ToyStems):
        def __getitem__(self, index):
            mixture, target, label = super().__getitem__(index)
            return mixture, target * (index % 2), label

    crops = validation_batches(SomeSilent(64), count=3, batch=2, device=CPU)
    assert [len(batch) for batch in crops] == [2, 1]
    again = validation_batches(SomeSilent(64), count=3, batch=2, device=CPU)
    for a, b in zip(crops, again, strict=True):
        assert torch.equal(a.target, b.target)
    assert all(batch.target.abs().amax() > 0 for batch in crops)


def test_validation_crops_skip_targets_that_play_alone():
    """A crop whose mixture is its target alone is no separation problem (core/METHOD.md
    section 6 drops such windows); it would score the mixture at about +90 dB."""
    class SomeSolo(ToyStems):
        def __getitem__(self, index):
            mixture, target, label = super().__getitem__(index)
            return (target.clone() if index % 3 == 0 else mixture), target, label

    crops = validation_batches(SomeSolo(64), count=4, batch=4, device=CPU)
    assert [len(batch) for batch in crops] == [4]
    for batch in crops:
        assert ((batch.mixture - batch.target).abs().amax(-1) > 0).all()
