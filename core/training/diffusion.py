"""Stage 2: the diffusion refiner, the teacher (core/METHOD.md section 4).

EDM (Karras et al. 2022) on the clean target stem x, conditioned on the frozen
extractor:

    sigma = exp(P_mean + P_std * u),  u ~ N(0, 1)          (P_mean -3, P_std 1)
    x_sigma = x + sigma * n,          n ~ N(0, I)
    D(x_sigma, sigma) = c_skip x_sigma + c_out F(c_in x_sigma, c_noise; label,
                                                  extractor features, mixture)
    loss = mean( lambda(sigma) * (D(x_sigma, sigma) - x)^2 ),
    lambda(sigma) = (sigma^2 + sd^2) / (sigma * sd)^2

The extractor (the EMA weights of the extractor run) runs on the mixture with the same
label, without gradients; its 2n+3 stage activations are added at the matching stages
of the refiner U-Net and the mixture is added at its input (inside ``F``). The
refiner's architecture is the extractor run's. A band-split extractor gives x_det as
a second input channel instead of stage activations (:mod:`core.nn.extractors`), and
the refiner is the U-Net its configuration names. Adam, lr 1e-4.

Validation: the EMA teacher's Euler sampler from ``x_det + sigma_max * z`` over a
Karras schedule (``validation_steps`` steps ending at 0), clamped to [-1, 1].
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TextIO

import torch
from torch import nn

from core.diffusion.constants import SIGMA_MIN
from core.diffusion.preconditioning import EDMDenoiser, edm_loss_weight
from core.diffusion.samplers import draw_noise, euler_sampler
from core.diffusion.schedules import karras_sigmas, lognormal_sigmas
from core.nn.extractors import Conditioning, build_refiner, refiner_inputs
from core.training.batches import Batch, StepGenerators
from core.training.config import DiffusionConfig, ResolvedConfig
from core.training.loop import RunResult, run_stage
from core.training.runs import open_run


def frozen(net: nn.Module, device: torch.device) -> nn.Module:
    """``net`` on ``device``, in eval mode, without gradients."""
    return net.to(device).eval().requires_grad_(False)


class ExtractorFeatures:
    """The frozen extractor: ``(mixture (B, 1, L), labels (B,))`` -> ``x_det (B, 1, L)``
    and the refiner's conditioning (:func:`core.nn.extractors.refiner_inputs`: a U-Net's
    stage activations, or a band-split network's x_det as an input channel)."""

    def __init__(self, extractor: nn.Module, device: torch.device) -> None:
        self.net = frozen(extractor, device)

    @torch.no_grad()
    def __call__(self, batch: Batch) -> tuple[torch.Tensor, Conditioning]:
        return refiner_inputs(self.net, batch.mixture, batch.labels)


def edm_denoising_loss(
    denoised: torch.Tensor, target: torch.Tensor, sigma: torch.Tensor, sigma_data: float
) -> torch.Tensor:
    """``mean(lambda(sigma) * (denoised - target)^2)`` with ``denoised, target (B, 1, L)``,
    ``sigma (B,)``; float32."""
    weight = edm_loss_weight(sigma.float(), sigma_data).reshape(-1, 1, 1)
    return (weight * (denoised.float() - target.float()).square()).mean()


class DiffusionStage:
    """The EDM teacher (trained without the output clamp; the samplers clamp).

    Args:
        resolved: the run configuration (``resolved.net`` is the extractor's architecture).
        extractor: the extractor run's EMA U-Net (frozen here).
        device: where to train.
    """

    name = "diffusion"

    def __init__(self, resolved: ResolvedConfig, extractor: nn.Module, device: torch.device) -> None:
        self.config: DiffusionConfig = resolved.config
        self.extractor = ExtractorFeatures(extractor, device)
        unet = build_refiner(resolved.net)
        self.network = EDMDenoiser(unet, self.config.sigma_data, clamp=False).to(device)

    def loss(
        self, network: nn.Module, ema: nn.Module, batch: Batch, generators: StepGenerators
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        config = self.config
        _, conditioning = self.extractor(batch)
        sigma = lognormal_sigmas(len(batch), generators.local, config.p_mean, config.p_std)
        sigma = sigma.to(batch.target.device)
        noisy = batch.target + sigma.reshape(-1, 1, 1) * draw_noise(batch.target, generators.local)
        denoised = network(noisy, sigma, batch.labels, mixture=batch.mixture, **conditioning)
        return edm_denoising_loss(denoised, batch.target, sigma, config.sigma_data), {}

    @torch.no_grad()
    def estimate(self, ema: nn.Module, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        config = self.config
        x_det, conditioning = self.extractor(batch)
        sigmas = karras_sigmas(
            config.validation_steps, config.validation_sigma_max, SIGMA_MIN, append_zero=True
        )

        def denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            out = ema(x, sigma, batch.labels, mixture=batch.mixture, **conditioning)
            return out.clamp(-1, 1)

        return euler_sampler(denoiser, x_det.float(), sigmas, generator).clamp(-1, 1)


def train_diffusion(
    config: DiffusionConfig, run_dir: Path, resume: bool = True, stream: TextIO | None = None
) -> RunResult:
    """Train (or resume) a teacher run in ``run_dir`` on top of ``config.extractor``."""
    extractor_run = open_run(config.extractor, "extractor")
    extractor = extractor_run.unet()
    config = replace(config, net=extractor_run.resolved.config.net)
    return run_stage(
        config,
        lambda resolved, device: DiffusionStage(resolved, extractor, device),
        run_dir,
        resume=resume,
        net=extractor_run.resolved.net,
        stream=stream,
    )
