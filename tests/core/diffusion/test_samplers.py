"""Samplers against denoisers whose answers are known in closed form."""

import math

import pytest
import torch

from core.diffusion.samplers import consistency_sampler, euler_sampler, heun_step
from core.diffusion.schedules import consistency_sigmas, karras_sigmas
from core.errors import Cancelled
from core.progress import CancelToken

SD = 0.2  # data standard deviation of the Gaussian toy problem
EPS = 1e-4


def gaussian_denoiser(x, sigma):
    """Ideal denoiser for data ~ N(0, SD^2): E[x0 | x] = x * SD^2 / (s^2 + SD^2)."""
    s = sigma.reshape(-1, 1, 1)
    return x * SD**2 / (s**2 + SD**2)


def gaussian_consistency(x, sigma):
    """Exact consistency function of the same problem: the ODE solution from s to eps."""
    s = sigma.reshape(-1, 1, 1)
    return x * math.sqrt(EPS**2 + SD**2) / (s**2 + SD**2).sqrt()


def point_denoiser(target):
    """Ideal denoiser for data that is the single point ``target``: D(x, s) = target."""
    return lambda x, sigma: target.expand_as(x).clone()


class Counter:
    def __init__(self, denoiser):
        self.denoiser, self.calls = denoiser, 0

    def __call__(self, x, sigma):
        self.calls += 1
        return self.denoiser(x, sigma)


def test_euler_lands_on_the_data_point():
    target = torch.rand(2, 1, 64) * 2 - 1
    x_det = torch.zeros(2, 1, 64)
    sigmas = karras_sigmas(6, 0.5, append_zero=True)
    for churn in (0.0, 5.0):
        out = euler_sampler(point_denoiser(target), x_det, sigmas, torch.Generator().manual_seed(0), s_churn=churn)
        torch.testing.assert_close(out, target)


def test_consistency_sampler_lands_on_the_data_point():
    target = torch.rand(3, 1, 32) * 2 - 1
    for steps in (1, 2, 4):
        counter = Counter(point_denoiser(target))
        out = consistency_sampler(counter, torch.zeros_like(target), consistency_sigmas(steps, 0.25), torch.Generator())
        assert torch.equal(out, target)
        assert counter.calls == steps


def test_deterministic_euler_follows_the_probability_flow_ode():
    """For Gaussian data the ODE solution is x(s) = x(s0) sqrt(s^2 + SD^2) / sqrt(s0^2 + SD^2)."""
    generator = torch.Generator().manual_seed(0)
    x_det = torch.zeros(1, 1, 4096)
    sigma_max = 1.0
    sigmas = karras_sigmas(400, sigma_max, 1e-3, rho=7.0, append_zero=True)
    out = euler_sampler(gaussian_denoiser, x_det, sigmas, generator)
    start = sigma_max * torch.randn(x_det.shape, generator=torch.Generator().manual_seed(0))
    expected = start * SD / math.sqrt(sigma_max**2 + SD**2)
    torch.testing.assert_close(out, expected, rtol=2e-2, atol=1e-3)


def test_heun_step_is_second_order_accurate():
    """Local error of a step of size h: O(h^3) for Heun (halving h divides it by ~8),
    O(h^2) for Euler (~4)."""
    x = torch.randn(3, 1, 256, dtype=torch.float64)
    s = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)

    def errors(h):
        s_next = s - h
        exact = x * ((s_next**2 + SD**2) / (s**2 + SD**2)).sqrt().reshape(-1, 1, 1)
        heun = heun_step(gaussian_denoiser, x, s, s_next)
        d = (x - gaussian_denoiser(x, s)) / s.reshape(-1, 1, 1)
        euler = x - h * d
        return (heun - exact).abs().max().item(), (euler - exact).abs().max().item()

    (heun_1, euler_1), (heun_2, euler_2) = errors(0.02), errors(0.01)
    assert heun_1 < euler_1 / 10
    assert 6 < heun_1 / heun_2 < 10
    assert 3 < euler_1 / euler_2 < 5
    # items whose next level is 0 take the Euler step, which lands on the denoiser output
    mixed = heun_step(gaussian_denoiser, x, s, torch.tensor([0.0, 0.25, 0.0], dtype=torch.float64))
    torch.testing.assert_close(mixed[[0, 2]], gaussian_denoiser(x, s)[[0, 2]])
    torch.testing.assert_close(mixed[1], heun_step(gaussian_denoiser, x[1:2], 0.3, 0.25)[0])


