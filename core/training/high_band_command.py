"""``stemforge train high-band``: train the learned high-band mask and write its weights.

Runs the model on the train split of a set rendered at 44.1 kHz (the model's stems are
the features; :mod:`core.audio.learned_high_band` says why), then fits the network
(:mod:`core.training.high_band`) for a fixed number of steps: the same data, seed and
thread count give the same file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import ConfigError

HELP = "train the learned high-band mask (--high-band learned) on a 44.1 kHz set's train split"


def add_parser(stages: argparse._SubParsersAction) -> None:
    """Add the ``high-band`` stage to ``stemforge train``."""
    parser = stages.add_parser("high-band", help=HELP, description=HELP)
    parser.add_argument("--data", required=True, type=Path, nargs="+", metavar="DIR",
                        help="one or more sets rendered at 44.1 kHz (stemforge synth --sample-rate 44100); "
                             "only their train splits are read")
    parser.add_argument("--model", default=None, metavar="ID_OR_PATH",
                        help="the model whose stems the mask learns from (default: the default model)")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE",
                        help="weights file to write (.safetensors); refused if it exists unless --overwrite")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--preset", default="draft", help="preset the model runs with (default: draft)")
    parser.add_argument("--steps", type=int, default=1500, help="optimiser steps (default: 1500)")
    parser.add_argument("--widths", type=int, nargs=3, default=None, metavar="C",
                        help="the network's channels at full, half and quarter frequency resolution "
                             "(default: DEFAULT_WIDTHS of core/audio/learned_high_band.py)")
    parser.add_argument("--sharpness", type=float, default=None, metavar="K",
                        help="scale of the logits when separating, written into the file "
                             "(default: DEFAULT_SHARPNESS of core/audio/learned_high_band.py)")
    parser.add_argument("--loss-floor", type=float, default=None, metavar="F",
                        help="the loss's floor, a fraction of each window's mixture energy above the edge "
                             "(default: DEFAULT_LOSS_FLOOR of core/training/high_band.py)")
    parser.add_argument("--share-weight", type=float, default=None, metavar="L",
                        help="weight of the cross-entropy to the true magnitude shares next to the SDR loss "
                             "(default: DEFAULT_SHARE_WEIGHT of core/training/high_band.py; 0: SDR only)")
    parser.add_argument("--focus", action="store_true",
                        help="draw windows where no single source holds the high band more often")
    parser.add_argument("--seed", type=int, default=0, help="seed of the separation and the training (default: 0)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1, deterministic)")
    parser.add_argument("--chunks-per-track", type=int, default=1, metavar="N",
                        help="use each song's first N chunks (default: 1, more songs for the time)")
    parser.add_argument("--source-weights", type=float, nargs=5, default=None, metavar="W",
                        help="weight of each stem's term in the loss: bass, drums, guitar, piano, other "
                             "(default: 1 each)")
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR",
                        help="keep the model's stems here and reuse them on the next run")


def run(args: argparse.Namespace) -> None:
    """``stemforge train high-band ...``; errors go to the CLI's one error funnel
    (:func:`core.cli.run_command`), which prints them and picks the exit code."""
    _train(args)


def _train(args: argparse.Namespace) -> None:
    if args.out.exists() and not args.overwrite:
        raise ConfigError(f"{args.out} exists; pass --overwrite to replace it")
    if min(args.steps, args.threads, args.chunks_per_track, *(args.widths or [1])) < 1:
        raise ConfigError("--steps, --widths, --threads and --chunks-per-track must be at least 1")
    if (args.sharpness is not None and args.sharpness <= 0) or (args.loss_floor is not None and args.loss_floor <= 0):
        raise ConfigError("--sharpness and --loss-floor must be positive")
    if args.share_weight is not None and args.share_weight < 0:
        raise ConfigError("--share-weight must not be negative")
    import torch

    from core.audio.learned_high_band import DEFAULT_SHARPNESS, DEFAULT_WIDTHS
    from core.bundle import load_model
    from core.evaluation.full_band import FullBandSource
    from core.training.high_band import (
        DEFAULT_LOSS_FLOOR,
        DEFAULT_SHARE_WEIGHT,
        loss_weights,
        make_example,
        model_stems_for,
        train_network,
        write_weights,
    )

    try:  # before the minutes spent separating the training songs
        loss_weights(tuple(args.source_weights) if args.source_weights else None)
    except ValueError as error:
        raise ConfigError(f"--source-weights: {error}") from None

    torch.set_num_threads(args.threads)
    model = load_model(args.model, "cpu")
    if args.preset not in model.presets:
        raise ConfigError(f"unknown preset {args.preset!r}; choose from {', '.join(model.presets)}")
    preset = model.presets[args.preset]
    taken: dict[tuple[str, str], int] = {}
    chunks = []
    for data in args.data:
        for chunk in FullBandSource(data, ["train"]):  # each song's first usable chunks
            song = (str(data), chunk.track)
            taken[song] = taken.get(song, 0) + 1
            if taken[song] <= args.chunks_per_track:
                chunks.append(chunk)
    examples = []
    for position, chunk in enumerate(chunks):
        print(f"model stems of {chunk.track} chunk {chunk.index} ({position + 1}/{len(chunks)})", file=sys.stderr)
        examples.append(make_example(chunk, model_stems_for(model, chunk, preset, args.seed, args.cache)))

    def report(fraction: float, message: str) -> None:
        if message.startswith("step ") and int(message.split()[1].split("/")[0]) % 100 == 0:
            print(message, file=sys.stderr)

    weights = tuple(args.source_weights) if args.source_weights else None
    rates = sorted({chunk.rate for chunk in chunks})
    if len(rates) > 1:
        raise ConfigError(f"the sets mix sample rates ({', '.join(map(str, rates))} Hz); train on one rate")
    widths = tuple(args.widths or DEFAULT_WIDTHS)
    floor = DEFAULT_LOSS_FLOOR if args.loss_floor is None else args.loss_floor
    sharpness = DEFAULT_SHARPNESS if args.sharpness is None else args.sharpness
    share_weight = DEFAULT_SHARE_WEIGHT if args.share_weight is None else args.share_weight
    result = train_network(examples, rates[0], args.steps, args.seed, widths, source_weights=weights,
                           loss_floor=floor, focus=args.focus, share_weight=share_weight, progress=report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(args.out.name + ".partial")
    write_weights(result, partial, {"model": model.model_id, "model_sha256": model.sha256,
                                    "data": [str(data) for data in args.data], "split": "train",
                                    "chunks": len(chunks), "preset": preset.name, "steps": args.steps,
                                    "chunks_per_track": args.chunks_per_track, "seed": args.seed,
                                    "widths": list(widths), "loss_floor": floor, "focus": args.focus,
                                    "share_weight": share_weight,
                                    **({"source_weights": list(weights)} if weights else {}),
                                    "threads": args.threads}, sharpness)
    partial.replace(args.out)
    print(f"high-band mask: {result.network.parameter_count()} parameters, {len(chunks)} chunks, "
          f"{args.steps} steps in {result.seconds / 60:.1f} min, final loss {result.final_loss():.2f} dB "
          f"-> {args.out}")
