"""``stemforge train {extractor,diffusion,distill}``: the three training stages.

::

    stemforge train extractor --data DIR --config lite --out RUN1 [--steps N] [--minutes M] ...
    stemforge train diffusion --data DIR --extractor RUN1 --out RUN2 [...]
    stemforge train distill   --data DIR --extractor RUN1 --teacher RUN2 --out RUN3 [...]
    stemforge train diffusion --data DIR --extractor htdemucs_6s --config lite --out RUN2 [...]

``--extractor`` takes an extractor run or any model ``--model`` takes (an imported
separator: :mod:`core.training.frozen_extractor`).

Every option left out takes its default from :mod:`core.training.config` (the one source
of defaults), or, when the run is resumed, its stored value. Giving ``--steps`` without
``--minutes`` removes the time budget. A run folder that holds a checkpoint is resumed
unless ``--no-resume`` is given (which starts it over). Several processes: launch the
same command with ``torchrun --nproc_per_node N``.

Exit codes (:mod:`core.cli`): 0 done, 1 failed, 2 bad options, 130 interrupted (a
checkpoint was written: run the same command again to resume).
"""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from pathlib import Path

from core.argtypes import positive_int
from core.devices import DEVICE_NAMES, SMALL_NETWORK_PARAMETERS, threads_for_network
from core.diffusion.constants import ANCHORS
from core.errors import ConfigError, Outcome
from core.nn.architectures import ARCHITECTURES
from core.training import high_band_command
from core.training.config import (
    DEFAULT_SEGMENT_SECONDS,
    EXTRACTOR_LOSSES,
    SHORT_SEGMENT_SECONDS,
    STAGES,
    TrainingConfig,
)
from core.training.refiner_config import PREDICTIVE_LOSSES
from core.training.resolved import config_class
from core.training.runs import CHECKPOINT_FILE, read_run_config

STAGE_HELP = {
    "extractor": "stage 1: the deterministic extractor (a waveform U-Net or a band-split network)",
    "diffusion": "stage 2: the diffusion teacher (EDM), conditioned on a trained extractor",
    "distill": "stage 3: the consistency student, distilled from a trained teacher",
    "mixer": "baseline: a 1x1 recombination of the extractor's four estimates and the mix",
}


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


