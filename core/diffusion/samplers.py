"""Samplers: pure functions of (denoiser, x, sigmas, generator, ...).

A *denoiser* is any callable ``denoiser(x, sigma) -> x0_hat`` with ``x (B, 1, L)`` (any
shape works) and ``sigma`` a ``(B,)`` tensor of noise levels; the conditioning (label,
extractor features, mixture) is bound into it by the caller. Randomness comes only from
``generator``: noise is drawn on the generator's device and moved to ``x``'s device, so a
seed gives the same noise on every device and, on CPU, bit-identical outputs.
``generator`` may also be a sequence with one generator per batch item: item i's noise
then comes from generator i alone, whatever else shares its batch.

``cancel`` is anything with a ``check()`` method that raises (core.progress.CancelToken)
or a no-argument callable that raises; it is checked before every network evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from core.diffusion.constants import SIGMA_MIN

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def check_cancel(cancel) -> None:
    """Raise if cancellation was requested (``cancel`` may be None, a token or a callable)."""
    if cancel is None:
        return
    check = getattr(cancel, "check", None)
    if check is not None:
        check()
    else:
        cancel()


def draw_noise(like: torch.Tensor, generator: torch.Generator | Sequence[torch.Generator]) -> torch.Tensor:
    """Standard normal noise shaped like ``like``, drawn on the generator's device.

    With a sequence of generators (one per item of ``like``'s first dimension) each item's
    noise is drawn from its own generator.
    """
    if isinstance(generator, torch.Generator):
        noise = torch.randn(like.shape, generator=generator, device=generator.device)
    else:
        if len(generator) != like.shape[0]:
            raise ValueError(f"need one generator per item: {len(generator)} for {like.shape[0]}")
        noise = torch.stack(
            [torch.randn(like.shape[1:], generator=g, device=g.device).to(like.device) for g in generator]
        )
    return noise.to(device=like.device, dtype=like.dtype)


def _sigma_batch(sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """Noise level(s) as a ``(B,)`` tensor on ``x``'s device."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1)
    return sigma.expand(x.shape[0]).clone()


def _broadcast(sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return sigma.reshape(-1, *([1] * (x.dim() - 1)))


def euler_sampler(
    denoiser: Denoiser,
    x_det: torch.Tensor,
    sigmas: torch.Tensor,
    generator: torch.Generator | Sequence[torch.Generator],
    s_churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = math.inf,
    s_noise: float = 1.0,
    cancel=None,
) -> torch.Tensor:
    """The teacher's stochastic Euler sampler (Karras et al. 2022, algorithm 2, first order).

    Starts from the deterministic estimate: ``x = x_det + sigmas[0] * z``. For each step
    i = 0 .. N-1 (N = len(sigmas) - 1):

        gamma = min(s_churn / N, sqrt(2) - 1) if s_tmin <= sigma_i <= s_tmax else 0
        sigma_hat = sigma_i * (1 + gamma)
        x_hat = x + sqrt(sigma_hat^2 - sigma_i^2) * s_noise * z
        d = (x_hat - D(x_hat, sigma_hat)) / sigma_hat
        x = x_hat + (sigma_{i+1} - sigma_hat) * d

    Args:
        denoiser: ``D(x, sigma)``.
        x_det: ``(B, 1, L)`` the extractor's estimate.
        sigmas: decreasing noise levels, normally ending in 0 (then the result is the last
            denoiser output).
        generator: source of all noise.
        s_churn, s_tmin, s_tmax, s_noise: EDM's stochasticity parameters.
        cancel: checked before every step.

    Returns:
        ``(B, 1, L)`` sample.
    """
    steps = len(sigmas) - 1
    if steps < 1:
        raise ValueError("the Euler sampler needs at least two noise levels")
    sigmas = [float(s) for s in sigmas]
    x = x_det + sigmas[0] * draw_noise(x_det, generator)
    for i in range(steps):
        check_cancel(cancel)
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        gamma = min(s_churn / steps, math.sqrt(2) - 1) if s_tmin <= sigma <= s_tmax else 0.0
        sigma_hat = sigma * (1 + gamma)
        if gamma > 0:
            x = x + math.sqrt(sigma_hat**2 - sigma**2) * s_noise * draw_noise(x, generator)
        denoised = denoiser(x, _sigma_batch(sigma_hat, x))
        d = (x - denoised) / sigma_hat
        x = x + (sigma_next - sigma_hat) * d
    return x


def heun_step(
    denoiser: Denoiser,
    x: torch.Tensor,
    sigma: torch.Tensor | float,
    sigma_next: torch.Tensor | float,
) -> torch.Tensor:
    """One deterministic Heun step of the probability-flow ODE (Karras et al., algorithm 1).

    ``d = (x - D(x, s)) / s``; ``x' = x + (s' - s) d``; if ``s' > 0``:
    ``d' = (x' - D(x', s')) / s'`` and ``x' = x + (s' - s)(d + d') / 2``.
    ``sigma``/``sigma_next`` are scalars or per-sample ``(B,)`` tensors (distillation
    draws a different start index per item); items with ``s' == 0`` take the Euler step.

    Returns ``x`` moved from ``sigma`` to ``sigma_next``, same shape.
    """
    sigma = _sigma_batch(sigma, x)
    sigma_next = _sigma_batch(sigma_next, x)
    s, s_next = _broadcast(sigma, x), _broadcast(sigma_next, x)
    d = (x - denoiser(x, sigma)) / s
    x_euler = x + (s_next - s) * d
    final = sigma_next == 0
    if bool(final.all()):
        return x_euler
    safe_next = torch.where(final, torch.ones_like(sigma_next), sigma_next)
    d_next = (x_euler - denoiser(x_euler, safe_next)) / _broadcast(safe_next, x)
    x_heun = x + (s_next - s) * (d + d_next) / 2
    return torch.where(_broadcast(final, x), x_euler, x_heun)


def consistency_sampler(
    denoiser: Denoiser,
    x_det: torch.Tensor,
    sigmas: torch.Tensor,
    generator: torch.Generator | Sequence[torch.Generator],
    eps: float = SIGMA_MIN,
    cancel=None,
) -> torch.Tensor:
    """Multistep consistency sampling (Song et al. 2023, algorithm 1), from ``x_det``.

    ``sigmas`` holds S + 1 decreasing levels (``schedules.consistency_sigmas``), the last
    one normally ``eps``. Then

        x = x_det + sigma_0 * z
        for i = 0 .. S-1:
            x0 = clamp(f(x, sigma_i), -1, 1)
            if i < S-1: x = x0 + sqrt(sigma_{i+1}^2 - eps^2) * z

    and the result is the last ``x0``: S network evaluations.

    Args:
        denoiser: the consistency function ``f(x, sigma)``.
        x_det: ``(B, 1, L)`` the extractor's estimate.
        sigmas: ``(S + 1,)`` noise levels.
        generator: source of all noise.
        eps: the boundary noise level of the consistency function.
        cancel: checked before every step.
    """
    steps = len(sigmas) - 1
    if steps < 1:
        raise ValueError("consistency sampling needs at least two noise levels (one step)")
    sigmas = [float(s) for s in sigmas]
    x = x_det + sigmas[0] * draw_noise(x_det, generator)
    x0 = x
    for i in range(steps):
        check_cancel(cancel)
        x0 = denoiser(x, _sigma_batch(sigmas[i], x)).clamp(-1, 1)
        if i < steps - 1:
            scale = math.sqrt(max(sigmas[i + 1] ** 2 - eps**2, 0.0))
            x = x0 + scale * draw_noise(x0, generator)
    return x0
