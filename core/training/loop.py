"""The training loop shared by the three stages.

A stage (:mod:`core.training.extractor`, ``diffusion``, ``distill``) supplies the
network to train, its loss on a batch and its validation estimate; this module does
everything else, identically for all three:

- the run folder ``RUN/`` (:mod:`core.training.runs`): ``config.json`` before the
  first step, ``log.jsonl`` as it goes, ``checkpoint.pt`` every ``checkpoint_minutes``,
  at the end and on SIGINT/SIGTERM; validation (:mod:`core.training.validation`) every
  ``validate_every`` steps and at the end;
- exact resumption: the data order and the training noise are functions of the step
  (:mod:`core.training.batches`) and the checkpoint holds the weights, the EMA, the
  optimiser state and the RNG states, so a resumed run continues bit for bit (on CPU)
  as if it had never stopped;
- an EMA of the weights (:mod:`core.training.ema`), the exported weights;
- CUDA: bf16 autocast of the forward passes (the losses are reduced in float32);
- several processes (torchrun): DistributedDataParallel averages the gradients; rank
  0 alone writes the run folder and validates; every rank stops at the same step.

The stop condition is the step budget (``steps``) or the time budget (``minutes``,
summed over resumptions), whichever comes first.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core.errors import ConfigError
from core.instruments import MODEL_SAMPLE_RATE
from core.training.batches import Batch, StepGenerators, batches
from core.training.checkpoint import (
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from core.training.distributed import (
    Distributed,
    any_rank,
    autocast,
)
from core.training.ema import EMA
from core.training.resolved import ResolvedConfig
from core.training.runs import (
    CHECKPOINT_FILE,
    LOG_FILE,
    RunLog,
    check_resumable,
    read_run_config,
    write_run_config,
)
from core.training.validation import validate, validation_batches


class Stage(Protocol):
    """What a training stage gives the loop.

    Attributes:
        name: ``extractor``, ``diffusion`` or ``distill``.
        network: the module whose parameters are trained (not DDP-wrapped; its EMA copy
            is what the run exports).
    """

    name: str
    network: nn.Module

    def loss(
        self, network: nn.Module, ema: nn.Module, batch: Batch, generators: StepGenerators
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Scalar float32 loss to minimise, and its named parts (detached scalars).

        ``network`` is :attr:`network`, possibly wrapped in DistributedDataParallel (call
        it once per step); ``ema`` is the EMA copy of :attr:`network`.
        """
        ...

    def estimate(self, ema: nn.Module, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        """Validation estimate ``(B, 1, L)`` of ``batch.target`` from the EMA network."""
        ...


@dataclass
class RunResult:
    """How a call to :func:`train` ended.

    Attributes:
        run_dir: the run folder.
        step: optimiser steps done in total.
        seconds: training wall time in total (over resumptions).
        metrics: the last logged values (``loss``, its parts, ``val_si_sdri``, ...).
        stopped: ``steps``, ``minutes`` or ``interrupted``.
        resumed_from: the step the run resumed at (None for a fresh run).
    """

    run_dir: Path
    step: int
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    stopped: str = "steps"
    resumed_from: int | None = None


def make_optimizer(parameters, resolved: ResolvedConfig) -> torch.optim.Optimizer:
    """Adam or RAdam with the configured learning rate and betas; ``parameters`` is an
    iterable of tensors or of parameter groups (dicts with their own ``lr``)."""
    config = resolved.config
    optimizer_class = {"adam": torch.optim.Adam, "radam": torch.optim.RAdam}[config.optimizer]
    return optimizer_class(parameters, lr=config.lr, betas=tuple(config.betas))


class _StopRequest:
    """SIGINT/SIGTERM set a flag checked between steps (the step in flight completes and a
    checkpoint is written); a second signal gets the default behaviour. Only installed in
    the main thread."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


class _TrainingRun:
    """The mutable state of one call to :func:`train` and what it does between steps:
    checkpoint, validate, log a window of steps. Rank 0 alone writes files.

    Args:
        stage, network, ema, optimizer, generators: the stage and its training state.
        resolved: the run's configuration.
        run_dir: the run folder.
        context: this process's place in the distributed run.
        log: the run's :class:`RunLog`.
        crops: the validation batches (empty: no validation).
        step, seconds_before, metrics: where the run starts (from the checkpoint when
            resumed).
    """

    def __init__(self, stage: Stage, network: nn.Module, ema: EMA, optimizer: torch.optim.Optimizer,
                 generators: StepGenerators, resolved: ResolvedConfig, run_dir: Path,
                 context: Distributed, log: RunLog, crops: list[Batch], step: int,
                 seconds_before: float, metrics: dict[str, float]) -> None:
        self.stage, self.network, self.ema = stage, network, ema
        self.optimizer, self.generators = optimizer, generators
        self.config = resolved.config
        self.samples_per_step = self.config.batch * resolved.segment_samples
        self.checkpoint_path = run_dir / CHECKPOINT_FILE
        self.context, self.log, self.crops = context, log, crops
        self.step, self.seconds_before, self.metrics = step, seconds_before, metrics
        self.started = time.monotonic()
        self.sums: dict[str, torch.Tensor] = {}
        self.window_start, self.window_time = step, time.monotonic()

    def elapsed(self) -> float:
        """Training seconds in total, over resumptions."""
        return self.seconds_before + time.monotonic() - self.started

    def save(self) -> None:
        """Write the checkpoint (rank 0)."""
        if not self.context.is_main:
            return
        save_checkpoint(self.checkpoint_path, {
            "stage": self.stage.name,
            "step": self.step,
            "network": self.network.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": rng_states(self.generators.local),
            "seconds": self.elapsed(),
            "metrics": self.metrics,
        })

    def validate(self) -> None:
        """Score the EMA network on the validation crops and log it (when there are crops)."""
        if not self.crops:
            return
        scores = validate(self.stage, self.ema.module, self.crops, self.config.seed, self.context.device)
        self.metrics.update(scores)
        self.log.write({"event": "validation", "step": self.step, "seconds": self.elapsed(), **scores})
        baseline = scores.get("val_extractor_si_sdri")
        versus = "" if baseline is None else f", extractor alone {baseline:.2f} dB on the same crops"
        self.log.say(f"step {self.step} validation SI-SDRi {scores['val_si_sdri']:.2f} dB (EMA weights{versus})")

    def add_losses(self, parts: dict[str, torch.Tensor]) -> None:
        """Add one step's loss and its parts to the current window's sums."""
        for name, value in parts.items():
            self.sums[name] = self.sums.get(name, 0.0) + value.detach().float()

    def log_window(self) -> None:
        """Log the mean losses of the steps since the last log line, and the throughput."""
        now = time.monotonic()
        count = self.step - self.window_start
        rate = count / max(now - self.window_time, 1e-9)
        record = {"event": "train", "step": self.step, "seconds": self.elapsed()}
        record.update({name: float(total) / count for name, total in self.sums.items()})
        record.update({
            "lr": self.optimizer.param_groups[0]["lr"],
            "steps_per_second": rate,
            "audio_per_second": rate * self.samples_per_step / MODEL_SAMPLE_RATE,
        })
        if not all(math.isfinite(record[name]) for name in self.sums):
            self.log.say(f"warning: non-finite loss at step {self.step}")
        self.metrics.update({k: v for k, v in record.items() if k.startswith("loss")})
        self.log.write(record)
        self.log.progress(record)
        self.sums, self.window_start, self.window_time = {}, self.step, now

    def exclude_pause(self, since: float) -> None:
        """Leave the time since ``since`` (validation, checkpoint) out of the throughput."""
        self.window_time += time.monotonic() - since


def train(
    stage_factory: Callable[[], Stage],
    resolved: ResolvedConfig,
    run_dir: Path,
    context: Distributed,
    train_dataset,
    validation_dataset=None,
    resume: bool = True,
    stream: TextIO | None = None,
) -> RunResult:
    """Train a stage until its step or time budget is spent; resume when possible.

    Args:
        stage_factory: builds the stage on ``context.device`` (called after seeding the
            global RNG with ``config.seed``, so the initial weights are reproducible).
        resolved: the run's configuration.
        run_dir: the run folder (created).
        context: this process's place in the distributed run.
        train_dataset: random-access dataset of ``(mixture (L,), target (L,), label)``
            whose item i is a deterministic function of its seed and i.
        validation_dataset: same, for the validation crops (None: no validation).
        resume: continue from ``RUN/checkpoint.pt`` if it exists (else start over,
            replacing the run's files).
        stream: where the progress lines go (default stderr).

    Raises:
        ConfigError: resuming a run whose configuration changed, or an unreadable checkpoint.
    """
    config = resolved.config
    device = context.device
    run_dir = Path(run_dir)
    checkpoint_path = run_dir / CHECKPOINT_FILE
    resuming = resume and checkpoint_path.exists()
    if context.enabled and any_rank(resuming, context) and any_rank(not resuming, context):
        raise ConfigError(
            f"{run_dir}: only some processes see the checkpoint; put the run folder on a "
            "file system every process shares"
        )
    if resuming:
        check_resumable(read_run_config(run_dir), resolved)

    torch.manual_seed(config.seed)
    stage = stage_factory()
    network = stage.network
    ema = EMA(network, config.ema_decay, config.ema_warmup)
    groups = getattr(stage, "parameter_groups", None)  # a stage may give some layers their own rate
    optimizer = make_optimizer(network.parameters() if groups is None else groups(config.lr), resolved)
    generators = StepGenerators.create(device)
    step, seconds_before, metrics = 0, 0.0, {}
    if resuming:
        state = load_checkpoint(checkpoint_path)
        network.load_state_dict(state["network"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        restore_rng_states(state["rng"], generators.local)
        step, seconds_before = int(state["step"]), float(state["seconds"])
        metrics = dict(state.get("metrics", {}))
    elif context.is_main:
        checkpoint_path.unlink(missing_ok=True)
        write_run_config(run_dir, resolved)

    log = RunLog(run_dir / LOG_FILE, context.is_main, stage.name, config.steps, stream)
    log.start(step if resuming else None)
    if resuming:
        log.say(f"resuming {run_dir} at step {step} ({seconds_before / 60:.1f} min done)")
    else:
        log.say(f"training into {run_dir} on {device} ({context.world_size} process(es))")

    trained = network
    if context.enabled:
        trained = DistributedDataParallel(
            network, device_ids=[device.index] if device.type == "cuda" else None
        )
    crops = []
    if context.is_main and config.validation_crops > 0:
        if validation_dataset is None:
            log.say(f"no {config.validation_split!r} split: training without validation")
        else:
            crops = validation_batches(validation_dataset, config.validation_crops, config.batch, device)
            if not crops:
                log.say("no validation crop with a non-silent target: validation disabled")

    run = _TrainingRun(stage, network, ema, optimizer, generators, resolved, run_dir, context,
                       log, crops, step, seconds_before, metrics)
    last_checkpoint = time.monotonic()
    first_step = step
    data: Iterator[Batch] = batches(
        train_dataset, step, config.batch, device, context.rank, context.world_size, config.workers
    )
    last_validated = None
    stopped = "steps"
    network.train()
    with _StopRequest() as stop_request:
        while True:
            if config.steps is not None and run.step >= config.steps:
                stopped = "steps"
                break
            out_of_time = config.minutes is not None and run.elapsed() >= 60 * config.minutes
            if any_rank(stop_request.requested or (context.is_main and out_of_time), context):
                stopped = "interrupted" if stop_request.requested else "minutes"
                break
            batch = next(data)
            generators.reseed(config.seed, run.step, context.rank)
            with autocast(device):
                loss, parts = stage.loss(trained, ema.module, batch, generators)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ema.update(network)
            run.step += 1

            run.add_losses({"loss": loss, **parts})
            if run.step % config.log_every == 0:
                run.log_window()
            paused = time.monotonic()
            if run.step % config.validate_every == 0:
                run.validate()
                last_validated = run.step
            if context.is_main and time.monotonic() - last_checkpoint >= 60 * config.checkpoint_minutes:
                run.save()
                last_checkpoint = time.monotonic()
            run.exclude_pause(paused)  # throughput counts training only

    if run.sums:
        run.log_window()
    if run.step != last_validated and run.step > first_step:
        run.validate()
    if run.step > first_step or not checkpoint_path.exists():
        run.save()
    total = run.elapsed()
    if run.step > first_step or not resuming:
        log.write({"event": "end", "step": run.step, "seconds": total, "stopped": stopped})
    log.say(f"stopped at step {run.step} ({stopped}), {total / 60:.1f} min in total")
    return RunResult(run_dir, run.step, total, dict(run.metrics), stopped,
                     first_step if resuming else None)
