"""Reading finished runs: their configuration and their EMA weights as bare U-Nets.

The diffusion stage needs the extractor run's network (frozen) and architecture; the
distillation stage needs the extractor's and the teacher's; the export needs all of
them. A run's checkpoint stores the state dict of the trained module: the U-Net itself
for the extractor, the preconditioning wrapper (``net.*`` keys) for the refiners.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from core.errors import ConfigError
from core.nn.extractors import build_extractor, build_refiner
from core.training.checkpoint import load_checkpoint
from core.training.config import CHECKPOINT_FILE, ResolvedConfig, read_run_config

WRAPPER_PREFIX = "net."
"""State-dict prefix of the U-Net inside the EDM and consistency wrappers."""


@dataclass
class FinishedRun:
    """A run folder with a checkpoint.

    Attributes:
        path: the run folder.
        resolved: its configuration.
        step: optimiser steps it did.
        seconds: its training time.
        metrics: its last logged losses and validation scores.
        ema_state: the EMA of the trained module's state dict.
    """

    path: Path
    resolved: ResolvedConfig
    step: int
    seconds: float
    metrics: dict[str, float]
    ema_state: dict

    @property
    def stage(self) -> str:
        return self.resolved.stage

    def unet(self) -> nn.Module:
        """The run's EMA weights as a bare network on the CPU, in eval mode, without
        gradients: the extractor (a U-Net or a band-split network, not noise-conditioned)
        or a refiner U-Net (noise-conditioned)."""
        noise_conditioned = self.stage != "extractor"
        state = self.ema_state
        if noise_conditioned:
            state = {
                key[len(WRAPPER_PREFIX):]: value
                for key, value in state.items()
                if key.startswith(WRAPPER_PREFIX)
            }
        net = build_refiner(self.resolved.net) if noise_conditioned else build_extractor(self.resolved.net)
        try:
            net.load_state_dict(state)
        except RuntimeError as error:
            raise ConfigError(f"{self.path}: the checkpoint does not match its config.json ({error})") from None
        return net.eval().requires_grad_(False)


def open_run(path: str | Path, stage: str | None = None) -> FinishedRun:
    """Read a run folder (``config.json`` + ``checkpoint.pt``).

    Args:
        path: the run folder.
        stage: the stage it must be (None: any).

    Raises:
        ConfigError: not a run, no checkpoint, or not of the expected stage.
    """
    path = Path(path)
    resolved = read_run_config(path)
    if stage is not None and resolved.stage != stage:
        raise ConfigError(f"{path} is a {resolved.stage} run, not a {stage} run")
    checkpoint = path / CHECKPOINT_FILE
    if not checkpoint.exists():
        raise ConfigError(f"{path}: the {resolved.stage} run has no checkpoint yet; train it first")
    state = load_checkpoint(checkpoint)
    return FinishedRun(
        path=path,
        resolved=resolved,
        step=int(state["step"]),
        seconds=float(state["seconds"]),
        metrics={k: float(v) for k, v in state.get("metrics", {}).items()},
        ema_state=state["ema"]["module"],
    )
