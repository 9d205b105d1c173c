"""``stemforge train {extractor,diffusion,distill}``: the three training stages.

::

    stemforge train extractor --data DIR --config lite --out RUN1 [--steps N] [--minutes M] ...
    stemforge train diffusion --data DIR --extractor RUN1 --out RUN2 [...]
    stemforge train distill   --data DIR --extractor RUN1 --teacher RUN2 --out RUN3 [...]

Every option left out takes its default from :mod:`core.training.config` (the one source
of defaults), or, when the run is resumed, its stored value. Giving ``--steps`` without
``--minutes`` removes the time budget. A run folder that holds a checkpoint is resumed
unless ``--no-resume`` is given (which starts it over). Several processes: launch the
same command with ``torchrun --nproc_per_node N``.

Exit codes: 0 done, 1 failed, 2 bad options, 130 interrupted (a checkpoint was written).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields, replace
from pathlib import Path

from core.devices import DEVICE_NAMES
from core.errors import ConfigError, StemforgeError
from core.nn.architectures import ARCHITECTURES
from core.training.config import (
    DEFAULT_SEGMENT_SECONDS,
    EXTRACTOR_LOSSES,
    SHORT_SEGMENT_SECONDS,
    STAGES,
    TrainingConfig,
    config_class,
)
from core.training.runs import CHECKPOINT_FILE, read_run_config

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

STAGE_HELP = {
    "extractor": "stage 1: the deterministic extractor (a waveform U-Net or a band-split network)",
    "diffusion": "stage 2: the diffusion teacher (EDM), conditioned on a trained extractor",
    "distill": "stage 3: the consistency student, distilled from a trained teacher",
}


def _default(stage: str, name: str):
    return next(f.default for f in fields(config_class(stage)) if f.name == name)


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _add_stage_arguments(parser: argparse.ArgumentParser, stage: str) -> None:
    d = lambda name: _default(stage, name)  # noqa: E731
    parser.add_argument("--data", required=True, type=Path, metavar="DIR",
                        help="dataset folder in the Slakh2100 layout ({train,validation}/TrackXXXXX/)")
    parser.add_argument("--out", required=True, type=Path, metavar="RUN", help="run folder (created; resumed if it holds a checkpoint)")
    if stage == "extractor":
        parser.add_argument("--config", dest="net", default=None, metavar="NAME",
                            help=f"architecture: {', '.join(ARCHITECTURES)} (default: {d('net')})")
    else:
        parser.add_argument("--extractor", required=True, type=Path, metavar="RUN1",
                            help="the trained extractor run folder (its architecture is used)")
        parser.add_argument("--config", dest="net", default=None, metavar="NAME",
                            help="must match the extractor run's configuration if given")
    if stage == "distill":
        parser.add_argument("--teacher", required=True, type=Path, metavar="RUN2", help="the trained diffusion run folder")
    parser.add_argument("--steps", type=_non_negative_int, default=None, metavar="N",
                        help="stop after this many optimiser steps (alone: no time limit)")
    parser.add_argument("--minutes", type=float, default=None, metavar="M",
                        help=f"stop after this many minutes of training, summed over resumptions "
                             f"(default: {d('minutes')} when --steps is not given)")
    parser.add_argument("--batch", type=int, default=None, metavar="B",
                        help=f"crops per step, over all processes (default: {d('batch')})")
    parser.add_argument("--segment-seconds", type=float, default=None, metavar="S",
                        help=f"crop length, rounded to the architecture's hop (default: "
                             f"{DEFAULT_SEGMENT_SECONDS}, {SHORT_SEGMENT_SECONDS['tiny']} for tiny)")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"learning rate of {d('optimizer')} (default: {d('lr')})")
    if stage == "extractor":
        parser.add_argument("--loss", default=None, choices=EXTRACTOR_LOSSES,
                            help=f"mse (the paper's), snr (the thresholded SNR that weighs quiet "
                                 f"stems like loud ones) or l1_stft (waveform L1 + multi-resolution "
                                 f"STFT) (default: {d('loss')})")
        parser.add_argument("--init-from", type=Path, default=None, metavar="RUN",
                            help="start from the EMA weights of this extractor run (fine-tuning)")
    if stage == "distill":
        parser.add_argument("--k-max", type=int, default=None,
                            help=f"most teacher Heun steps per distillation step (default: {d('k_max')})")
    parser.add_argument("--device", default=None, choices=DEVICE_NAMES,
                        help="where to train; cuda uses bf16 autocast (default: auto)")
    parser.add_argument("--seed", type=int, default=None, metavar="K", help=f"seed of weights, crops and noise (default: {d('seed')})")
    parser.add_argument("--threads", type=int, default=None, metavar="T",
                        help="CPU threads of the training process (default: torch's choice, one per "
                             "core); on a CPU shared with other jobs, 1 is often much faster")
    parser.add_argument("--workers", type=_non_negative_int, default=None,
                        help=f"data-loading processes (default: {d('workers')})")
    parser.add_argument("--remix", type=float, default=None, metavar="P",
                        help="probability that a training crop is remixed from four songs "
                             f"(random gains and polarities) (default: {d('remix')})")
    parser.add_argument("--checkpoint-minutes", type=float, default=None,
                        help=f"minutes between checkpoints (default: {d('checkpoint_minutes')})")
    parser.add_argument("--validate-every", type=int, default=None,
                        help=f"steps between validations (default: {d('validate_every')})")
    parser.add_argument("--log-every", type=int, default=None,
                        help=f"steps between log lines (default: {d('log_every')})")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="continue the run in --out if it has a checkpoint (default); "
                             "--no-resume starts it over")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stemforge train``: one sub-command per stage."""
    stages = parser.add_subparsers(dest="stage", metavar="STAGE", required=True)
    for stage in STAGES:
        sub = stages.add_parser(stage, help=STAGE_HELP[stage], description=STAGE_HELP[stage])
        _add_stage_arguments(sub, stage)


