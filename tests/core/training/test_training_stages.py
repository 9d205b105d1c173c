"""Each stage's loss goes down when its optimiser steps on a fixed batch."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from core.nn.unet import UNet
from core.training.batches import StepGenerators
from core.training.diffusion import DiffusionStage
from core.training.distill import DistillStage, teacher_steps_distribution
from core.training.ema import EMA
from core.training.extractor import ExtractorStage
from core.training.loop import make_optimizer
from core.training.refiner_config import DiffusionConfig, DistillConfig
from core.training.resolved import resolve

CPU = torch.device("cpu")


def tiny_unet(noise_conditioned: bool, seed: int) -> UNet:
    torch.manual_seed(seed)
    return UNet(resolve(DiffusionConfig(data="-", extractor="-", net="tiny")).net, noise_conditioned)


def build(stage_name: str, tiny_resolved):
    """A stage on the CPU with lr 1e-3 (a few steps must show), frozen nets random."""
    base = {"data": "-", "net": "tiny", "segment_seconds": tiny_resolved.config.segment_seconds,
            "batch": 4, "steps": 4, "lr": 1e-3}
    torch.manual_seed(0)
    if stage_name == "extractor":
        resolved = resolve(dataclasses.replace(tiny_resolved.config, lr=1e-3))
        return ExtractorStage(resolved, CPU), resolved
    extractor = tiny_unet(False, 1)
    if stage_name == "diffusion":
        resolved = resolve(DiffusionConfig(extractor="-", **base))
        return DiffusionStage(resolved, extractor, CPU), resolved
    resolved = resolve(DistillConfig(extractor="-", teacher="-", **base))
    return DistillStage(resolved, extractor, tiny_unet(True, 2), CPU), resolved


def losses_on_fixed_batch(stage, resolved, batch, steps: int) -> list[float]:
    """Loss before each of ``steps`` optimiser steps and after the last, with the same
    noise every time (generators re-seeded) and a fixed EMA target."""
    optimizer = make_optimizer(stage.network.parameters(), resolved)
    target = EMA(stage.network, 0.999).module
    generators = StepGenerators.create(CPU)
    losses = []
    for _ in range(steps + 1):
        generators.reseed(seed=0, step=0, rank=0)
        loss, parts = stage.loss(stage.network, target, batch, generators)
        assert loss.dtype == torch.float32 and loss.dim() == 0
        losses.append(float(loss.detach()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses


@pytest.mark.parametrize("stage_name", ["extractor", "diffusion", "distill"])
def test_optimiser_steps_lower_the_loss_on_a_fixed_batch(stage_name, tiny_resolved, toy_batch):
    stage, resolved = build(stage_name, tiny_resolved)
    # the anchored teacher starts with a zero output layer (it returns x_det), so its
    # first steps only grow that layer: it needs a few more of them to show
    steps = 10 if stage_name == "diffusion" else 5
    losses = losses_on_fixed_batch(stage, resolved, toy_batch, steps=steps)
    assert all(after < before for before, after in zip(losses, losses[1:], strict=False)), losses
    assert losses[-1] < 0.98 * losses[0], losses


def test_an_untrained_anchored_teacher_returns_x_det_and_learns_its_error(tiny_resolved, toy_batch):
    stage, resolved = build("diffusion", tiny_resolved)
    x_det, conditioning = stage.extractor(toy_batch)
    sigma = torch.full((len(toy_batch),), 0.05)
    denoised = stage.network(x_det, sigma, toy_batch.labels, mixture=toy_batch.mixture,
                             anchor=x_det, **conditioning)
    assert torch.equal(denoised, x_det)
    noisy = x_det + 0.05 * torch.randn_like(x_det)
    shrunk = stage.network(noisy, sigma, toy_batch.labels, mixture=toy_batch.mixture,
                           anchor=x_det, **conditioning)
    c_skip = 0.05**2 / (0.05**2 + stage.network.sigma_data**2)
    torch.testing.assert_close(shrunk, x_det + c_skip * (noisy - x_det))
    losses_on_fixed_batch(stage, resolved, toy_batch, steps=2)
    moved = stage.network(x_det, sigma, toy_batch.labels, mixture=toy_batch.mixture,
                          anchor=x_det, **conditioning)
    assert not torch.equal(moved, x_det)


def test_the_paper_anchor_keeps_the_paper_teacher(tiny_resolved):
    base = {"data": "-", "net": "tiny", "segment_seconds": tiny_resolved.config.segment_seconds,
            "batch": 4, "steps": 4, "anchor": "zero", "warm_start": False, "sigma_train_range": None}
    resolved = resolve(DiffusionConfig(extractor="-", **base))
    stage = DiffusionStage(resolved, tiny_unet(False, 1), CPU)
    assert stage.network.sigma_data == 0.2
    assert stage.network.net.unpatcher.block.shortcut.weight.abs().sum() > 0


def test_warm_start_copies_the_extractor_where_shapes_match(tiny_resolved):
    extractor = tiny_unet(False, 1)
    stage, _ = build("diffusion", tiny_resolved)
    refiner = stage.network.net.state_dict()
    source = extractor.state_dict()
    shared = [k for k in source if k in refiner and refiner[k].shape == source[k].shape]
    assert len(shared) > 0.8 * len(source)
    for key in shared:
        if key.startswith("unpatcher.block.conv2") or key.startswith("unpatcher.block.shortcut"):
            assert not refiner[key].any(), key
        else:
            assert torch.equal(refiner[key], source[key]), key


def test_distill_loss_parts_and_teacher_step_count(tiny_resolved, toy_batch):
    stage, _ = build("distill", tiny_resolved)
    generators = StepGenerators.create(CPU).reseed(seed=3, step=7, rank=0)
    loss, parts = stage.loss(stage.network, EMA(stage.network, 0.999).module, toy_batch, generators)
    config = stage.config
    assert 1 <= parts["teacher_steps"] <= config.k_max
    expected = (config.consistency_weight * parts["loss_consistency"]
                + config.denoising_weight * parts["loss_denoising"]
                + config.predictive_weight * parts["loss_predictive"])
    torch.testing.assert_close(loss.detach(), expected)


def test_a_predictive_student_never_runs_the_teacher(tiny_resolved, toy_batch, monkeypatch):
    stage, _ = build("distill", tiny_resolved)
    stage.config = dataclasses.replace(stage.config, consistency_weight=0.0)

    def forbidden(*args, **kwargs):
        raise AssertionError("the teacher ran although the consistency term is off")

    monkeypatch.setattr(stage, "teacher_trajectory", forbidden)
    generators = StepGenerators.create(CPU).reseed(seed=3, step=7, rank=0)
    loss, parts = stage.loss(stage.network, EMA(stage.network, 0.999).module, toy_batch, generators)
    assert set(parts) == {"loss_denoising", "loss_predictive"}
    expected = (stage.config.denoising_weight * parts["loss_denoising"]
                + stage.config.predictive_weight * parts["loss_predictive"])
    torch.testing.assert_close(loss.detach(), expected)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in stage.network.parameters())


def test_teacher_steps_are_drawn_proportionally_to_k():
    probabilities = teacher_steps_distribution(4)
    torch.testing.assert_close(probabilities, torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64))


def test_the_student_starts_as_a_copy_of_the_teacher(tiny_resolved):
    stage, _ = build("distill", tiny_resolved)
    teacher_state = stage.teacher.net.state_dict()
    for key, value in stage.network.net.state_dict().items():
        assert torch.equal(value, teacher_state[key]), key
    assert all(p.requires_grad for p in stage.network.parameters())
    assert not any(p.requires_grad for p in stage.teacher.parameters())
    assert not any(p.requires_grad for p in stage.extractor.net.parameters())


def test_the_mse_predictive_term_is_the_squared_error_over_sd_squared(tiny_resolved, toy_batch):
    stage, _ = build("distill", tiny_resolved)
    stage.config = dataclasses.replace(stage.config, consistency_weight=0.0, denoising_weight=0.0,
                                       predictive_loss="mse")
    generators = StepGenerators.create(CPU).reseed(seed=3, step=7, rank=0)
    _, parts = stage.loss(stage.network, stage.network, toy_batch, generators)
    # the student starts as x_det + c_skip (x_s - x_det) with a zero output layer
    generators.reseed(seed=3, step=7, rank=0)
    local = generators.local
    x_det, _ = stage.extractor(toy_batch)
    from core.diffusion.samplers import draw_noise
    from core.training.diffusion import training_sigmas

    sigma = training_sigmas(stage.config, len(toy_batch), local).clamp_min(stage.config.sigma_min)
    x_s = x_det + sigma.reshape(-1, 1, 1) * draw_noise(x_det, local)
    with torch.no_grad():
        one_step = stage.network(x_s, sigma, toy_batch.labels, mixture=toy_batch.mixture, anchor=x_det,
                                 **stage.extractor(toy_batch)[1]).clamp(-1, 1)
    expected = ((one_step - toy_batch.target) ** 2).mean() / stage.config.data_scale**2
    assert set(parts) == {"loss_predictive"}  # a term of weight 0 is not computed
    torch.testing.assert_close(parts["loss_predictive"], expected)


def test_the_output_layer_gets_its_own_learning_rate(tiny_resolved):
    stage, resolved = build("distill", tiny_resolved)
    stage.config = dataclasses.replace(stage.config, output_lr_scale=20.0)
    groups = stage.parameter_groups(1e-3)
    assert [group["lr"] for group in groups] == [1e-3, pytest.approx(2e-2)]
    block = stage.network.net.unpatcher.block
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in (*block.conv2.parameters(),
                                                                     *block.shortcut.parameters())}
    every = [id(p) for group in groups for p in group["params"]]
    assert sorted(every) == sorted(id(p) for p in stage.network.parameters())
    optimizer = make_optimizer(groups, resolved)
    assert [group["lr"] for group in optimizer.param_groups] == [1e-3, pytest.approx(2e-2)]
