"""The training loop shared by the three stages.

A stage (:mod:`core.training.extractor`, ``diffusion``, ``distill``) supplies the
network to train, its loss on a batch and its validation estimate; this module does
everything else, identically for all three:

- the run folder ``RUN/``: ``config.json`` (written before the first step),
  ``log.jsonl`` (one JSON object per line: training losses every ``log_every`` steps,
  validation SI-SDRi every ``validate_every`` steps and at the end) and
  ``checkpoint.pt`` (every ``checkpoint_minutes``, at the end and on SIGINT/SIGTERM;
  written atomically by :mod:`core.training.checkpoint`);
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

import contextlib
import json
import math
import signal
import sys
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
from core.evaluation.metrics import is_silent, si_sdr_improvement
from core.instruments import INSTRUMENTS, MODEL_SAMPLE_RATE
from core.nn.architectures import Architecture
from core.training.batches import Batch, StepGenerators, batches, collate, step_seed
from core.training.checkpoint import (
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from core.training.config import (
    CHECKPOINT_FILE,
    LOG_FILE,
    ResolvedConfig,
    TrainingConfig,
    check_resumable,
    read_run_config,
    resolve,
    write_run_config,
)
from core.training.distributed import Distributed, any_rank, barrier, setup, teardown
from core.training.ema import EMA

VALIDATION_STREAM = 1 << 40
"""Seeds the validation noise (a "step" no run reaches), the same at every validation."""


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


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA; nothing elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_optimizer(parameters, resolved: ResolvedConfig) -> torch.optim.Optimizer:
    """Adam or RAdam with the configured learning rate and betas."""
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


def validation_batches(
    dataset, count: int, batch: int, device: torch.device, max_scanned: int | None = None
) -> list[Batch]:
    """The first ``count`` items of ``dataset`` that hold a separation problem, in batches.

    An item qualifies when both its target and the rest of its mixture (mixture - target)
    are non-silent: the training-time version of the paper's window filter (core/METHOD.md
    section 6 skips windows with at most one non-silent stem). A crop where the target
    plays alone scores the mixture at about +90 dB SI-SDR, so one such crop drags the mean
    SI-SDRi of a good estimate down by some 80 dB.

    Items are deterministic, so every validation of a run (and of a resumed run) scores
    the same crops. At most ``max_scanned`` items (default ``20 * count``) are read.
    """
    max_scanned = 20 * count if max_scanned is None else max_scanned
    chosen = []
    for index in range(min(max_scanned, len(dataset))):
        item = dataset[index]
        mixture, target = torch.as_tensor(item[0]), torch.as_tensor(item[1])
        if not bool(is_silent(target)) and not bool(is_silent(mixture - target)):
            chosen.append(item)
        if len(chosen) == count:
            break
    return [
        Batch.from_items(collate(chosen[i : i + batch]), device) for i in range(0, len(chosen), batch)
    ]


@torch.no_grad()
def validate(stage: Stage, ema: nn.Module, crops: list[Batch], seed: int,
             device: torch.device) -> dict[str, float]:
    """Mean SI-SDRi (dB) of the EMA network's estimates on the validation crops, overall
    and per instrument label (``val_si_sdri``, ``val_si_sdri_<label index>``)."""
    generator = torch.Generator(device=device).manual_seed(step_seed(seed, VALIDATION_STREAM))
    scores, labels = [], []
    for batch in crops:
        with autocast(device):
            estimate = stage.estimate(ema, batch, generator)
        scores.append(si_sdr_improvement(estimate.float(), batch.mixture, batch.target).reshape(-1).cpu())
        labels.append(batch.labels.cpu())
    if not scores:
        return {}
    score, label = torch.cat(scores), torch.cat(labels)
    result = {"val_si_sdri": float(score.mean())}
    for index, name in enumerate(INSTRUMENTS):
        chosen = score[label == index]
        if len(chosen):
            result[f"val_si_sdri_{name}"] = float(chosen.mean())
    return result


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
    optimizer = make_optimizer(network.parameters(), resolved)
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

    def save() -> None:
        if not context.is_main:
            return
        save_checkpoint(checkpoint_path, {
            "stage": stage.name,
            "step": step,
            "network": network.state_dict(),
            "ema": ema.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": rng_states(generators.local),
            "seconds": elapsed(),
            "metrics": metrics,
        })

    def run_validation() -> None:
        if not crops:
            return
        scores = validate(stage, ema.module, crops, config.seed, device)
        metrics.update(scores)
        log.write({"event": "validation", "step": step, "seconds": elapsed(), **scores})
        log.say(f"step {step} validation SI-SDRi {scores['val_si_sdri']:.2f} dB (EMA weights)")

    started = time.monotonic()
    elapsed = lambda: seconds_before + time.monotonic() - started  # noqa: E731
    last_checkpoint = time.monotonic()
    first_step = step
    data: Iterator[Batch] = batches(
        train_dataset, step, config.batch, device, context.rank, context.world_size, config.workers
    )
    sums: dict[str, torch.Tensor] = {}
    window_start, window_time = step, time.monotonic()
    samples_per_step = config.batch * resolved.segment_samples

    def log_window() -> None:
        """Log the mean losses of the steps since the last log line, and the throughput."""
        nonlocal sums, window_start, window_time
        now = time.monotonic()
        count = step - window_start
        rate = count / max(now - window_time, 1e-9)
        record = {"event": "train", "step": step, "seconds": elapsed()}
        record.update({name: float(total) / count for name, total in sums.items()})
        record.update({
            "lr": optimizer.param_groups[0]["lr"],
            "steps_per_second": rate,
            "audio_per_second": rate * samples_per_step / MODEL_SAMPLE_RATE,
        })
        if not all(math.isfinite(record[name]) for name in sums):
            log.say(f"warning: non-finite loss at step {step}")
        metrics.update({k: v for k, v in record.items() if k.startswith("loss")})
        log.write(record)
        log.progress(record)
        sums, window_start, window_time = {}, step, now

    last_validated = None
    stopped = "steps"
    network.train()
    with _StopRequest() as stop_request:
        while True:
            if config.steps is not None and step >= config.steps:
                stopped = "steps"
                break
            out_of_time = config.minutes is not None and elapsed() >= 60 * config.minutes
            if any_rank(stop_request.requested or (context.is_main and out_of_time), context):
                stopped = "interrupted" if stop_request.requested else "minutes"
                break
            batch = next(data)
            generators.reseed(config.seed, step, context.rank)
            with autocast(device):
                loss, parts = stage.loss(trained, ema.module, batch, generators)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ema.update(network)
            step += 1

            for name, value in {"loss": loss.detach(), **parts}.items():
                sums[name] = sums.get(name, 0.0) + value.detach().float()
            if step % config.log_every == 0:
                log_window()
            paused = time.monotonic()
            if step % config.validate_every == 0:
                run_validation()
                last_validated = step
            if context.is_main and time.monotonic() - last_checkpoint >= 60 * config.checkpoint_minutes:
                save()
                last_checkpoint = time.monotonic()
            window_time += time.monotonic() - paused  # throughput counts training only

    if sums:
        log_window()
    if step != last_validated and step > first_step:
        run_validation()
    if step > first_step or not checkpoint_path.exists():
        save()
    total = elapsed()
    if step > first_step or not resuming:
        log.write({"event": "end", "step": step, "seconds": total, "stopped": stopped})
    log.say(f"stopped at step {step} ({stopped}), {total / 60:.1f} min in total")
    return RunResult(run_dir, step, total, dict(metrics), stopped, first_step if resuming else None)


def open_datasets(resolved: ResolvedConfig, progress=None):
    """The training crops and (when the split exists) the validation crops of a run.

    Both are ``core.data.datasets.RandomCropDataset`` of ``segment_samples``-long crops
    seeded with ``config.seed``. A dataset without the validation split trains without
    validation. ``progress(fraction, message)`` follows the first decoding of the audio.
    """
    from core.data.datasets import RandomCropDataset

    config = resolved.config
    extra = {} if progress is None else {"progress": progress}
    train_dataset = RandomCropDataset(
        config.data,
        config.train_split,
        resolved.segment_samples,
        seed=config.seed,
        remix=config.remix,
        **extra,
    )
    validation_dataset = None
    if config.validation_crops > 0 and (Path(config.data) / config.validation_split).is_dir():
        validation_dataset = RandomCropDataset(
            config.data, config.validation_split, resolved.segment_samples, seed=config.seed, **extra
        )
    return train_dataset, validation_dataset


class _ThrottledProgress:
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


def run_stage(
    config: TrainingConfig,
    build_stage: Callable[[ResolvedConfig, torch.device], Stage],
    run_dir: Path,
    resume: bool = True,
    net: Architecture | None = None,
    stream: TextIO | None = None,
) -> RunResult:
    """Set up this process (distributed or not), open the data and :func:`train`.

    Args:
        config: the stage configuration.
        build_stage: ``(resolved, device) -> Stage``.
        run_dir: the run folder.
        resume: continue from the run's checkpoint when there is one.
        net: the architecture (the refiners pass the extractor run's); default
            the architecture named ``config.net``.
        stream: where progress lines go (default stderr).
    """
    context = setup(config.device)
    try:
        resolved = resolve(config, net, context.world_size)
        # Rank 0 decodes the audio into the dataset's cache first; the others then read it.
        if context.is_main:
            datasets = open_datasets(resolved, _ThrottledProgress(stream))
        barrier(context)
        if not context.is_main:
            datasets = open_datasets(resolved)
        train_dataset, validation_dataset = datasets
        return train(
            lambda: build_stage(resolved, context.device),
            resolved,
            run_dir,
            context,
            train_dataset,
            validation_dataset,
            resume=resume,
            stream=stream,
        )
    finally:
        teardown(context)
