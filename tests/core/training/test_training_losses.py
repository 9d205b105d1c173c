"""The extractor's ``l1_stft`` loss: waveform L1, multi-resolution STFT, L1-SNR."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from test_training_stages import losses_on_fixed_batch

from core.errors import ConfigError
from core.training.config import ExtractorConfig
from core.training.extractor import ExtractorStage
from core.training.losses import l1_snr_loss, l1_stft_loss, multi_resolution_stft_loss, stft
from core.training.resolved import resolve

CPU = torch.device("cpu")
RATE = 22050


def tone(frequency: float, length: int = 8192, amplitude: float = 0.3) -> torch.Tensor:
    t = torch.arange(length) / RATE
    return (amplitude * torch.sin(2 * math.pi * frequency * t)).reshape(1, 1, -1)


def test_the_stft_has_the_documented_shape_and_scale():
    x = tone(46 * RATE / 1024)  # on bin 46: no scalloping
    spec = stft(x, 1024)
    assert spec.shape == (1, 513, 8192 // 256 + 1)
    # normalized=True: a sine's peak bin is amplitude * sum(window) / (2 sqrt(n))
    peak = float(spec.abs()[0, :, 5:-5].max(dim=0).values.mean())
    assert peak == pytest.approx(0.3 * 512 / (2 * math.sqrt(1024)), rel=0.02)


def test_a_perfect_estimate_costs_nothing():
    target, mixture = tone(220.0), tone(220.0) + tone(3000.0)
    loss, parts = l1_stft_loss(target, target, mixture, complex_weight=1.0)
    assert float(loss) == 0.0 and set(parts) == {"loss_l1", "loss_stft"}


def test_magnitude_is_blind_to_phase_and_the_complex_term_is_not():
    target = tone(440.0)
    flipped = -target
    assert float(multi_resolution_stft_loss(flipped, target)) == pytest.approx(0.0, abs=1e-6)
    complex_only = dict(magnitude_weight=0.0, complex_weight=1.0)
    silence = multi_resolution_stft_loss(torch.zeros_like(target), target, **complex_only)
    assert float(silence) > 0
    # |Re(-S - S)| + |Im(-S - S)| = 2 (|Re S| + |Im S|): twice the error of silence
    assert float(multi_resolution_stft_loss(flipped, target, **complex_only)) == pytest.approx(
        2 * float(silence), rel=1e-5
    )


def test_short_crops_shorter_than_the_largest_fft_work():
    target = torch.randn(2, 1, 256, generator=torch.Generator().manual_seed(0))
    loss, _ = l1_stft_loss(0.5 * target, target, target)
    assert math.isfinite(float(loss)) and float(loss) > 0


def test_l1_snr_is_zero_for_silence_negative_for_good_estimates_and_scale_free():
    generator = torch.Generator().manual_seed(1)
    target = torch.randn(3, 1, 512, generator=generator)
    mixture = target + torch.randn(3, 1, 512, generator=generator)
    silent = torch.zeros_like(target)
    assert float(l1_snr_loss(silent, silent, mixture, 1e-3)) == pytest.approx(0.0, abs=1e-5)
    estimate = target + 0.1 * torch.randn(3, 1, 512, generator=generator)
    loud = l1_snr_loss(estimate, target, mixture, 1e-3)
    quiet = l1_snr_loss(0.01 * estimate, 0.01 * target, 0.01 * mixture, 1e-3)
    # an error a tenth of the target in L1: 10 log10(1/10) = -10 dB
    assert float(loud) == pytest.approx(-10.0, abs=0.5) and float(quiet) == pytest.approx(float(loud), abs=1e-3)


def test_the_snr_weight_adds_the_l1_snr_term():
    generator = torch.Generator().manual_seed(2)
    target = torch.randn(2, 1, 1024, generator=generator)
    estimate = target + 0.2 * torch.randn(2, 1, 1024, generator=generator)
    without, _ = l1_stft_loss(estimate, target, target)
    with_snr, parts = l1_stft_loss(estimate, target, target, snr_weight=0.5)
    assert float(with_snr) == pytest.approx(float(without) + 0.5 * float(parts["loss_l1snr"]), rel=1e-5)


def test_the_l1_stft_loss_goes_down_with_optimiser_steps(tiny_resolved, toy_batch):
    torch.manual_seed(0)
    resolved = resolve(dataclasses.replace(tiny_resolved.config, lr=1e-3, loss="l1_stft"))
    stage = ExtractorStage(resolved, CPU)
    losses = losses_on_fixed_batch(stage, resolved, toy_batch, steps=5)
    assert losses[-1] < 0.9 * losses[0], losses


def test_the_loss_settings_round_trip_and_are_checked():
    config = ExtractorConfig(data="-", net="tiny", loss="l1_stft", stft_sizes=[256, 1024])
    assert config.stft_sizes == (256, 1024)
    assert ExtractorConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="powers of two"):
        ExtractorConfig(data="-", net="tiny", stft_sizes=(1000,))
    with pytest.raises(ConfigError, match="must be >= 0"):
        ExtractorConfig(data="-", net="tiny", l1snr_weight=-1.0)
