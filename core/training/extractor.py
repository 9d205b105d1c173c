"""Stage 1: the deterministic extractor (core/METHOD.md section 3).

    x_det = D(x_mix, label),   loss = mean((x_det - x_target)^2)

trained with Adam (lr 1e-4, betas (0.9, 0.99)) on random crops, one random label per
crop (the target may be silent). Validation scores ``x_det`` of the EMA network.

The ``loss`` option picks the training loss (``mse``, ``snr`` or ``l1_stft``); the
equations and why each exists are in :mod:`core.training.losses`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import torch
from torch import nn
from torch.nn import functional as F

from core.errors import ConfigError
from core.nn.extractors import build_extractor
from core.training.batches import Batch, StepGenerators
from core.training.config import ExtractorConfig
from core.training.launch import run_stage
from core.training.loop import RunResult
from core.training.losses import l1_stft_loss, thresholded_snr_loss
from core.training.resolved import ResolvedConfig
from core.training.runs import open_run


class ExtractorStage:
    """The extractor network and its loss (``config.loss``).

    Shapes: batch mixture and target ``(B, 1, L)``, labels ``(B,)``.
    """

    name = "extractor"

    def __init__(self, resolved: ResolvedConfig, device: torch.device) -> None:
        config = resolved.config
        self.network = build_extractor(resolved.net).to(device)
        self.config: ExtractorConfig = config
        if config.init_from:
            self.network.load_state_dict(initial_weights(config.init_from, resolved.net))

    def loss(
        self, network: nn.Module, ema: nn.Module, batch: Batch, generators: StepGenerators
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        config = self.config
        estimate = network(batch.mixture, batch.labels)
        if config.loss == "mse":
            return F.mse_loss(estimate.float(), batch.target), {}
        if config.loss == "snr":
            loss = thresholded_snr_loss(estimate.float(), batch.target, batch.mixture, config.snr_tau)
            parts = {}
        else:
            loss, parts = l1_stft_loss(
                estimate, batch.target, batch.mixture, config.stft_sizes,
                config.stft_magnitude_weight, config.stft_complex_weight,
                config.l1snr_weight, config.snr_tau,
            )
        return loss, {**parts, "loss_mse": F.mse_loss(estimate.detach().float(), batch.target)}

    def estimate(self, ema: nn.Module, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        return ema(batch.mixture, batch.labels)


def initial_weights(source: str, net) -> dict[str, torch.Tensor]:
    """The extractor weights that ``--init-from`` starts a run with.

    Args:
        source: an extractor run folder (its EMA weights) or a model bundle folder (its
            ``extractor`` network, e.g. the shipped model, whose run may be gone).
        net: the architecture of the run being started; ``source``'s must equal it.

    Raises:
        ConfigError: not a run or a bundle, or another architecture.
    """
    from core.manifest import MANIFEST

    if (Path(source) / MANIFEST).is_file():
        from core.bundle import load_bundle
        from core.errors import ModelLoadError

        try:
            extractor = load_bundle(source).extractor
        except ModelLoadError as error:
            raise ConfigError(f"--init-from {source}: {error}") from None
        architecture, state = extractor.config, extractor.state_dict()
    else:
        start = open_run(source, "extractor")
        architecture, state = start.resolved.net, start.ema_state
    if architecture != net:
        raise ConfigError(f"--init-from {source}: its architecture differs from this run's")
    return state


def train_extractor(
    config: ExtractorConfig, run_dir: Path, resume: bool = True, stream: TextIO | None = None
) -> RunResult:
    """Train (or resume) an extractor run in ``run_dir``."""
    return run_stage(config, ExtractorStage, run_dir, resume=resume, stream=stream)
