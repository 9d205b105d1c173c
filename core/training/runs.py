"""The training run folder ``RUN/``: its files, its log, and reading finished runs.

A run folder holds

- ``config.json``: the resolved configuration (:func:`write_run_config`, written
  before the first step); a resumed run must match it (:func:`check_resumable`);
- ``log.jsonl``: one JSON object per line, training losses every ``log_every`` steps,
  validation SI-SDRi every ``validate_every`` steps and at the end, and an ``end``
  record (:class:`RunLog`, which also prints the short progress lines);
- ``checkpoint.pt``: weights, EMA, optimiser and RNG states (written atomically by
  :mod:`core.training.checkpoint`).

The later stages need the extractor run's network (frozen) and architecture; the
distillation stage needs the extractor's and the teacher's; the export needs all of
them (:func:`open_run`). A run's checkpoint stores the state dict of the trained module:
the extractor itself, or the preconditioning wrapper (``net.*`` keys) for the refiners.

This module imports torch only when a finished run's weights are read, so the
``stemforge train`` command can check a run folder without it.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from core.errors import ConfigError
from core.fileio import write_text_atomic
from core.training.resolved import ResolvedConfig

if TYPE_CHECKING:
    import torch

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.pt"
LOG_FILE = "log.jsonl"


RUNTIME_FIELDS: frozenset[str] = frozenset(
    {
        "data",
        "extractor",
        "teacher",
        "steps",
        "minutes",
        "checkpoint_minutes",
        "validate_every",
        "validation_crops",
        "log_every",
        "device",
        "workers",
    }
)
"""Fields a resumed run may change: budgets, bookkeeping, where things are and run.
Every other field shapes the weights or the data order and must match the stored run."""


def write_run_config(run_dir: Path, resolved: ResolvedConfig) -> Path:
    """Write ``RUN/config.json`` (atomically) and return its path."""
    run_dir.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(run_dir / CONFIG_FILE, json.dumps(resolved.to_dict(), indent=2) + "\n")


def read_run_config(run_dir: Path) -> ResolvedConfig:
    """Read ``RUN/config.json``; a missing or malformed file raises :class:`ConfigError`."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{run_dir} is not a training run (no {CONFIG_FILE})") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read the run configuration ({error})") from None
    return ResolvedConfig.from_dict(data)


def check_resumable(stored: ResolvedConfig, new: ResolvedConfig) -> None:
    """Refuse to resume a run whose weights-shaping fields changed.

    Raises:
        ConfigError: naming each changed field with its stored and new value.
    """
    changed = []
    if stored.stage != new.stage:
        changed.append(f"stage ({stored.stage} -> {new.stage})")
    old_fields, new_fields = stored.config.to_dict(), new.config.to_dict()
    for name in sorted(set(old_fields) | set(new_fields)):
        if name in RUNTIME_FIELDS:
            continue
        if old_fields.get(name) != new_fields.get(name):
            changed.append(f"{name} ({old_fields.get(name)} -> {new_fields.get(name)})")
    if stored.net != new.net:
        changed.append("net architecture")
    if stored.segment_samples != new.segment_samples:
        changed.append(f"segment ({stored.segment_samples} -> {new.segment_samples} samples)")
    if changed:
        raise ConfigError(
            "cannot resume: the run was started with different settings: "
            + ", ".join(changed)
            + " (use the same options, or --no-resume to start over)"
        )



class RunLog:
    """``log.jsonl`` and the short stderr line (rank 0 only; other ranks write nothing)."""

    def __init__(self, path: Path, enabled: bool, stage: str, total_steps: int | None,
                 stream: TextIO | None = None) -> None:
        self.path = path
        self.enabled = enabled
        self.stage = stage
        self.total_steps = total_steps
        self.stream = stream if stream is not None else sys.stderr

    def start(self, resumed_step: int | None) -> None:
        """Fresh run: empty the log. Resumed run: drop lines written after the checkpoint
        (by the interrupted process), so the log reads as one uninterrupted run."""
        if not self.enabled:
            return
        if resumed_step is None or not self.path.exists():
            self.path.write_text("")
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut by the kill
            if record.get("step", 0) <= resumed_step:
                kept.append(line)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text("".join(line + "\n" for line in kept))
        temporary.replace(self.path)

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def say(self, message: str) -> None:
        if self.enabled:
            print(f"[{self.stage}] {message}", file=self.stream, flush=True)

    def progress(self, record: dict) -> None:
        total = f"/{self.total_steps}" if self.total_steps is not None else ""
        parts = " ".join(
            f"{k} {v:.4g}" for k, v in record.items() if k.startswith("loss") or k.startswith("val_")
        )
        self.say(
            f"step {record['step']}{total} {parts} "
            f"({record.get('steps_per_second', 0):.2f} steps/s, "
            f"{record.get('audio_per_second', 0):.1f} s audio/s, {record['seconds'] / 60:.1f} min)"
        )


class ThrottledProgress:
    """Prints ``progress(fraction, message)`` to ``stream`` at most every few seconds."""

    def __init__(self, stream: TextIO | None, every: float = 5.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.last = -math.inf

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self.last >= self.every or fraction >= 1.0:
            self.last = now
            print(f"[data] {fraction * 100:5.1f}% {message}", file=self.stream, flush=True)



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

    def unet(self) -> torch.nn.Module:
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
        from core.nn.extractors import build_extractor, build_refiner

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
    from core.training.checkpoint import load_checkpoint

    state = load_checkpoint(checkpoint)
    return FinishedRun(
        path=path,
        resolved=resolved,
        step=int(state["step"]),
        seconds=float(state["seconds"]),
        metrics={k: float(v) for k, v in state.get("metrics", {}).items()},
        ema_state=state["ema"]["module"],
    )
