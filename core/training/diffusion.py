"""Stage 2: the diffusion refiner, the teacher (core/METHOD.md sections 4 and 4a).

EDM (Karras et al. 2022) on the clean target stem x, conditioned on the frozen
extractor, around an anchor a (``x_det`` by default, 0 in the paper):

    sigma = exp(P_mean + P_std * u),  u ~ N(0, 1)          (P_mean -3, P_std 1)
            restricted to sigma_train_range when one is set (inverse-CDF sampling)
    x_sigma = x + sigma * n,          n ~ N(0, I)
    D(x_sigma, sigma) = a + c_skip (x_sigma - a) + c_out F(c_in (x_sigma - a), c_noise;
                                                  label, extractor features, mixture)
    loss = mean( lambda(sigma) * (D(x_sigma, sigma) - x)^2 ),
    lambda(sigma) = (sigma^2 + sd^2) / (sigma * sd)^2

with sd the scale of what is denoised (0.05 for the extractor's error, 0.2 for stems).
Around x_det the refiner U-Net starts from the extractor's weights where names and
shapes match (``warm_start``) and its output layer is zeroed, so the untrained teacher
is ``a + c_skip (x_sigma - a)``: the best guess for an error of scale sd.

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

from pathlib import Path
from typing import TextIO

import torch
from torch import nn

from core.diffusion.constants import SIGMA_MIN
from core.diffusion.preconditioning import EDMDenoiser, edm_loss_weight, zero_output_layer
from core.diffusion.samplers import draw_noise, euler_sampler
from core.diffusion.schedules import karras_sigmas, lognormal_sigmas, truncated_lognormal_sigmas
from core.nn.extractors import Conditioning, build_refiner, refiner_inputs
from core.nn.unet import UNet
from core.training.batches import Batch, StepGenerators
from core.training.launch import run_on_extractor
from core.training.loop import RunResult
from core.training.refiner_config import DiffusionConfig, RefinerConfig
from core.training.resolved import ResolvedConfig


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


def training_sigmas(config: RefinerConfig, batch: int, generator: torch.Generator) -> torch.Tensor:
    """``(batch,)`` training noise levels: EDM's log-normal, restricted to
    ``config.sigma_train_range`` when one is set."""
    if config.sigma_train_range is None:
        return lognormal_sigmas(batch, generator, config.p_mean, config.p_std)
    low, high = config.sigma_train_range
    return truncated_lognormal_sigmas(batch, generator, config.p_mean, config.p_std, low, high)


def anchor_of(config: RefinerConfig, x_det: torch.Tensor) -> torch.Tensor | None:
    """The denoisers' anchor for this configuration: x_det, or None (zero)."""
    return x_det if config.anchor == "x_det" else None


def warm_start_from(refiner: nn.Module, extractor: nn.Module) -> int:
    """Copy every parameter or buffer of a U-Net extractor whose name and shape the refiner
    shares; returns how many tensors were copied (0 for a band-split extractor, whose
    names mean something else)."""
    if not isinstance(extractor, UNet):
        return 0
    source = extractor.state_dict()
    target = refiner.state_dict()
    shared = {k: v for k, v in source.items() if k in target and target[k].shape == v.shape}
    refiner.load_state_dict(shared, strict=False)
    return len(shared)


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
        if self.config.warm_start:
            warm_start_from(unet, extractor)
        if self.config.anchor == "x_det":
            zero_output_layer(unet)
        self.network = EDMDenoiser(unet, self.config.data_scale, clamp=False).to(device)

    def loss(
        self, network: nn.Module, ema: nn.Module, batch: Batch, generators: StepGenerators
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        config = self.config
        x_det, conditioning = self.extractor(batch)
        anchor = anchor_of(config, x_det)
        sigma = training_sigmas(config, len(batch), generators.local).to(batch.target.device)
        noisy = batch.target + sigma.reshape(-1, 1, 1) * draw_noise(batch.target, generators.local)
        denoised = network(noisy, sigma, batch.labels, mixture=batch.mixture, anchor=anchor, **conditioning)
        return edm_denoising_loss(denoised, batch.target, sigma, config.data_scale), {}

    @torch.no_grad()
    def estimate(self, ema: nn.Module, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        config = self.config
        x_det, conditioning = self.extractor(batch)
        anchor = anchor_of(config, x_det)
        sigmas = karras_sigmas(
            config.validation_steps, config.validation_sigma_max, SIGMA_MIN, append_zero=True
        )

        def denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            out = ema(x, sigma, batch.labels, mixture=batch.mixture, anchor=anchor, **conditioning)
            return out.clamp(-1, 1)

        return euler_sampler(denoiser, x_det.float(), sigmas, generator).clamp(-1, 1)


def train_diffusion(
    config: DiffusionConfig, run_dir: Path, resume: bool = True, stream: TextIO | None = None
) -> RunResult:
    """Train (or resume) a teacher run in ``run_dir`` on top of ``config.extractor``."""
    return run_on_extractor(config, DiffusionStage, run_dir, resume=resume, stream=stream)
