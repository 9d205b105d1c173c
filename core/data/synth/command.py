"""``stemforge synth``: make the synthetic Slakh-like training set.

Wired into core/cli.py as a subcommand (``add_arguments`` + ``run``); also runnable
on its own: ``python3 -m core.data.synth.command --out DIR --songs N``.
"""

from __future__ import annotations

import argparse
import sys

from core.data.synth.generate import generate_dataset
from core.errors import StemforgeError


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0.5:
        raise argparse.ArgumentTypeError("must be more than 0.5 seconds")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Compose songs with bass, drums, guitar and piano, render each instrument with "
        "FluidSynth and write them in the Slakh2100 layout (train/validation/test) for "
        "training. Needs the Debian packages fluidsynth, fluid-soundfont-gm and "
        "musescore-general-soundfont-small."
    )
    parser.add_argument("--out", required=True, help="dataset folder to create or extend")
    parser.add_argument("--songs", type=_positive_int, required=True, help="number of songs")
    parser.add_argument(
        "--seconds",
        type=_positive_float,
        default=30.0,
        help="length of each song in seconds (default: 30)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="dataset seed; the same seed gives identical audio (default: 0)",
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        help="parallel worker processes (default: number of CPUs)",
    )
    parser.add_argument(
        "--soundfont",
        action="append",
        metavar="PATH",
        default=None,
        help="use this General MIDI soundfont instead of the two Debian fonts "
        "(repeat to give several)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace tracks that exist with other settings (default: refuse)",
    )


def run(args: argparse.Namespace) -> int:
    last_length = 0
    last_tenth = -1
    interactive = sys.stderr.isatty()

    def progress(fraction: float, message: str) -> None:
        """One updating line on a terminal; a line per tenth of the work in logs."""
        nonlocal last_length, last_tenth
        line = f"synth: {message}"
        if interactive:
            sys.stderr.write("\r" + line.ljust(last_length))
            last_length = len(line)
        elif int(fraction * 10) != last_tenth:
            last_tenth = int(fraction * 10)
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    try:
        report = generate_dataset(
            args.out,
            songs=args.songs,
            seconds=args.seconds,
            seed=args.seed,
            jobs=args.jobs,
            fonts=args.soundfont,
            overwrite=args.overwrite,
            progress=progress,
        )
    except KeyboardInterrupt:
        sys.stderr.write("\nsynth: interrupted; finished tracks are kept, run again to resume\n")
        return 130
    except (StemforgeError, OSError, ValueError) as error:
        if last_length:
            sys.stderr.write("\n")
        sys.stderr.write(f"stemforge synth: error: {error}\n")
        return 1
    if last_length:
        sys.stderr.write("\n")
    sys.stderr.write(
        f"synth: {report.written} songs written, {report.skipped} already present, "
        f"{report.audio_seconds:.0f} s of music in {report.wall_seconds:.1f} s "
        f"({report.speed:.0f}x real time) -> {args.out}\n"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stemforge synth")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
