"""``stemforge bench``: speed per preset, network passes, peak memory, and HTDemucs, in one run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from core.argtypes import non_negative_float, positive_float, positive_int
from core.benchmark.bench import BenchSettings, markdown_bench, run_bench, write_bench
from core.console import ProgressBar
from core.devices import DEVICE_NAMES
from core.errors import ModelLoadError
from core.evaluation.models import resolve_model
from core.model import PRESET_ORDER

FALLBACK_MODEL = "random:lite"
"""Measured when no model is named and none is installed: the shipped architecture with
random weights runs at exactly the trained model's speed."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="model bundle folder or id (default: the installed default model, else "
                             f"{FALLBACK_MODEL}: the shipped architecture with random weights, same speed); "
                             "random:CONFIG[:SEGMENT] for any core.nn configuration")
    parser.add_argument("--seconds", type=positive_float, default=30.0,
                        help="length of the synthetic stereo 44.1 kHz clip for the speed figures (default: 30)")
    parser.add_argument("--short-minutes", type=non_negative_float, default=1.0,
                        help="short input of the memory measurement, minutes (default: 1)")
    parser.add_argument("--long-minutes", type=non_negative_float, default=10.0,
                        help="long input of the memory measurement, minutes; 0 skips memory (default: 10)")
    parser.add_argument("--memory-preset", default=None, choices=list(PRESET_ORDER),
                        help="preset of the memory runs (default: fast when the model has it, else "
                             "the model's default preset)")
    parser.add_argument("--skip-peer", action="store_true",
                        help="do not run HTDemucs (the demucs package) for the speed comparison")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timings of each network pass; the fastest is reported (default: 3)")
    parser.add_argument("--device", default="cpu", choices=DEVICE_NAMES,
                        help="where Stemforge runs (default: cpu, the goals' setting)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch CPU threads (default: torch's choice, one per core)")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE.md",
                        help="also write the table to FILE.md and the figures to FILE.json")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> None:
    """Run the command with gradients off (restored afterwards: callers may train)."""
    with torch.no_grad():
        _run(args)


def _run(args: argparse.Namespace) -> None:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    spec = args.model
    try:
        model = resolve_model(spec, args.device)
    except ModelLoadError:
        if spec is not None:
            raise
        spec = FALLBACK_MODEL
        print(f"note: no model installed; measuring {FALLBACK_MODEL} (the shipped architecture, random weights)",
              file=sys.stderr)
        model = resolve_model(spec, args.device)
    settings = BenchSettings(seconds=args.seconds, short_minutes=args.short_minutes,
                             long_minutes=args.long_minutes, memory_preset=args.memory_preset,
                             skip_peer=args.skip_peer, repeats=max(1, args.repeats), device=args.device)
    bar = ProgressBar(enabled=None if not args.quiet else False)
    try:
        result = run_bench(model, spec, settings, progress=bar)
    finally:
        bar.clear()
    print(markdown_bench(result))
    if args.out is not None:
        md_path, json_path = write_bench(result, args.out)
        print(f"wrote {md_path} and {json_path}")
