"""``stemforge sweep``: SI-SDRi against sigma_max per step count, as a PNG plot (the paper's Figure 2)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.console import ProgressBar
from core.errors import ConfigError
from core.evaluation.command import add_model_data_arguments, protocol_settings
from core.evaluation.console import run_measurement
from core.evaluation.dataset import ChunkSource
from core.evaluation.models import resolve_model
from core.evaluation.report import run_context
from core.evaluation.sweep import (
    SAMPLERS,
    available_samplers,
    import_matplotlib,
    markdown_sweep,
    parse_grid,
    plot_sweep,
    run_sweep,
)

GRID_HELP = ("sigma_max values: LOW:HIGH:COUNT log-spaced, or a comma-separated list "
             "(default: 1e-3:1:8)")


def _step_counts(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad step counts {text!r}: write e.g. 1,2,3,4,5") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("step counts must be >= 1")
    return values


def _samplers(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in SAMPLERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose samplers among {','.join(SAMPLERS)}")
    return names



def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``stemforge sweep``."""
    add_model_data_arguments(parser, default_split="validation")
    parser.add_argument("--grid", default="1e-3:1:8", help=GRID_HELP)
    parser.add_argument("--steps", type=_step_counts, default=[1, 2, 3, 4, 5],
                        help="comma-separated step counts (default: 1,2,3,4,5)")
    parser.add_argument("--samplers", type=_samplers, default=list(SAMPLERS),
                        help="consistency (student) and/or teacher (diffusion, Euler) (default: both)")
    parser.add_argument("--out", type=Path, default=Path("sweep-report"), metavar="DIR",
                        help="folder for sweep.png, sweep.json and sweep.md (default: ./sweep-report)")


def run(args: argparse.Namespace) -> None:
    run_measurement(_run, args)


def _run(args: argparse.Namespace, bar: ProgressBar) -> None:
    grid = parse_grid(args.grid)
    settings = protocol_settings(args)
    import_matplotlib()  # fail before hours of work, not after
    model = resolve_model(args.model, args.device)
    samplers = available_samplers(model, args.samplers)
    if not samplers:
        raise ConfigError(f"model {model.model_id} has none of the networks for {','.join(args.samplers)}")
    source = ChunkSource(args.data, args.split, args.chunk_samples, args.max_chunks, progress=bar)
    skipped = sorted(set(args.samplers) - set(samplers))
    if skipped:
        bar.clear()
        print(f"note: model {model.model_id} has no network for {', '.join(skipped)}; skipped", file=sys.stderr)
    draft = model.presets.get("draft")
    result = run_sweep(model, source, grid, args.steps, samplers, settings,
                       seed=args.seed, total_chunks=len(source), progress=bar,
                       mask=bool(draft is not None and draft.mask))
    bar.clear()
    context = run_context(model, args.data, args.split, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    png = plot_sweep(result, args.out / "sweep.png", title=f"{model.model_id} on {args.split} ({result.chunks} chunks)")
    data = {**context, **result.to_dict()}
    (args.out / "sweep.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    markdown = f"# sigma_max sweep: {model.model_id}, split {args.split}\n\n" + markdown_sweep(result)
    (args.out / "sweep.md").write_text(markdown + "\n", encoding="utf-8")
    print(markdown)
    print(f"wrote {png}, {args.out / 'sweep.json'} and {args.out / 'sweep.md'}")
