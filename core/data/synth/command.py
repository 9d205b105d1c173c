"""``stemforge synth``: make the synthetic Slakh-like training set.

Wired into core/cli.py as a subcommand (``add_arguments`` + ``run``).
"""

from __future__ import annotations

import argparse
import sys

from core.argtypes import positive_int
from core.data.synth.generate import generate_dataset
from core.data.synth.layout import SPLITS


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0.5:
        raise argparse.ArgumentTypeError("must be more than 0.5 seconds")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def progress_line(fraction: float, message: str, width: int = 24) -> str:
    """``synth: [#####.....]  42% message`` (one line of the progress bar)."""
    filled = int(round(width * min(max(fraction, 0.0), 1.0)))
    return f"synth: [{'#' * filled}{'.' * (width - filled)}] {fraction * 100:3.0f}% {message}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Compose songs with bass, drums, guitar and piano, play each instrument with a "
        "General MIDI soundfont (FluidSynth), a SoundFont drum kit or a recorded "
        "instrument (--samples), run every stem through a production chain and the mix "
        "through a bus compressor/limiter, and write them in the Slakh2100 layout "
        "(train/validation/test) with a data card. The validation split plays only "
        "held-out instruments (see --no-hold-out). Each song also gets 0-4 non-target parts "
        "(a sung lead vocal on most songs, backing vocals, strings, brass, organs, synths, "
        "noise swells...), summed in the track's other.wav and kept out of the four targets "
        "(see --no-other). Needs the Debian packages fluidsynth, fluid-soundfont-gm, "
        "musescore-general-soundfont-small, espeak-ng and (optional) avldrums.lv2-soundfont."
    )
    parser.add_argument("--out", required=True, help="dataset folder to create or extend")
    parser.add_argument("--songs", type=positive_int, required=True, help="number of songs")
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
        type=positive_int,
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
        "--samples",
        metavar="DIR",
        default=None,
        help="folder of recorded instruments laid out as CLASS/ID/regions.json + FLAC "
        "files (default: none, soundfonts only)",
    )
    parser.add_argument(
        "--recorded-share",
        type=_share,
        default=None,
        help="chance that a stem uses a recorded instrument or kit when its class has "
        "one (default: 0.5)",
    )
    parser.add_argument(
        "--no-kits",
        action="store_true",
        help="do not use the avldrums SoundFont kits even when installed",
    )
    parser.add_argument(
        "--no-hold-out",
        dest="hold_out",
        action="store_false",
        help="let every split use every source (default: the validation split plays "
        "only held-out instruments that train and test never use)",
    )
    parser.add_argument(
        "--no-other",
        dest="other_parts",
        action="store_false",
        help="only the four instruments: no vocals or other non-target parts (the sets made "
        "before 2026-12-04, such as rec1000)",
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default=None,
        help="write only the songs of this split (same songs as in the whole set)",
    )
    parser.add_argument(
        "--sample-rate",
        type=int,
        choices=(22050, 44100, 48000),
        default=22050,
        help="sample rate of the written audio (default: 22050, the model's rate; "
        "44100 for full-band evaluation sets)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace tracks that exist with other settings (default: refuse)",
    )


def run(args: argparse.Namespace) -> None:
    last_length = 0
    last_tenth = -1
    interactive = sys.stderr.isatty()

    def progress(fraction: float, message: str) -> None:
        """One updating line on a terminal; a line per tenth of the work in logs."""
        nonlocal last_length, last_tenth
        line = progress_line(fraction, message)
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
            samples=args.samples,
            kits=[] if args.no_kits else None,
            recorded_share=args.recorded_share,
            hold_out=args.hold_out,
            sample_rate=args.sample_rate,
            other_parts=args.other_parts,
            only_split=args.split,
        )
    finally:
        if last_length:  # end the progress line before the summary or the funnel's error
            sys.stderr.write("\n")
    sys.stderr.write(
        f"synth: {report.written} songs written, {report.skipped} already present, "
        f"{report.audio_seconds:.0f} s of music in {report.wall_seconds:.1f} s "
        f"({report.speed:.0f}x real time) -> {args.out}\n"
    )
    if args.samples is None:
        sys.stderr.write("synth: no --samples folder given: soundfonts and kits only\n")
