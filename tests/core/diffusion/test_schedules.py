"""Karras schedules and training noise levels."""

import math

import pytest
import torch

from core.diffusion.schedules import consistency_sigmas, karras_sigmas, lognormal_sigmas


def test_karras_end_points_and_order():
    sigmas = karras_sigmas(18, 10.0, 1e-4, rho=9.0)
    assert sigmas.dtype == torch.float32 and sigmas.shape == (18,)
    assert sigmas[0].item() == pytest.approx(10.0) and sigmas[-1].item() == pytest.approx(1e-4)
    assert torch.all(sigmas[1:] < sigmas[:-1])


def test_karras_matches_the_formula():
    n, hi, lo, rho = 5, 0.25, 1e-4, 9.0
    sigmas = karras_sigmas(n, hi, lo, rho)
    for i in range(n):
        expected = (hi ** (1 / rho) + i / (n - 1) * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
        assert sigmas[i].item() == pytest.approx(expected, rel=1e-6)


def test_single_point_and_trailing_zero():
    assert karras_sigmas(1, 0.5).tolist() == [0.5]
    with_zero = karras_sigmas(3, 1.0, append_zero=True)
    assert with_zero.shape == (4,) and with_zero[-1].item() == 0.0
    with pytest.raises(ValueError):
        karras_sigmas(0, 1.0)
    with pytest.raises(ValueError):
        karras_sigmas(3, 1e-5, 1e-4)


def test_consistency_schedule_has_one_more_point_than_steps():
    sigmas = consistency_sigmas(4, 0.25)
    assert sigmas.shape == (5,)
    assert sigmas[-1].item() == torch.tensor(1e-4).item()  # exactly eps in float32
    with pytest.raises(ValueError):
        consistency_sigmas(0, 0.25)


def test_lognormal_training_sigmas():
    sigmas = lognormal_sigmas(20000, torch.Generator().manual_seed(0), p_mean=-3.0, p_std=1.0)
    logs = sigmas.log()
    assert logs.mean().item() == pytest.approx(-3.0, abs=0.05)
    assert logs.std().item() == pytest.approx(1.0, abs=0.05)
    again = lognormal_sigmas(20000, torch.Generator().manual_seed(0))
    assert torch.equal(sigmas, again)
    assert math.isfinite(sigmas.max().item())
