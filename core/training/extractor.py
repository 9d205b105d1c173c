"""Stage 1: the deterministic extractor (METHOD.md section 3).

    x_det = D(x_mix, label),   loss = mean((x_det - x_target)^2)

trained with Adam (lr 1e-4, betas (0.9, 0.99)) on random crops, one random label per
crop (the target may be silent). Validation scores ``x_det`` of the EMA network.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import torch
from torch import nn
from torch.nn import functional as F

from core.nn.unet import UNet
from core.training.batches import Batch, StepGenerators
from core.training.config import ExtractorConfig, ResolvedConfig
from core.training.loop import RunResult, run_stage


class ExtractorStage:
    """The extractor U-Net and its MSE loss.

    Shapes: batch mixture and target ``(B, 1, L)``, labels ``(B,)``.
    """

    name = "extractor"

    def __init__(self, resolved: ResolvedConfig, device: torch.device) -> None:
        self.network = UNet(resolved.net, noise_conditioned=False).to(device)

    def loss(
        self, network: nn.Module, ema: nn.Module, batch: Batch, generators: StepGenerators
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        estimate = network(batch.mixture, batch.labels)
        return F.mse_loss(estimate.float(), batch.target), {}

    def estimate(self, ema: nn.Module, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        return ema(batch.mixture, batch.labels)


def train_extractor(
    config: ExtractorConfig, run_dir: Path, resume: bool = True, stream: TextIO | None = None
) -> RunResult:
    """Train (or resume) an extractor run in ``run_dir``."""
    return run_stage(config, ExtractorStage, run_dir, resume=resume, stream=stream)
