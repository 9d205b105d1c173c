"""SI-SDR, SI-SDRi and the silence rule of the evaluation protocol."""

import math

import pytest
import torch

from core.evaluation.metrics import SILENCE_THRESHOLD, is_silent, si_sdr, si_sdr_improvement

N = 8000


def _reference_and_orthogonal() -> tuple[torch.Tensor, torch.Tensor]:
    """A sine and a cosine of the same frequency over whole periods: exactly orthogonal."""
    t = torch.arange(N, dtype=torch.float64)
    return torch.sin(2 * math.pi * 10 * t / N), torch.cos(2 * math.pi * 10 * t / N)


def test_known_value_of_a_constructed_estimate():
    reference, orthogonal = _reference_and_orthogonal()
    # estimate = 0.5 * s + e with e orthogonal to s: alpha = 0.5, SI-SDR = 10 log10(0.25 |s|^2 / |e|^2)
    error = 0.05 * orthogonal
    estimate = 0.5 * reference + error
    expected = 10 * math.log10(0.25 * float((reference**2).sum()) / float((error**2).sum()))
    assert float(si_sdr(estimate, reference)) == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(10 * math.log10(100), abs=1e-9)  # 0.25 / 0.0025 = 100


def test_scale_invariance():
    reference, orthogonal = _reference_and_orthogonal()
    estimate = reference + 0.3 * orthogonal + 0.1 * torch.randn(N, generator=torch.Generator().manual_seed(0),
                                                               dtype=torch.float64)
    base = float(si_sdr(estimate, reference))
    for scale in (0.01, 3.0, 250.0):  # equal up to the eps regulariser (1.2e-7 against energies ~ 1)
        assert float(si_sdr(scale * estimate, reference)) == pytest.approx(base, abs=1e-4)
        assert float(si_sdr(estimate, scale * reference)) == pytest.approx(base, abs=1e-4)
    assert float(si_sdr(-2.0 * estimate, reference)) == pytest.approx(base, abs=1e-4)


def test_perfect_estimate_is_large_and_finite():
    reference, _ = _reference_and_orthogonal()
    value = si_sdr(reference.clone(), reference)
    assert torch.isfinite(value)
    assert float(value) > 100.0
    assert float(value) > float(si_sdr(reference + 1e-3, reference))


def test_silent_reference_gives_finite_values():
    silent = torch.zeros(N)
    estimate = torch.randn(N, generator=torch.Generator().manual_seed(1))
    assert torch.isfinite(si_sdr(estimate, silent))
    assert torch.isfinite(si_sdr_improvement(estimate, estimate + 1, silent))


def test_improvement_of_the_mixture_is_exactly_zero_and_shapes_broadcast():
    generator = torch.Generator().manual_seed(2)
    stems = torch.randn(3, 4, N, generator=generator)
    mixture = stems.sum(1, keepdim=True)
    values = si_sdr_improvement(mixture.expand_as(stems), mixture, stems)
    assert values.shape == (3, 4)
    assert torch.equal(values, torch.zeros(3, 4, dtype=torch.float64))
    better = si_sdr_improvement(stems + 0.01 * torch.randn(stems.shape, generator=generator), mixture, stems)
    assert bool((better > 0).all())


def test_silence_rule_is_l2_norm_divided_by_n():
    n = 88200
    # A constant c has ||x||_2 / n = c / sqrt(n): the threshold sits at c = 1.5e-5 * sqrt(n).
    edge = SILENCE_THRESHOLD * math.sqrt(n)
    below = torch.full((n,), edge * 0.99)
    above = torch.full((n,), edge * 1.01)
    assert bool(is_silent(below))
    assert not bool(is_silent(above))
    # Not the RMS rule: an RMS of 1e-3 is well above 1.5e-5 yet silent by the L2 / n rule.
    assert bool(is_silent(torch.full((n,), 1e-3)))
    both = torch.stack([below, above])
    assert is_silent(both).tolist() == [True, False]
