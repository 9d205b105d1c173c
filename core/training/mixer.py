"""The mixer: a cheap baseline the refiners must beat (issue 14; MDX-Net's "mixer").

For a mixture x_mix (B, 1, L), the frozen extractor's four estimates
``x_det_j = E(x_mix, j)``, j = 0..3 (every instrument, whatever the target), and the
target label s (B,), one linear map per target recombines them:

    inputs  u = [x_det_0, x_det_1, x_det_2, x_det_3, x_mix]          (B, 5, L)
    y_s     = sum_c W[s, c] u_c + b[s]                                 (B, 1, L)
    loss    = mean( (y_s - x_s)^2 )                                    (the extractor's MSE)

24 parameters in all (4 x 5 weights, 4 biases), a 1x1 convolution per stem. ``W[s]``
starts as the one-hot of ``x_det_s`` and ``b`` at zero, so an untrained mixer is the
extractor. It can move energy between stems the extractor split wrongly (the rest of
the mix leaking into one stem is another stem's missing part), but it sees no more
than the five waveforms, sample by sample. Costs 4 extractor passes per segment, where
``draft`` needs one per requested stem.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TextIO

import torch
from torch import nn

from core.errors import ConfigError
from core.instruments import INSTRUMENTS
from core.training.batches import Batch, StepGenerators
from core.training.diffusion import ExtractorFeatures
from core.training.launch import run_on_extractor
from core.training.loop import RunResult
from core.training.refiner_config import MixerConfig
from core.training.resolved import ResolvedConfig


class MixerNet(nn.Module):
    """``W (labels, labels + 1)``, ``b (labels,)``: y_s = W[s] . [x_det_0..x_det_{n-1}, x_mix] + b[s].

    Args:
        num_labels: n, the number of instruments (inputs are their n estimates plus the mix).
    """

    def __init__(self, num_labels: int = len(INSTRUMENTS)) -> None:
        super().__init__()
        self.num_labels = num_labels
        weight = torch.zeros(num_labels, num_labels + 1)
        weight[:, :num_labels] = torch.eye(num_labels)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(num_labels))

    def forward(self, estimates: torch.Tensor, mixture: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``estimates (B, n, L)`` (every label's x_det), ``mixture (B, 1, L)``, ``labels (B,)``
        -> ``(B, 1, L)``, the recombined estimate of each item's label."""
        inputs = torch.cat([estimates, mixture], dim=1)
        weights = self.weight[labels].to(inputs.dtype)
        mixed = torch.einsum("bc,bcl->bl", weights, inputs) + self.bias[labels, None].to(inputs.dtype)
        return mixed.unsqueeze(1)


def every_estimate(extractor: ExtractorFeatures, batch: Batch, num_labels: int) -> torch.Tensor:
    """The frozen extractor's estimate of every label for every item: ``(B, n, L)``."""
    columns = []
    for label in range(num_labels):
        labels = torch.full_like(batch.labels, label)
        x_det, _ = extractor(replace(batch, labels=labels))
        columns.append(x_det)
    return torch.cat(columns, dim=1)


class MixerStage:
    """Trains the 24 parameters of :class:`MixerNet` on the frozen extractor's estimates."""

    name = "mixer"

    def __init__(self, resolved: ResolvedConfig, extractor: nn.Module, device: torch.device) -> None:
        self.config: MixerConfig = resolved.config
        self.extractor = ExtractorFeatures(extractor, device)
        has = getattr(extractor, "labels", range(len(INSTRUMENTS)))  # an imported model's stems
        missing = [name for i, name in enumerate(INSTRUMENTS) if i not in has]
        if missing:
            raise ConfigError(f"the mixer recombines all four stems; the extractor has no {', '.join(missing)}")
        self.num_labels = len(INSTRUMENTS)
        self.network = MixerNet(self.num_labels).to(device)

    def loss(
        self, network: nn.Module, ema: nn.Module, batch: Batch, generators: StepGenerators
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        estimates = every_estimate(self.extractor, batch, self.num_labels)
        mixed = network(estimates, batch.mixture, batch.labels)
        return (mixed.float() - batch.target.float()).square().mean(), {}

    @torch.no_grad()
    def estimate(self, ema: nn.Module, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        return ema(every_estimate(self.extractor, batch, self.num_labels), batch.mixture, batch.labels)


def train_mixer(
    config: MixerConfig, run_dir: Path, resume: bool = True, stream: TextIO | None = None
) -> RunResult:
    """Train (or resume) a mixer run in ``run_dir`` on top of ``config.extractor``."""
    return run_on_extractor(config, MixerStage, run_dir, resume=resume, stream=stream)
