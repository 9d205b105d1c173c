"""Stage 1: the deterministic extractor (core/METHOD.md section 3).

    x_det = D(x_mix, label),   loss = mean((x_det - x_target)^2)

trained with Adam (lr 1e-4, betas (0.9, 0.99)) on random crops, one random label per
crop (the target may be silent). Validation scores ``x_det`` of the EMA network.

The ``snr`` loss option replaces the MSE with the negative thresholded SNR, per crop b
(Wisdom et al. 2020, "Unsupervised sound separation using mixture invariant training")::

    L_b = 10 log10(|x_det - s|^2 + tau |x_mix|^2) - 10 log10(|s|^2 + tau |x_mix|^2)

averaged over the batch. MSE weighs a crop by its energy, so a stem 20 dB under the
mix predicted as silence costs 1 % of what the same mistake on a loud stem costs; the
log ratio is scale-free, so every crop pulls equally. ``tau |x_mix|^2`` bounds the
reward (about 30 dB above the mixture for tau = 1e-3) and keeps silent targets finite:
there the loss is 0 for a silent estimate and grows with the estimate's energy.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import torch
from torch import nn
from torch.nn import functional as F

from core.errors import ConfigError
from core.nn.unet import UNet
from core.training.batches import Batch, StepGenerators
from core.training.config import ExtractorConfig, ResolvedConfig
from core.training.loop import RunResult, run_stage
from core.training.runs import open_run


def thresholded_snr_loss(
    estimate: torch.Tensor, target: torch.Tensor, mixture: torch.Tensor, tau: float
) -> torch.Tensor:
    """Mean over the batch of the negative thresholded SNR in dB (module doc).

    Args:
        estimate, target, mixture: ``(B, 1, L)``.
        tau: soft threshold relative to the mixture's energy.

    Returns:
        A scalar; 0 for a silent estimate of a silent target; for a perfect estimate of a
        non-silent one, ``10 log10(tau |x_mix|^2 / (|s|^2 + tau |x_mix|^2))`` (about -30 dB
        for tau = 1e-3 when the target is as loud as the mixture).
    """
    floor = tau * mixture.pow(2).sum(-1) + 1e-8
    error = (estimate - target).pow(2).sum(-1)
    energy = target.pow(2).sum(-1)
    return (10 * torch.log10(error + floor) - 10 * torch.log10(energy + floor)).mean()


class ExtractorStage:
    """The extractor U-Net and its MSE loss.

    Shapes: batch mixture and target ``(B, 1, L)``, labels ``(B,)``.
    """

    name = "extractor"

    def __init__(self, resolved: ResolvedConfig, device: torch.device) -> None:
        config = resolved.config
        self.network = UNet(resolved.net, noise_conditioned=False).to(device)
        self.loss_name = config.loss
        self.snr_tau = config.snr_tau
        if config.init_from:
            start = open_run(config.init_from, "extractor")
            if start.resolved.net != resolved.net:
                raise ConfigError(
                    f"--init-from {config.init_from}: its architecture differs from this run's"
                )
            self.network.load_state_dict(start.ema_state)

    def loss(
        self, network: nn.Module, ema: nn.Module, batch: Batch, generators: StepGenerators
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        estimate = network(batch.mixture, batch.labels)
        if self.loss_name == "snr":
            loss = thresholded_snr_loss(estimate.float(), batch.target, batch.mixture, self.snr_tau)
            return loss, {"loss_mse": F.mse_loss(estimate.detach().float(), batch.target)}
        return F.mse_loss(estimate.float(), batch.target), {}

    def estimate(self, ema: nn.Module, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        return ema(batch.mixture, batch.labels)


def train_extractor(
    config: ExtractorConfig, run_dir: Path, resume: bool = True, stream: TextIO | None = None
) -> RunResult:
    """Train (or resume) an extractor run in ``run_dir``."""
    return run_stage(config, ExtractorStage, run_dir, resume=resume, stream=stream)