def test_euler_with_churn_samples_the_data_distribution():
    """Started from pure noise (x_det = 0, sigma_max >> SD) it must produce N(0, SD^2), up to
    Euler's first-order bias, which shrinks as the steps get finer."""
    x_det = torch.zeros(1, 1, 40000)
    errors = []
    for steps in (50, 200):
        sigmas = karras_sigmas(steps, 20.0, 2e-3, rho=9.0, append_zero=True)
        out = euler_sampler(gaussian_denoiser, x_det, sigmas, torch.Generator().manual_seed(1), s_churn=10.0)
        assert abs(out.mean().item()) < 0.01
        errors.append(abs(out.std().item() - SD))
    assert errors[1] < 0.04 * SD
    assert errors[1] < errors[0] / 2


def test_multistep_consistency_keeps_the_data_distribution():
    x_det = torch.zeros(1, 1, 40000)
    for steps in (1, 2, 4):
        out = consistency_sampler(gaussian_consistency, x_det, consistency_sigmas(steps, 20.0), torch.Generator().manual_seed(2))
        assert out.std().item() == pytest.approx(SD, rel=0.05), steps


def test_one_consistency_step_matches_the_closed_form():
    x_det = torch.rand(2, 1, 128) * 0.5
    sigma_max = 0.25
    out = consistency_sampler(gaussian_consistency, x_det, consistency_sigmas(1, sigma_max), torch.Generator().manual_seed(3))
    z = torch.randn(x_det.shape, generator=torch.Generator().manual_seed(3))
    expected = (x_det + sigma_max * z) * math.sqrt(EPS**2 + SD**2) / math.sqrt(sigma_max**2 + SD**2)
    torch.testing.assert_close(out, expected.clamp(-1, 1))


def test_consistency_output_is_clamped():
    out = consistency_sampler(lambda x, s: 3 * torch.ones_like(x), torch.zeros(1, 1, 8), consistency_sigmas(2, 0.25), torch.Generator())
    assert out.max().item() == 1.0


def test_same_seed_gives_bit_identical_samples():
    x_det = torch.randn(2, 1, 512) * 0.1
    runs = []
    for seed in (7, 7, 8):
        a = euler_sampler(gaussian_denoiser, x_det, karras_sigmas(5, 0.01, append_zero=True), torch.Generator().manual_seed(seed), s_churn=1.0)
        b = consistency_sampler(gaussian_consistency, x_det, consistency_sigmas(4, 0.25), torch.Generator().manual_seed(seed))
        runs.append((a, b))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    assert not torch.equal(runs[0][0], runs[2][0]) and not torch.equal(runs[0][1], runs[2][1])


def test_euler_makes_one_call_per_step():
    counter = Counter(gaussian_denoiser)
    euler_sampler(counter, torch.zeros(1, 1, 8), karras_sigmas(7, 0.01, append_zero=True), torch.Generator(), s_churn=2.0)
    assert counter.calls == 7


def test_cancel_stops_at_the_next_step():
    token = CancelToken()

    def cancelling(x, sigma):
        token.cancel()
        return gaussian_denoiser(x, sigma)

    counter = Counter(cancelling)
    with pytest.raises(Cancelled):
        consistency_sampler(counter, torch.zeros(1, 1, 8), consistency_sigmas(4, 0.25), torch.Generator(), cancel=token)
    assert counter.calls == 1
    calls = []

    def stop():
        if calls:
            raise Cancelled("stop")
        calls.append(1)

    with pytest.raises(Cancelled):
        euler_sampler(gaussian_denoiser, torch.zeros(1, 1, 8), karras_sigmas(4, 0.1, append_zero=True), torch.Generator(), cancel=stop)