OPTIONS: dict[str, dict] = {
    "data": {"metavar": "DIR", "path": True, "required": True,
             "help": "dataset folder in the Slakh2100 layout ({train,validation}/TrackXXXXX/)"},
    "net": {"flag": "--config", "metavar": "NAME",
            "help": f"architecture: {', '.join(ARCHITECTURES)}",
            "refiner_help": "must match the extractor run's configuration if given; on an imported "
                            "model, the refiner's architecture (default: lite)"},
    "extractor": {"metavar": "RUN1|MODEL", "run_or_model": True, "required": True,
                  "help": "the trained extractor run folder (its architecture is used), or a separator "
                          "--model takes (an installed model id such as htdemucs_6s, a Demucs .th or "
                          "bag .yaml, a bundle folder): the refiner, of architecture --config, is then "
                          "conditioned on its estimate"},
    "teacher": {"metavar": "RUN2", "path": True, "required": True,
                "help": "the trained diffusion run folder"},
    "steps": {"type": _non_negative_int, "metavar": "N",
              "help": "stop after this many optimiser steps (alone: no time limit)"},
    "minutes": {"type": float, "metavar": "M",
                "help": "stop after this many minutes of training, summed over resumptions",
                "default_text": "{} when --steps is not given"},
    "batch": {"metavar": "B", "help": "crops per step, over all processes"},
    "segment_seconds": {"type": float, "metavar": "S",
                        "help": "crop length, rounded to the architecture's hop",
                        "default_text": f"{DEFAULT_SEGMENT_SECONDS}, "
                                        f"{SHORT_SEGMENT_SECONDS['tiny']} for the tiny architectures"},
    "lr": {"help": "learning rate"},
    "loss": {"choices": EXTRACTOR_LOSSES,
             "help": "mse (the paper's), snr (the thresholded SNR that weighs quiet stems like "
                     "loud ones) or l1_stft (waveform L1 + multi-resolution STFT)"},
    "stft_sizes": {"nargs": "+", "type": int, "metavar": "N",
                   "help": "FFT sizes of the l1_stft loss's STFT term"},
    "stft_complex_weight": {"metavar": "W", "help": "weight of the l1_stft loss's complex STFT term"},
    "l1snr_weight": {"metavar": "W", "help": "weight of the l1_stft loss's L1-SNR term"},
    "init_from": {"metavar": "RUN", "path": True,
                  "help": "start from the EMA weights of this extractor run, or from the "
                          "extractor of this model bundle (fine-tuning)"},
    "anchor": {"choices": ANCHORS,
               "help": "what the refiner denoises around: x_det (the extractor's error) or zero "
                       "(the stem itself, the paper's)"},
    "sigma_data": {"type": float, "metavar": "S",
                   "help": "scale of what the refiner denoises",
                   "default_text": "0.05 around x_det, 0.2 around zero"},
    "sigma_train_range": {"nargs": 2, "type": float, "metavar": ("LOW", "HIGH"),
                          "help": "train only on noise levels in this range (the log-normal restricted to it)"},
    "warm_start": {"help": "start the refiner from the extractor's weights where shapes match"},
    "predictive_weight": {"metavar": "W",
                          "help": "weight of the loss on the student's one-step output from x_det "
                                  "(see --predictive-loss)"},
    "predictive_loss": {"choices": PREDICTIVE_LOSSES,
                        "help": "what the predictive term measures: l1_stft (waveform L1 + multi-resolution "
                                "STFT) or mse (squared error, the extractor's loss)"},
    "output_lr_scale": {"metavar": "G",
                        "help": "the zeroed output layer learns G times faster than the rest of the student"},
    "consistency_weight": {"metavar": "W",
                           "help": "weight of the consistency term (0 skips the teacher's "
                                   "trajectories: a predictive student, 2-3x cheaper a step)"},
    "denoising_weight": {"metavar": "W", "help": "weight of the student's EDM denoising term"},
    "sigma_max": {"metavar": "S", "help": "highest noise level of the distillation grid"},
    "k_max": {"metavar": "K", "help": "most teacher Heun steps per distillation step"},
    "device": {"choices": DEVICE_NAMES, "help": "where to train; cuda uses bf16 autocast"},
    "seed": {"metavar": "K", "help": "seed of weights, crops and noise"},
    "workers": {"type": _non_negative_int, "help": "data-loading processes"},
    "remix": {"metavar": "P", "help": "probability that a training crop is remixed from four songs "
                                      "(random gains and polarities)"},
    "include_other": {"help": "mixtures also hold the set's non-target parts (vocals, strings, "
                                "synths...; Slakh's other classes), which the model learns to leave "
                                "in 'other'; remixed crops draw them from another song too"},
    "other_probability": {"metavar": "P", "help": "with --include-other, the share of training crops "
                                                  "that hold the non-target parts (the rest: the four "
                                                  "stems alone)"},
    "checkpoint_minutes": {"help": "minutes between checkpoints"},
    "validate_every": {"help": "steps between validations"},
    "log_every": {"help": "steps between log lines"},
}
"""The configuration fields ``stemforge train`` exposes, with what argparse needs beyond
what the dataclasses give: a stage gets the option of each field its configuration class
has (:mod:`core.training.config`), typed like the field's default and documented with
it. ``path``: a folder, stored as an absolute path."""


def stage_options(stage: str) -> list[tuple[str, dict, object]]:
    """``(field name, OPTIONS entry, default)`` of the options of ``stage``, in table order."""
    defaults = {f.name: f.default for f in fields(config_class(stage))}
    return [(name, spec, defaults[name]) for name, spec in OPTIONS.items() if name in defaults]


def _add_option(parser: argparse.ArgumentParser, stage: str, name: str, spec: dict, default) -> None:
    flag = spec.get("flag", "--" + name.replace("_", "-"))
    kwargs = {"dest": name, "default": None}
    for key in ("metavar", "choices", "nargs"):
        if key in spec:
            kwargs[key] = spec[key]
    if spec.get("run_or_model"):
        kwargs["type"] = str
    elif isinstance(default, bool):
        kwargs["action"] = argparse.BooleanOptionalAction
    elif spec.get("path"):
        kwargs["type"] = Path
    elif "choices" not in spec:
        kwargs["type"] = spec.get("type", type(default))
    refiner_text = stage != "extractor" and "refiner_help" in spec
    text = spec["refiner_help"] if refiner_text else spec["help"]
    if spec.get("required"):
        kwargs["required"] = True
    elif not refiner_text and (default not in (None, "") or "default_text" in spec):
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        text += f" (default: {spec.get('default_text', '{}').format(shown)})"
    parser.add_argument(flag, help=text, **kwargs)


