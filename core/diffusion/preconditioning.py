"""Preconditioning wrappers that turn a noise-conditioned U-Net into a denoiser.

Both compute, around an anchor ``a``,

    D(x, sigma) = a + c_skip(sigma) (x - a) + c_out(sigma) F(c_in(sigma) (x - a), c_noise(sigma))

where F is the refiner U-Net (conditioned on the label, the extractor's stage
activations and the mixture). The paper's anchor is ``a = 0`` (the network denoises the
stem); with ``a = x_det`` (core/METHOD.md section 4a) it denoises the extractor's error
``x - x_det``, whose scale ``sigma_data`` is then the error's, and a network whose output
layer is zero (:func:`zero_output_layer`) returns ``x_det + c_skip (x - x_det)``: exactly
``x_det`` at ``x = x_det``, and x_det on average over the noise. With a U-Net extractor
the refiner's output stage would add x_det a second time (its last stage feature is
x_det itself), so an anchored denoiser passes zeros for that one feature.
Shapes: ``x (B, 1, L)``, ``sigma`` a scalar or ``(B,)``, ``anchor (B, 1, L)``; the
result is ``(B, 1, L)``.

- :class:`EDMDenoiser` (Karras et al. 2022, table 1; core/METHOD.md section 4): the teacher.
- :class:`ConsistencyDenoiser` (Song et al. 2023, appendix C; core/METHOD.md section 5): the
  student, whose coefficients satisfy the boundary condition ``f(x, eps) = x`` exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from core.diffusion.constants import SIGMA_DATA, SIGMA_MIN


def _per_sample(sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """``sigma`` as a ``(B, 1, 1)`` tensor matching ``x``'s batch, device and dtype."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1)
    return sigma.expand(x.shape[0]).reshape(-1, 1, 1)


def c_noise(sigma: torch.Tensor) -> torch.Tensor:
    """Noise-level input of the network: ``ln(sigma) / 4``."""
    return sigma.log() / 4


def edm_coefficients(
    sigma: torch.Tensor, sigma_data: float = SIGMA_DATA
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EDM's ``(c_skip, c_out, c_in)``:

    ``c_skip = sd^2 / (s^2 + sd^2)``, ``c_out = s * sd / sqrt(s^2 + sd^2)``,
    ``c_in = 1 / sqrt(s^2 + sd^2)``.
    """
    total = sigma**2 + sigma_data**2
    return sigma_data**2 / total, sigma * sigma_data / total.sqrt(), 1 / total.sqrt()


def consistency_coefficients(
    sigma: torch.Tensor, sigma_data: float = SIGMA_DATA, eps: float = SIGMA_MIN
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Boundary-condition ``(c_skip, c_out, c_in)`` of the consistency student:

    ``c_skip = sd^2 / ((s - eps)^2 + sd^2)``, ``c_out = (s - eps) * sd / sqrt(s^2 + sd^2)``,
    ``c_in = 1 / sqrt(s^2 + sd^2)``. At ``s == eps``: c_skip = 1 and c_out = 0 exactly.
    """
    total = sigma**2 + sigma_data**2
    shifted = sigma - eps
    c_skip = sigma_data**2 / (shifted**2 + sigma_data**2)
    return c_skip, shifted * sigma_data / total.sqrt(), 1 / total.sqrt()


def edm_loss_weight(sigma: torch.Tensor, sigma_data: float = SIGMA_DATA) -> torch.Tensor:
    """EDM loss weight ``lambda(s) = (s^2 + sd^2) / (s * sd)^2`` (makes the effective
    network target unit-variance at every noise level)."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


class _Preconditioned(nn.Module):
    """Shared forward of the two wrappers; subclasses pick the coefficients."""

    def __init__(self, net: nn.Module, sigma_data: float, clamp: bool) -> None:
        super().__init__()
        if not getattr(net, "noise_conditioned", False):
            raise ValueError("the denoiser needs a noise-conditioned U-Net (a refiner)")
        self.net = net
        self.sigma_data = sigma_data
        self.clamp = clamp

    def coefficients(
        self, sigma: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(
        self,
        x: torch.Tensor,
        sigma: torch.Tensor | float,
        labels: torch.Tensor,
        features: Sequence[torch.Tensor] | None = None,
        mixture: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
        anchor: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``D(x, sigma)``.

        Args:
            x: ``(B, 1, L)`` noisy stem ``x_0 + sigma * n``.
            sigma: scalar or ``(B,)`` noise levels (> 0).
            labels: ``(B,)`` instrument indices.
            features: the extractor's stage activations, added inside the U-Net.
            mixture: ``(B, 1, L)`` mixture, added at the U-Net's input.
            condition: ``(B, k, L)`` extra input channels (a band-split extractor's x_det).
            anchor: ``(B, 1, L)`` what the denoiser works around (x_det), or None for 0.
        """
        sigma = _per_sample(sigma, x)
        c_skip, c_out, c_in = self.coefficients(sigma)
        centred = x if anchor is None else x - anchor
        if anchor is not None and features is not None:
            features = [*features[:-1], torch.zeros_like(features[-1])]
        raw = self.net(
            c_in * centred,
            labels,
            c_noise=c_noise(sigma).reshape(-1),
            features=features,
            mixture=mixture,
            condition=condition,
        )
        out = c_skip * centred + c_out * raw.to(x.dtype)
        if anchor is not None:
            out = out + anchor
        return out.clamp(-1, 1) if self.clamp else out


class EDMDenoiser(_Preconditioned):
    """EDM preconditioning of the diffusion teacher; output clamped to [-1, 1] by default."""

    def __init__(self, net: nn.Module, sigma_data: float = SIGMA_DATA, clamp: bool = True) -> None:
        super().__init__(net, sigma_data, clamp)

    def coefficients(self, sigma):
        return edm_coefficients(sigma, self.sigma_data)


class ConsistencyDenoiser(_Preconditioned):
    """Consistency function ``f(x, sigma)`` of the student, with ``f(x, eps) == x`` exactly.

    Not clamped by default (a clamp would break the boundary identity for |x| > 1); the
    multistep sampler clamps its estimates instead.
    """

    def __init__(
        self,
        net: nn.Module,
        sigma_data: float = SIGMA_DATA,
        eps: float = SIGMA_MIN,
        clamp: bool = False,
    ) -> None:
        super().__init__(net, sigma_data, clamp)
        self.eps = eps

    def coefficients(self, sigma):
        return consistency_coefficients(sigma, self.sigma_data, self.eps)


def zero_output_layer(unet: nn.Module) -> None:
    """Make a U-Net's output exactly zero for any input: its last residual block (the
    unpatcher's) has its second convolution and its shortcut set to zero. Gradients
    still reach both (their inputs are not zero), so training starts at once; the rest
    of the network keeps its weights (random, or warm-started from the extractor)."""
    block = unet.unpatcher.block
    for layer in (block.conv2, block.shortcut):
        if isinstance(layer, nn.Conv1d):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        else:  # an identity shortcut cannot be zeroed
            raise ValueError("the U-Net's output block has an identity shortcut; cannot zero it")
