"""``stemforge tune``: pick each preset's sigma_max on the validation split, write it into the bundle;
for an imported model, measure each preset's gain over draft and write it into its manifest."""

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
    from core.models.registry import find_model

    check_tuning_split(args.split)
    grid = parse_grid(args.grid)
    settings = protocol_settings(args)
    if str(args.model).startswith("random:"):
        raise ConfigError("tune rewrites a bundle's manifest: pass a bundle folder or id, not random:")
    description = find_model(args.model)
    if description.family != "stemforge":
        _run_imported(args, bar, description, settings)
        return
    folder = find_bundle(description.path)
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


def _run_imported(args: argparse.Namespace, bar: ProgressBar, description, settings) -> None:
    """An imported model: measure its presets against draft, write the gains into its manifest
    (:mod:`core.evaluation.imported_tune`)."""
    from core.evaluation.imported_tune import apply_measurements, measure_presets
    from core.models import store
    from core.models.registry import load_described

    if description.source != "installed":
        raise ConfigError(f"{description.path}: tune records its figures in an installed model's manifest; "
                          "add the model first ('stemforge models add')")
    installed = store.read_installed(description.path)
    model = load_described(description, args.device)
    source = ChunkSource(args.data, args.split, args.chunk_samples, args.max_chunks, progress=bar)
    measured, context = measure_presets(model, source, settings, seed=args.seed, total_chunks=len(source),
                                        progress=bar)
    bar.clear()
    lines = [f"# presets of {installed.id} measured on {args.split} ({context['chunks']} chunks, "
             f"{context['windows_kept']} windows; stems {', '.join(context['stems'])})", "",
             "| preset | SI-SDRi All (dB, active) | gain over draft (dB) |", "|---|---:|---:|"]
    lines += [f"| {name} | {row['si_sdri_validation']:.2f} | {row['gain_db']:+.2f} |" for name, row in measured.items()]
    print("\n".join(lines))
    if args.dry_run:
        print("dry run: the manifest was not changed")
        return
    updated = store.update_presets(installed, apply_measurements(installed.presets, measured))
    print(f"wrote the measured presets into {updated.path(store.MANIFEST_NAME)}")