def _add_stage_arguments(parser: argparse.ArgumentParser, stage: str) -> None:
    parser.add_argument("--out", required=True, type=Path, metavar="RUN",
                        help="run folder (created; resumed if it holds a checkpoint)")
    for name, spec, default in stage_options(stage):
        _add_option(parser, stage, name, spec, default)
    parser.add_argument("--threads", type=positive_int, default=None, metavar="T",
                        help="CPU threads of the training process (default: 1 for networks under "
                             f"{SMALL_NETWORK_PARAMETERS / 1e6:g} M parameters such as tiny, else torch's "
                             "choice, one per core); on a CPU shared with other jobs, 1 is often much faster")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="continue the run in --out if it has a checkpoint (default); "
                             "--no-resume starts it over")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stemforge train``: one sub-command per stage."""
    stages = parser.add_subparsers(dest="stage", metavar="STAGE", required=True)
    for stage in STAGES:
        sub = stages.add_parser(stage, help=STAGE_HELP[stage], description=STAGE_HELP[stage])
        _add_stage_arguments(sub, stage)
    high_band_command.add_parser(stages)


def _absolute(path: Path | None) -> str | None:
    return None if path is None else str(Path(path).expanduser().resolve())


def _run_or_model(value: str | None) -> str | None:
    """An existing folder or file as an absolute path; anything else (a model id) as given."""
    if value is None or not Path(value).expanduser().exists():
        return value
    return _absolute(Path(value))


def _extractor_architecture(args: argparse.Namespace) -> str | None:
    """The refiners take the extractor run's architecture; a different --config is an error.
    On an imported model, --config names the refiner's (None: the stored or default one)."""
    from core.training.frozen_extractor import is_run_folder

    if not is_run_folder(args.extractor):
        return args.net
    stored = read_run_config(args.extractor).config.net
    if args.net is not None and args.net != stored:
        raise ConfigError(
            f"--config {args.net} does not match the extractor run {args.extractor} ({stored}); "
            "the refiners must share the extractor's architecture"
        )
    return stored


def _extractor_parameters(name: str) -> int:
    """Parameters of the extractor of architecture ``name``, counted on the ``meta`` device
    (shapes only, nothing allocated); the refiners share its U-Net."""
    import torch

    from core.nn.extractors import build_extractor
    from core.nn.unet import count_parameters

    with torch.device("meta"):
        return count_parameters(build_extractor(ARCHITECTURES[name]))


def build_config(args: argparse.Namespace) -> tuple[TrainingConfig, bool]:
    """The stage configuration the options ask for, and whether to resume.

    Fresh run: the defaults plus the given options. Resumed run (``--out`` holds a
    checkpoint and ``--no-resume`` was not given): the stored configuration plus the
    given options (the loop then refuses changes that would alter the weights).
    """
    stage = args.stage
    resume = bool(args.resume) and (Path(args.out) / CHECKPOINT_FILE).exists()
    overrides = {}
    for name, spec, _ in stage_options(stage):
        value = getattr(args, name)
        if spec.get("run_or_model"):
            value = _run_or_model(value)
        overrides[name] = _absolute(value) if spec.get("path") else value
    if stage != "extractor":
        overrides["net"] = _extractor_architecture(args)
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
    """Run the stage ``config`` belongs to (imports torch-heavy modules lazily) on
    ``threads`` CPU threads (default: :func:`core.devices.threads_for_network`)."""
    import torch

    threads = threads or threads_for_network(_extractor_parameters(config.net), config.device)
    if threads:
        torch.set_num_threads(threads)
    if config.stage == "extractor":
        from core.training.extractor import train_extractor as train
    elif config.stage == "diffusion":
        from core.training.diffusion import train_diffusion as train
    elif config.stage == "mixer":
        from core.training.mixer import train_mixer as train
    else:
        from core.training.distill import train_distill as train
    return train(config, run_dir, resume=resume)


def run(args: argparse.Namespace) -> Outcome | None:
    """``stemforge train STAGE ...``: INTERRUPTED when the run stopped early on the user's
    request (its checkpoint is written), else None."""
    if args.stage == "high-band":
        return high_band_command.run(args)
    config, resume = build_config(args)
    result = train_stage(config, Path(args.out), resume, getattr(args, "threads", None))
    scores = ", ".join(
        f"{name} {value:.4g}" for name, value in result.metrics.items()
        if name in ("loss", "val_si_sdri")
    )
    print(
        f"{config.stage}: step {result.step} ({result.stopped}), {result.seconds / 60:.1f} min"
        + (f", {scores}" if scores else "")
        + f" -> {result.run_dir}"
    )
    return Outcome.INTERRUPTED if result.stopped == "interrupted" else None
