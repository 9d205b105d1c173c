"""``stemforge export``: finished training runs -> a model bundle.

::

    stemforge export --extractor RUN1 --student RUN3 [--teacher RUN2] --out BUNDLE_DIR --id NAME [--fp32]
                     [--interpolate-with SOURCE --run-weight W]

Writes the EMA weights of each run through :func:`core.bundle.save_bundle`, with

- the presets table :data:`UNTUNED_PRESETS` (the paper's operating points, not yet tuned
  on this model's validation split; the manifest's metrics say ``presets_tuned: false``),
  or :data:`EXTRACTOR_ONLY_PRESETS` for a bundle without the student,
  plus a ``reference`` row (the teacher's Euler sampler) when the teacher is included;
- the last validation scores of each run as metrics;
- a training description: the dataset, and per stage its steps, minutes, final losses,
  crop length, batch and seed.

With ``--interpolate-with SOURCE`` (an extractor run or a bundle, usually the one the run
started from) the exported extractor is ``W * run + (1 - W) * SOURCE``
(:mod:`core.training.weight_interpolation`), recorded in the extractor's stage as
``interpolated_with``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from core.errors import ConfigError, StemforgeError
from core.training.refiner_config import DistillConfig, RefinerConfig

UNTUNED_PRESETS: dict[str, dict] = {
    "draft": {"steps": 0, "sigma_max": 0.0, "sampler": "consistency", "mask": True},
    "fast": {"steps": 1, "sigma_max": 0.0124, "sampler": "consistency", "mask": True},
    "balanced": {"steps": 2, "sigma_max": 0.25, "sampler": "consistency", "mask": True},
    "best": {"steps": 4, "sigma_max": 0.25, "sampler": "consistency", "mask": True},
}
"""The paper's operating points (core/METHOD.md section 5): 1 step at sigma_max 0.0124, 2 and 4
steps at 0.25, each followed by the ratio mask (:mod:`core.ratio_mask`). *tune* per model on
the validation split."""

EXTRACTOR_ONLY_PRESETS: dict[str, dict] = {
    "draft": {"steps": 0, "sigma_max": 0.0, "sampler": "consistency", "mask": True},
    "fast": {"steps": 0, "sigma_max": 0.0, "sampler": "consistency", "views": 2, "mask": True},
}
"""A bundle without refiners: the extractor (draft), and on the mixture and its polarity
inverse, ``(f(x) - f(-x)) / 2`` (fast; :class:`core.model.Preset`), each followed by the
ratio mask (:mod:`core.ratio_mask`)."""

REFERENCE_PRESET: dict = {"steps": 8, "sigma_max": 0.01, "sampler": "teacher"}
"""The teacher's Euler sampler, when the bundle includes the teacher (core/METHOD.md section 4:
small sigma_max, 0.001-0.01). Untuned."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stemforge export``."""
    parser.add_argument("--extractor", required=True, type=Path, metavar="RUN1", help="the extractor run folder")
    parser.add_argument("--student", type=Path, default=None, metavar="RUN3",
                        help="the distillation (student) run folder; without it the bundle "
                             "holds the extractor alone and offers draft and its two-view ensemble fast "
                             "(for comparing extractors)")
    parser.add_argument("--teacher", type=Path, default=None, metavar="RUN2",
                        help="the diffusion run folder, to include the teacher (adds a 'reference' preset)")
    parser.add_argument("--out", required=True, type=Path, metavar="BUNDLE_DIR", help="bundle folder to write (must not exist or be empty)")
    parser.add_argument("--id", dest="bundle_id", required=True, metavar="NAME",
                        help="bundle id ('stemforge models' lists it; 'separate --model ID' picks it)")
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument("--fp16", dest="fp16", action="store_true", default=True,
                           help="store the weights in float16 (default; half the size)")
    precision.add_argument("--fp32", dest="fp16", action="store_false", help="store the weights in float32")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundle folder")
    parser.add_argument("--interpolate-with", type=Path, default=None, metavar="SOURCE",
                        help="an extractor run or bundle of the same architecture (usually the one "
                             "the extractor run started from): export the weights part-way between "
                             "the two (WiSE-FT), see --run-weight")
    parser.add_argument("--run-weight", type=float, default=None, metavar="W",
                        help="with --interpolate-with: the extractor is W * RUN1 + (1 - W) * SOURCE, "
                             "0 <= W <= 1")


def describe_stage(run) -> dict:
    """What the model card says about one training run (a :class:`FinishedRun`); a run
    started from other weights (``--init-from``) also records that source and, as
    ``started_from``, the source's own record, so the manifest keeps the whole history."""
    config = run.resolved.config
    record = {
        "run": str(run.path),
        "steps": run.step,
        "minutes": round(run.seconds / 60, 2),
        "final_losses": {k: v for k, v in run.metrics.items() if k.startswith("loss")},
        "validation": {k: v for k, v in run.metrics.items() if k.startswith("val_")},
        "segment_samples": run.resolved.segment_samples,
        "batch": config.batch,
        "optimizer": config.optimizer,
        "lr": config.lr,
        "seed": config.seed,
        "processes": run.resolved.world_size,
    }
    source = getattr(config, "init_from", "")
    if source:
        record["init_from"] = source
        record["started_from"] = earlier_stage(source)
    return record


