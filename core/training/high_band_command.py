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
    parser.add_argument("--data", required=True, type=Path, metavar="DIR",
                        help="a set rendered at 44.1 kHz (stemforge synth --sample-rate 44100); only its "
                             "train split is read")
    parser.add_argument("--model", default=None, metavar="ID_OR_PATH",
                        help="the model whose stems the mask learns from (default: the default model)")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE",
                        help="weights file to write (.safetensors); refused if it exists unless --overwrite")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--preset", default="draft", help="preset the model runs with (default: draft)")
    parser.add_argument("--steps", type=int, default=800, help="optimiser steps (default: 800)")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units per layer (default: 32)")
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
    if min(args.steps, args.hidden, args.threads, args.chunks_per_track) < 1:
        raise ConfigError("--steps, --hidden, --threads and --chunks-per-track must be at least 1")
    import torch

    from core.bundle import load_model
    from core.evaluation.full_band import FullBandSource
    from core.training.high_band import (
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
    # each song's first usable chunks; the rest of a song is never held in memory
    chunks = list(FullBandSource(args.data, ["train"], per_track=args.chunks_per_track))
    examples = []
    for position, chunk in enumerate(chunks):
        print(f"model stems of {chunk.track} chunk {chunk.index} ({position + 1}/{len(chunks)})", file=sys.stderr)
        examples.append(make_example(chunk, model_stems_for(model, chunk, preset, args.seed, args.cache)))

    def report(fraction: float, message: str) -> None:
        if message.startswith("step ") and int(message.split()[1].split("/")[0]) % 100 == 0:
            print(message, file=sys.stderr)

    weights = tuple(args.source_weights) if args.source_weights else None
    result = train_network(examples, chunks[0].rate, args.steps, args.seed, args.hidden,
                           source_weights=weights, progress=report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(args.out.name + ".partial")
    write_weights(result, partial, {"model": model.model_id, "model_sha256": model.sha256,
                                    "data": str(args.data), "split": "train", "chunks": len(chunks),
                                    "preset": preset.name, "steps": args.steps, "chunks_per_track": args.chunks_per_track, "seed": args.seed,
                                    **({"source_weights": list(weights)} if weights else {}),
                                    "threads": args.threads})
    partial.replace(args.out)
    print(f"high-band mask: {result.network.parameter_count()} parameters, {len(chunks)} chunks, "
          f"{args.steps} steps in {result.seconds / 60:.1f} min, final loss {result.final_loss():.2f} dB "
          f"-> {args.out}")
