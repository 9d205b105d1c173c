"""Noise-level schedules (core/METHOD.md sections 4-5; Karras et al. 2022, eq. 5).

Every schedule is a 1-D float32 tensor of noise levels sigma, from high to low.
"""

from __future__ import annotations

import math

import torch

from core.diffusion.constants import RHO, SIGMA_MIN


def karras_sigmas(
    n: int,
    sigma_max: float,
    sigma_min: float = SIGMA_MIN,
    rho: float = RHO,
    append_zero: bool = False,
) -> torch.Tensor:
    """``n`` noise levels from ``sigma_max`` down to ``sigma_min`` (Karras et al. eq. 5).

    ``sigma_i = (sigma_max^(1/rho) + i/(n-1) * (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho``
    for i = 0 .. n-1; the end points are exactly ``sigma_max`` and ``sigma_min``. With
    ``n == 1`` the schedule is ``[sigma_max]``. ``append_zero`` adds a final 0 (the Euler
    sampler's last step lands on the clean estimate).

    Returns:
        ``(n,)`` or ``(n + 1,)`` float32 tensor, decreasing.
    """
    if n < 1:
        raise ValueError(f"a schedule needs at least one noise level, got n={n}")
    if not 0 < sigma_min <= sigma_max:
        raise ValueError(f"need 0 < sigma_min <= sigma_max, got {sigma_min}, {sigma_max}")
    ramp = torch.linspace(0, 1, n, dtype=torch.float64) if n > 1 else torch.zeros(1, dtype=torch.float64)
    hi, lo = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    sigmas[0] = sigma_max
    if n > 1:
        sigmas[-1] = sigma_min
    if append_zero:
        sigmas = torch.cat([sigmas, sigmas.new_zeros(1)])
    return sigmas.to(torch.float32)


def consistency_sigmas(
    steps: int, sigma_max: float, sigma_min: float = SIGMA_MIN, rho: float = RHO
) -> torch.Tensor:
    """Schedule of the multistep consistency sampler: ``steps + 1`` Karras points from
    ``sigma_max`` down to ``sigma_min`` (= eps). The sampler evaluates the student at the
    first ``steps`` of them; the last one only sets the final re-noising level."""
    if steps < 1:
        raise ValueError(f"consistency sampling needs at least one step, got {steps}")
    return karras_sigmas(steps + 1, sigma_max, sigma_min, rho)


def lognormal_sigmas(
    batch: int,
    generator: torch.Generator,
    p_mean: float = -3.0,
    p_std: float = 1.0,
) -> torch.Tensor:
    """Training noise levels of the EDM teacher: ``ln sigma ~ N(p_mean, p_std^2)``.

    Drawn on the generator's device. Returns ``(batch,)`` float32.
    """
    normal = torch.randn(batch, generator=generator, device=generator.device)
    return (p_mean + p_std * normal).exp()


def truncated_lognormal_sigmas(
    batch: int,
    generator: torch.Generator,
    p_mean: float,
    p_std: float,
    sigma_low: float,
    sigma_high: float,
) -> torch.Tensor:
    """``ln sigma ~ N(p_mean, p_std^2)`` restricted to ``[sigma_low, sigma_high]``.

    Inverse-CDF sampling: with ``a = Phi((ln sigma_low - p_mean) / p_std)`` and ``b`` the
    same for ``sigma_high``, ``u ~ U(a, b)`` and ``sigma = exp(p_mean + p_std Phi^-1(u))``,
    so the density keeps the log-normal's shape inside the range and is zero outside
    (no mass piles up at the ends, as clamping would do). Used when the refiner only
    needs the noise levels its sampling starts from (core/METHOD.md section 4a).

    Drawn on the generator's device. Returns ``(batch,)`` float32 in the closed range.
    """
    if not 0 < sigma_low < sigma_high:
        raise ValueError(f"need 0 < sigma_low < sigma_high, got {sigma_low}, {sigma_high}")
    low = torch.special.ndtr(torch.tensor((math.log(sigma_low) - p_mean) / p_std, dtype=torch.float64))
    high = torch.special.ndtr(torch.tensor((math.log(sigma_high) - p_mean) / p_std, dtype=torch.float64))
    uniform = torch.rand(batch, generator=generator, device=generator.device, dtype=torch.float64)
    normal = torch.special.ndtri(low + (high - low) * uniform.cpu()).to(uniform.device)
    sigmas = (p_mean + p_std * normal).exp().clamp(sigma_low, sigma_high)
    return sigmas.to(torch.float32)