def earlier_stage(source: str) -> dict:
    """The training record of what an ``--init-from`` run started from: a bundle's record
    of its extractor, or a run folder's description; empty when it can no longer be read."""
    from core.manifest import MANIFEST, read_manifest
    from core.training.runs import open_run

    try:
        if (Path(source) / MANIFEST).is_file():
            stages = (read_manifest(source).get("training_data") or {}).get("stages") or {}
            return dict(stages.get("extractor") or {})
        return describe_stage(open_run(source, "extractor"))
    except (StemforgeError, OSError, ValueError):
        return {}


def export_bundle(
    extractor_dir: Path,
    student_dir: Path | None,
    out: Path,
    bundle_id: str,
    teacher_dir: Path | None = None,
    fp16: bool = True,
    overwrite: bool = False,
    interpolate_with: Path | None = None,
    run_weight: float | None = None,
) -> Path:
    """Write a bundle from finished runs; returns its folder.

    ``interpolate_with`` and ``run_weight`` (both or neither): export the extractor as
    ``run_weight * run + (1 - run_weight) * interpolate_with``'s extractor.

    Raises:
        ConfigError: a run is missing, of the wrong stage, or not built on the same
            extractor architecture; only one of the two interpolation options.
    """
    import torch

    from core.bundle import save_bundle
    from core.training.runs import open_run

    if (interpolate_with is None) != (run_weight is None):
        raise ConfigError("--interpolate-with and --run-weight go together")
    extractor = open_run(extractor_dir, "extractor")
    student = open_run(student_dir, "distill") if student_dir is not None else None
    teacher = open_run(teacher_dir, "diffusion") if teacher_dir is not None else None
    for run in (student, teacher):
        if run is not None and run.resolved.net != extractor.resolved.net:
            raise ConfigError(
                f"{run.path} was not trained on the architecture of the extractor {extractor.path}"
            )
    distilled_from = Path(student.resolved.config.extractor) if student else None
    if distilled_from is not None and distilled_from.resolve() != Path(extractor_dir).resolve():
        print(
            f"stemforge: warning: the student was distilled with the extractor {distilled_from}, "
            f"exporting it with {extractor_dir}",
            file=sys.stderr,
        )
    presets = {name: dict(row) for name, row in
               (UNTUNED_PRESETS if student is not None else EXTRACTOR_ONLY_PRESETS).items()}
    if teacher is not None:
        presets["reference"] = dict(REFERENCE_PRESET)
    runs = {"extractor": extractor}
    if student is not None:
        runs["student"] = student
    if teacher is not None:
        runs["teacher"] = teacher
    metrics = {"presets_tuned": False}
    for name, run in runs.items():
        for key, value in run.metrics.items():
            if key.startswith("val_"):
                metrics[f"{name}_{key}"] = value
    training_data = {
        "data": extractor.resolved.config.data,
        "stages": {name: describe_stage(run) for name, run in runs.items()},
    }
    extractor_network = extractor.unet()
    if interpolate_with is not None:
        if student is not None or teacher is not None:
            print("stemforge: warning: the refiners learned the error of the extractor run, not of "
                  "its interpolation with --interpolate-with; retrain them on the exported bundle",
                  file=sys.stderr)
        interpolate_network(extractor_network, extractor.resolved.net, interpolate_with, run_weight)
        training_data["stages"]["extractor"]["interpolated_with"] = {
            "source": str(interpolate_with),
            "run_weight": run_weight,
            "source_record": earlier_stage(str(interpolate_with)),
        }
    distill = student.resolved.config if student is not None else None
    teacher_config = teacher.resolved.config if teacher is not None else None
    refiner = distill or teacher_config
    return save_bundle(
        out,
        bundle_id=bundle_id,
        config=extractor.resolved.net,
        config_name=extractor.resolved.config.net,
        extractor=extractor_network,
        student=student.unet() if student is not None else None,
        teacher=teacher.unet() if teacher is not None else None,
        presets=presets,
        diffusion=diffusion_constants(refiner),
        metrics=metrics,
        training_data=training_data,
        dtype=torch.float16 if fp16 else torch.float32,
        overwrite=overwrite,
    )


def interpolate_network(network, architecture, source: Path, run_weight: float) -> None:
    """Move ``network``'s weights, in place, to ``run_weight * network + (1 - run_weight) *
    source`` (an extractor run or a bundle of the same ``architecture``)."""
    from core.training.extractor import initial_weights
    from core.training.weight_interpolation import interpolate_states

    start = initial_weights(str(source), architecture)
    network.load_state_dict(interpolate_states(network.state_dict(), start, run_weight))


def diffusion_constants(refiner: RefinerConfig | None) -> dict:
    """The bundle's ``diffusion`` table for a refiner run's configuration (the student's,
    else the teacher's): its anchor, the scale it denoises and the student's grid ends;
    empty (the bundle's defaults) without a refiner (a draft-only bundle)."""
    if refiner is None:
        return {}
    distill_defaults = {f.name: f.default for f in fields(DistillConfig)}
    return {
        "anchor": refiner.anchor,
        "sigma_data": refiner.data_scale,
        "sigma_min": getattr(refiner, "sigma_min", distill_defaults["sigma_min"]),
        "rho": getattr(refiner, "rho", distill_defaults["rho"]),
    }


def run(args: argparse.Namespace) -> None:
    """``stemforge export ...``."""
    folder = export_bundle(
        args.extractor, args.student, args.out, args.bundle_id,
        teacher_dir=args.teacher, fp16=args.fp16, overwrite=args.overwrite,
        interpolate_with=args.interpolate_with, run_weight=args.run_weight,
    )
    print(f"exported bundle {args.bundle_id} -> {folder}")
