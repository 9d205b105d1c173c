"""``stemforge eval``: the paper's protocol on a dataset split, as Markdown and JSON.

``--full-band`` scores instead, at the set's own rate (44.1 kHz renders), the stems as
``stemforge separate`` writes them with each ``--high-band`` mode
(:mod:`core.evaluation.full_band`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.argtypes import positive_float, positive_int
from core.console import ProgressBar
from core.devices import DEVICE_NAMES
from core.errors import ConfigError
from core.evaluation.console import run_measurement
from core.evaluation.dataset import ChunkSource
from core.evaluation.models import resolve_model
from core.evaluation.modes import FALLBACK_TEACHER_SIGMA_MAX, parse_modes, teacher_sigma_max
from core.evaluation.protocol import ProtocolSettings, evaluate
from core.evaluation.report import json_report, markdown_report, run_context, write_reports
from core.model import StemModel

DEFAULT_MODES = "draft,fast,balanced,best"


def add_model_data_arguments(parser: argparse.ArgumentParser, default_split: str,
                             bundle_only: bool = False) -> None:
    """Options shared by eval, sweep and tune (``bundle_only``: --model names a bundle, required)."""
    if bundle_only:
        parser.add_argument("--model", required=True, metavar="MODEL",
                            help="model bundle folder or installed model id whose presets are rewritten "
                                 "(an imported model's presets are measured against its draft)")
    else:
        parser.add_argument("--model", default=None,
                            help="model bundle folder or id (default: the bundled default model); "
                                 "random:CONFIG[:SEGMENT] builds a random-weight model of core.nn's "
                                 "CONFIG (tiny, lite, paper) for smoke tests")
    parser.add_argument("--data", type=Path, required=True,
                        help="dataset folder: Slakh2100, its MSDM layout, or 'stemforge synth' output")
    parser.add_argument("--split", default=default_split,
                        help=f"dataset split to score (default: {default_split})")
    parser.add_argument("--max-chunks", type=positive_int, default=None, metavar="K",
                        help="score only the first K chunks (default: all; small values for smoke tests)")
    parser.add_argument("--chunk-samples", type=positive_int, default=262144, metavar="N",
                        help="chunk length at 22 050 Hz (default: the paper's 262144)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the refiners' noise (default: 0)")
    parser.add_argument("--device", default="auto", choices=DEVICE_NAMES,
                        help="where the networks run (default: auto)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_data_arguments(parser, default_split="test")
    parser.add_argument("--modes", default=DEFAULT_MODES,
                        help="comma-separated rows to score: preset names of the model, NAME:nomask "
                             "(that preset without its ratio mask) and "
                             f"teacher:N (diffusion teacher, N Euler steps) (default: {DEFAULT_MODES})")
    parser.add_argument("--teacher-sigma-max", type=positive_float, default=None,
                        help="start noise of teacher:N modes (default: the bundle's teacher preset, "
                             f"else {FALLBACK_TEACHER_SIGMA_MAX})")
    parser.add_argument("--out", type=Path, default=Path("eval-report"), metavar="REPORT_DIR",
                        help="folder for report.md and report.json (default: ./eval-report)")
    parser.add_argument("--four-stem-mix", dest="include_other", action="store_false",
                        help="mix only the four instruments (the paper's protocol); by default the "
                             "set's non-target parts (vocals, strings...) stay in the mixture and the "
                             "report adds a leakage table")
    parser.add_argument("--full-band", action="store_true",
                        help="score at the set's own rate (above 22.05 kHz, e.g. 'stemforge synth "
                             "--sample-rate 44100'): the model band, the full band and the band above "
                             "11.025 kHz, for each --high-band mode; --split may list "
                             "several splits separated by commas")


def protocol_settings(args: argparse.Namespace) -> ProtocolSettings:
    """The paper's protocol with the chunk length asked for (it must hold a 4 s window)."""
    settings = ProtocolSettings(chunk_samples=args.chunk_samples)
    if settings.chunk_samples < settings.window_samples:
        raise ConfigError(
            f"--chunk-samples {settings.chunk_samples} is shorter than one {settings.window_seconds:g} s "
            f"window ({settings.window_samples} samples)"
        )
    return settings


def run(args: argparse.Namespace) -> None:
    run_measurement(_run, args)


def _run(args: argparse.Namespace, bar: ProgressBar) -> None:
    settings = protocol_settings(args)
    model = resolve_model(args.model, args.device)
    modes = parse_modes(args.modes, model, teacher_sigma_max(model, args.teacher_sigma_max))
    if args.full_band:
        _run_full_band(args, model, modes, settings, bar)
        return
    source = ChunkSource(args.data, args.split, args.chunk_samples, args.max_chunks, progress=bar,
                         include_other=args.include_other)
    result = evaluate(model, source, modes, settings, seed=args.seed, total_chunks=len(source),
                      progress=bar)
    bar.clear()
    context = run_context(model, args.data, args.split, args.seed)
    context["mixture_has_other"] = bool(args.include_other)
    markdown = markdown_report(result, context)
    md_path, json_path = write_reports(args.out, markdown, json_report(result, context))
    print(markdown)
    print(f"wrote {md_path} and {json_path}")


def mask_in_use(model_id: str) -> dict | None:
    """The learned high-band mask the ``learned`` rows used: its path and sha256 (None: none found)."""
    from core.audio.learned_high_band import find_weights
    from core.errors import ConfigError
    from core.fileio import sha256_file

    try:
        path = find_weights(model_id)
    except ConfigError:
        return None
    return {"path": str(path), "sha256": sha256_file(path)}


def _run_full_band(args: argparse.Namespace, model: StemModel, modes, settings: ProtocolSettings,
                   bar: ProgressBar) -> None:
    from core.evaluation.full_band import (
        FullBandSource,
        evaluate_full_band,
        full_band_json,
        full_band_markdown,
    )

    splits = [part.strip() for part in args.split.split(",") if part.strip()]
    source = FullBandSource(args.data, splits, args.chunk_samples, args.max_chunks)
    result = evaluate_full_band(model, list(source), modes, settings, seed=args.seed, progress=bar)
    bar.clear()
    report = full_band_json(result, {**run_context(model, args.data, ",".join(splits), args.seed),
                                     "learned_mask": mask_in_use(model.model_id)})
    markdown = full_band_markdown(report)
    md_path, json_path = write_reports(args.out, markdown, report)
    print(markdown)
    print(f"wrote {md_path} and {json_path}")