def _absolute(path: Path | None) -> str | None:
    return None if path is None else str(Path(path).expanduser().resolve())


def _extractor_architecture(args: argparse.Namespace) -> str:
    """The refiners take the extractor run's architecture; a different --config is an error."""
    stored = read_run_config(args.extractor).config.net
    if args.net is not None and args.net != stored:
        raise ConfigError(
            f"--config {args.net} does not match the extractor run {args.extractor} ({stored}); "
            "the refiners must share the extractor's architecture"
        )
    return stored


def build_config(args: argparse.Namespace) -> tuple[TrainingConfig, bool]:
    """The stage configuration the options ask for, and whether to resume.

    Fresh run: the defaults plus the given options. Resumed run (``--out`` holds a
    checkpoint and ``--no-resume`` was not given): the stored configuration plus the
    given options (the loop then refuses changes that would alter the weights).
    """
    stage = args.stage
    resume = bool(args.resume) and (Path(args.out) / CHECKPOINT_FILE).exists()
    overrides = {
        "data": _absolute(args.data),
        "net": args.net,
        "steps": args.steps,
        "minutes": args.minutes,
        "batch": args.batch,
        "segment_seconds": args.segment_seconds,
        "lr": args.lr,
        "device": args.device,
        "seed": args.seed,
        "workers": args.workers,
        "checkpoint_minutes": args.checkpoint_minutes,
        "validate_every": args.validate_every,
        "log_every": args.log_every,
        "remix": args.remix,
    }
    if stage == "extractor":
        overrides["loss"] = args.loss
        overrides["init_from"] = _absolute(args.init_from)
    if stage != "extractor":
        overrides["extractor"] = _absolute(args.extractor)
        overrides["net"] = _extractor_architecture(args)
    if stage == "distill":
        overrides["teacher"] = _absolute(args.teacher)
        overrides["k_max"] = args.k_max
    given = {name: value for name, value in overrides.items() if value is not None}
    if args.steps is not None and args.minutes is None:
        given["minutes"] = None  # a step count alone: no time limit
    if not resume:
        return config_class(stage)(**given), False
    stored = read_run_config(Path(args.out)).config
    if stored.stage != stage:
        raise ConfigError(f"{args.out} is a {stored.stage} run; it cannot be resumed as {stage}")
    return replace(stored, **given), True


def train_stage(config: TrainingConfig, run_dir: Path, resume: bool, threads: int | None = None):
    """Run the stage ``config`` belongs to (imports torch-heavy modules lazily)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    if config.stage == "extractor":
        from core.training.extractor import train_extractor as train
    elif config.stage == "diffusion":
        from core.training.diffusion import train_diffusion as train
    else:
        from core.training.distill import train_distill as train
    return train(config, run_dir, resume=resume)


def run(args: argparse.Namespace) -> int:
    """``stemforge train STAGE ...``; returns the exit code."""
    try:
        config, resume = build_config(args)
        result = train_stage(config, Path(args.out), resume, getattr(args, "threads", None))
    except ConfigError as error:
        print(f"stemforge: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except StemforgeError as error:
        print(f"stemforge: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("stemforge: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    scores = ", ".join(
        f"{name} {value:.4g}" for name, value in result.metrics.items()
        if name in ("loss", "val_si_sdri")
    )
    print(
        f"{config.stage}: step {result.step} ({result.stopped}), {result.seconds / 60:.1f} min"
        + (f", {scores}" if scores else "")
        + f" -> {result.run_dir}"
    )
    return EXIT_INTERRUPTED if result.stopped == "interrupted" else EXIT_OK
