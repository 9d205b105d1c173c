"""The extractor's thresholded SNR loss and fine-tuning from another run (--init-from)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from test_training_stages import losses_on_fixed_batch
from tiny_runs import run

from core.errors import ConfigError
from core.training.config import ExtractorConfig
from core.training.extractor import ExtractorStage
from core.training.losses import thresholded_snr_loss
from core.training.resolved import resolve
from core.training.runs import open_run

CPU = torch.device("cpu")


def signals(seed: int = 0, batch: int = 3, length: int = 512):
    generator = torch.Generator().manual_seed(seed)
    target = torch.randn(batch, 1, length, generator=generator)
    mixture = target + torch.randn(batch, 1, length, generator=generator)
    return target, mixture


def test_a_perfect_estimate_reaches_the_threshold_cap():
    target, mixture = signals()
    tau = 1e-3
    loss = thresholded_snr_loss(target, target, mixture, tau)
    floor = tau * mixture.pow(2).sum(-1) + 1e-8
    expected = (10 * torch.log10(floor) - 10 * torch.log10(target.pow(2).sum(-1) + floor)).mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    assert float(loss) < -25  # about -30 dB + the target-to-mixture ratio of -3 dB


def test_silence_for_a_silent_target_costs_nothing_and_noise_costs_more():
    target, mixture = signals()
    silent = torch.zeros_like(target)
    assert float(thresholded_snr_loss(silent, silent, mixture, 1e-3)) == pytest.approx(0.0, abs=1e-5)
    assert float(thresholded_snr_loss(0.1 * mixture, silent, mixture, 1e-3)) > 5.0


def test_the_loss_is_scale_free_so_quiet_stems_weigh_like_loud_ones():
    target, mixture = signals()
    estimate = target + 0.3 * torch.randn_like(target)
    loud = thresholded_snr_loss(estimate, target, mixture, 1e-3)
    quiet = thresholded_snr_loss(0.01 * estimate, 0.01 * target, 0.01 * mixture, 1e-3)
    assert float(quiet) == pytest.approx(float(loud), abs=1e-3)
    # MSE, by contrast, shrinks 10^4-fold for the same mistake on the quieter stem
    assert torch.mean((0.01 * estimate - 0.01 * target) ** 2) < 1e-3 * torch.mean((estimate - target) ** 2)


def test_the_snr_loss_goes_down_with_optimiser_steps(tiny_resolved, toy_batch):
    torch.manual_seed(0)
    resolved = resolve(dataclasses.replace(tiny_resolved.config, lr=1e-3, loss="snr"))
    stage = ExtractorStage(resolved, CPU)
    losses = losses_on_fixed_batch(stage, resolved, toy_batch, steps=5)
    assert losses[-1] < losses[0] - 0.1, losses


def test_unknown_losses_are_refused():
    with pytest.raises(ConfigError, match="loss must be one of mse, snr"):
        ExtractorConfig(data="-", net="tiny", loss="l1")


def test_init_from_starts_with_the_other_runs_ema_weights(tmp_path):
    run("extractor", tmp_path / "first", steps=3)
    first = open_run(tmp_path / "first", "extractor")
    run("extractor", tmp_path / "second", steps=0, init_from=str(tmp_path / "first"), loss="snr")
    second = open_run(tmp_path / "second", "extractor")
    assert second.resolved.config.init_from == str(tmp_path / "first")
    for name, value in first.ema_state.items():
        assert torch.equal(second.ema_state[name], value), name
    # a random start would differ
    fresh = run("extractor", tmp_path / "fresh", steps=0)
    assert fresh is not None
    fresh_state = open_run(tmp_path / "fresh", "extractor").ema_state
    assert any(not torch.equal(fresh_state[n], v) for n, v in first.ema_state.items())


def test_init_from_another_architecture_is_refused(tmp_path):
    run("extractor", tmp_path / "first", steps=1)
    config = open_run(tmp_path / "first").resolved.config
    assert math.isfinite(config.lr)
    with pytest.raises(ConfigError, match="architecture"):
        run("extractor", tmp_path / "second", steps=0, init_from=str(tmp_path / "first"), net="lite")


def test_init_from_a_bundle_starts_with_its_extractor(tmp_path):
    from core.training.export import export_bundle

    run("extractor", tmp_path / "first", steps=2)
    first = open_run(tmp_path / "first", "extractor")
    bundle = export_bundle(tmp_path / "first", None, tmp_path / "bundle", "tiny-test", fp16=False)
    run("extractor", tmp_path / "second", steps=0, init_from=str(bundle))
    second = open_run(tmp_path / "second", "extractor")
    for name, value in first.ema_state.items():
        assert torch.equal(second.ema_state[name], value), name


def test_init_from_a_bundle_of_another_architecture_is_refused(tmp_path):
    from core.training.export import export_bundle

    run("extractor", tmp_path / "first", steps=1)
    bundle = export_bundle(tmp_path / "first", None, tmp_path / "bundle", "tiny-test", fp16=False)
    with pytest.raises(ConfigError, match="architecture"):
        run("extractor", tmp_path / "second", steps=0, init_from=str(bundle), net="lite")
