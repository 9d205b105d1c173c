"""``stemforge tune``: pick each preset's sigma_max on the validation split, write it into the bundle."""

from __future__ import annotations

import argparse

from core.console import ProgressBar
from core.errors import ConfigError
from core.evaluation.command import add_model_data_arguments, protocol_settings
from core.evaluation.console import run_measurement
from core.evaluation.dataset import ChunkSource
from core.evaluation.sweep import parse_grid
from core.evaluation.sweep_command import GRID_HELP
from core.evaluation.tune import apply_choices, check_tuning_split, tune_presets, write_manifest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``stemforge tune``."""
    add_model_data_arguments(parser, default_split="validation", bundle_only=True)
    parser.add_argument("--grid", default="1e-3:1:8", help=GRID_HELP)
    parser.add_argument("--dry-run", action="store_true",
                        help="print the choices without writing the bundle's manifest")


def run(args: argparse.Namespace) -> None:
    run_measurement(_run, args)


def _run(args: argparse.Namespace, bar: ProgressBar) -> None:
    from core.bundle import find_bundle, load_bundle, read_manifest

    check_tuning_split(args.split)
    grid = parse_grid(args.grid)
    settings = protocol_settings(args)
    if str(args.model).startswith("random:"):
        raise ConfigError("tune rewrites a bundle's manifest: pass a bundle folder or id, not random:")
    folder = find_bundle(args.model)
    manifest = read_manifest(folder)
    model = load_bundle(folder, args.device)
    source = ChunkSource(args.data, args.split, args.chunk_samples, args.max_chunks, progress=bar)
    choices, sweep = tune_presets(model, manifest, source, grid, settings, seed=args.seed,
                                  total_chunks=len(source), progress=bar)
    bar.clear()
    lines = [f"# presets tuned and measured on {args.split} ({sweep.chunks} chunks, {sweep.windows_kept} windows)", "",
             "| preset | steps | sigma_max before | sigma_max tuned | SI-SDRi All (dB, active) |",
             "|---|---:|---:|---:|---:|"]
    for name, choice in choices.items():
        before = manifest["presets"][name].get("sigma_max", 0.0)
        tuned = f"{choice['sigma_max']:.4g}" if "sigma_max" in choice else f"- ({choice['views']} views, measured)"
        lines.append(f"| {name} | {choice['steps']} | {before:g} | {tuned} | {choice['si_sdri_validation']:.2f} |")
    lines.append(f"\ndraft: {sweep.extractor:.2f} dB.")
    print("\n".join(lines))
    if args.dry_run:
        print("dry run: the manifest was not changed")
        return
    updated = apply_choices(manifest, choices, sweep, args.split, str(args.data))
    path = write_manifest(folder, updated)
    print(f"wrote the tuned presets into {path}")
