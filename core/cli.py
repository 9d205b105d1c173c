"""``stemforge``: the command line, one entry point with subcommands.

Exit codes scripts can trust: 0 when every input succeeded (or was skipped because
its outputs exist), 1 when any input failed, 2 for a usage error (unknown model id
included), 130 when interrupted (Ctrl-C), 143 when terminated (SIGTERM). Bad input gets
one line on stderr naming the file and the reason; an interrupted or terminated run
removes its unfinished files first.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Collection
from pathlib import Path

from core import __version__
from core.argtypes import positive_int, seed
from core.console import ProgressBar, one_line
from core.devices import DEFAULT_SEPARATE_THREADS, DEFAULT_THREADS_REASON, DEVICE_NAMES
from core.errors import AudioLoadError, ConfigError, Outcome, StemforgeError, UnknownModelError
from core.instruments import DEFAULT_HIGH_BAND, HIGH_BAND_MODES, INSTRUMENTS
from core.model import PRESET_ORDER
from core.option_checks import BIT_DEPTHS, OUTPUT_FORMATS, check_stems
from core.outputs import DEFAULT_TEMPLATE, TEMPLATE_FIELDS

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
OUTCOME_EXIT_CODES = {None: EXIT_OK, Outcome.FAILED: EXIT_FAILED, Outcome.INTERRUPTED: EXIT_INTERRUPTED}


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so a terminated run unwinds (and removes its
    unfinished files) exactly like an interrupted one."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()

# Subcommands defined in their own modules: name -> (module, one-line help).
# Each module provides add_arguments(parser) and run(args) -> Outcome | None; it raises
# core.errors' typed errors, which only run_command turns into a line and an exit code.
EXTERNAL_COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("core.data.synth.command", "make a synthetic Slakh-like multitrack dataset with FluidSynth"),
    "train": ("core.training.command", "train the extractor, the diffusion teacher or the consistency student"),
    "export": ("core.training.export", "package trained runs as a model bundle"),
    "eval": ("core.evaluation.command", "measure SI-SDRi per instrument with the paper's protocol"),
    "sweep": ("core.evaluation.sweep_command", "plot SI-SDRi against sigma_max for 1 to 5 steps"),
    "tune": ("core.evaluation.tune_command", "tune each preset's sigma_max on the validation split"),
    "card": ("core.evaluation.card", "write a bundle's model card from eval, sweep and bench results"),
    "bench": ("core.benchmark.command", "measure speed and memory, and compare with HTDemucs"),
    "gui": ("desktop.command", "open the desktop app"),
}


def _error(message: str) -> None:
    print(f"stemforge: error: {one_line(message)}", file=sys.stderr)


def _stems(text: str) -> tuple[str, ...]:
    """The names given, each once; whether the model has them is checked once it is known."""
    names = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    try:
        return check_stems(names, available=names)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_separate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                        help="audio files, or folders searched recursively for audio")
    parser.add_argument("--out", type=Path, default=Path("stems"),
                        help="output folder (default: ./stems)")
    parser.add_argument("--stems", type=_stems, default=None,
                        help="comma-separated stems to extract, the model's own names ('stemforge models' "
                             f"lists them; the default model's: {','.join(INSTRUMENTS)}) (default: all of the "
                             "model's stems)")
    parser.add_argument("--preset", default=None, choices=PRESET_ORDER,
                        help="quality/speed: draft = extractor only; fast/balanced/best = "
                             "1/2/4 consistency refinement steps, or for a model without refiners "
                             "fast = the extractor on the mix and its polarity inverse; a preset may end "
                             "with a ratio mask (the shipped ones do); 'stemforge models' lists each with "
                             "its measured gain and whether it is offered; for an imported model draft = the "
                             "model as its authors run it, the others only once 'stemforge tune' measured a "
                             "gain (default: balanced when the model offers it, else the slowest faster "
                             "preset it offers)")
    parser.add_argument("--model", default=None,
                        help="model id ('stemforge models' lists them), a bundle folder, or a Demucs .th or "
                             "bag .yaml file you chose (a .th is a pickle, which can run code: Stemforge "
                             "reads it with torch's weights-only unpickler; use files you trust) (default: "
                             "the bundled default model)")
    parser.add_argument("--device", default="auto", choices=DEVICE_NAMES,
                        help="where the networks run; auto = CUDA, then MPS, then CPU (default: auto)")
    parser.add_argument("--format", default="wav", choices=OUTPUT_FORMATS,
                        help="output file format (default: wav; ogg is lossy and does not null exactly)")
    parser.add_argument("--subtype", default=None, type=str.upper,
                        choices=BIT_DEPTHS,
                        help="output bit depth (default: the input's; lossy input -> PCM_24)")
    parser.add_argument("--template", default=DEFAULT_TEMPLATE,
                        help="output path under --out, ending in .{ext}; fields "
                             + " ".join("{" + name + "}" for name in TEMPLATE_FIELDS)
                             + f" ({{folder}}: the input's folder name; default: {DEFAULT_TEMPLATE})")
    parser.add_argument("--high-band", default=DEFAULT_HIGH_BAND, choices=HIGH_BAND_MODES,
                        help="content above the model's band (11 kHz for the default model; inputs above "
                             "twice that rate): assign = each stem gets its share by a rule, what none "
                             "claims goes to the residual; learned = the shares come from a small trained "
                             "network (the default model's stems only; other models use assign); residual = "
                             f"all of it goes to the residual (default: {DEFAULT_HIGH_BAND})")
    parser.add_argument("--no-residual", dest="residual", action="store_false",
                        help="do not write the residual stem, input minus the extracted stems ('other'; "
                             "'residual' for a model with a stem of its own called 'other')")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing outputs (default: skip inputs whose outputs exist)")
    parser.add_argument("--seed", type=seed, default=0,
                        help="seed of the refiner's noise, 0 to 2^64 - 1: the same seed repeats a render "
                             "exactly (default: 0)")
    parser.add_argument("--threads", type=positive_int, default=DEFAULT_SEPARATE_THREADS, metavar="N",
                        help="CPU threads for the networks (torch's intra-op threads), 1 or more "
                             f"(default: {DEFAULT_SEPARATE_THREADS}: {DEFAULT_THREADS_REASON})")
    parser.add_argument("--quiet", action="store_true", help="print only errors")


def load_model(spec: str | None, device: str):
    """Load a model by id or path (:func:`core.models.registry.load_model`; imported lazily:
    ``--help`` stays fast); a bundle gets torch's CPU threads fitted to its size
    (:func:`core.devices.threads_for_network`)."""
    from core.models.registry import load_model as load

    return load(spec, device)


def run_separate(args: argparse.Namespace) -> Outcome | None:
    from core.jobs import SeparationOptions, run_batch, scan_inputs

    def options_for(model) -> SeparationOptions:
        return SeparationOptions(
            out_dir=args.out, stems=check_stems(args.stems or model.instruments, model.instruments),
            preset=args.preset, device=args.device, format=args.format, subtype=args.subtype,
            template=args.template, residual=args.residual, overwrite=args.overwrite, seed=args.seed,
            high_band=args.high_band, threads=args.threads,
        )

    files, empty = scan_inputs(args.inputs)
    if not files:
        raise AudioLoadError("no audio files found in " + ", ".join(map(str, args.inputs)))
    for folder in empty:  # beside other inputs: one line each, the rest goes on
        _error(f"{folder}: no audio files in this folder")
    model = load_model(args.model, args.device)
    options = options_for(model)  # the model's stems: a name it lacks is a usage error
    bar = ProgressBar(enabled=sys.stderr.isatty() and not args.quiet)

    def progress(index: int, fraction: float, message: str) -> None:
        bar(fraction, f"[{index + 1}/{len(files)}] {message}")

    def report(result) -> None:
        bar.clear()
        if result.status == "done":
            if not args.quiet:
                where = result.recipe.parent if result.recipe else args.out
                print(one_line(f"done: {result.message} -> {where} ({result.seconds:.1f} s)"))
        elif result.status == "skipped":
            if not args.quiet:
                print(one_line(result.message), file=sys.stderr)
        else:
            _error(result.message)

    try:
        results = run_batch(files, model, options, on_progress=progress, on_result=report)
    finally:
        bar.clear()
    failed = sum(r.status in ("failed", "cancelled") for r in results) + len(empty)
    if not args.quiet and len(results) + len(empty) > 1:
        done = sum(r.status == "done" for r in results)
        skipped = sum(r.status == "skipped" for r in results)
        print(f"{done} done, {failed} failed, {skipped} skipped")
    return Outcome.FAILED if failed else None


def add_models_arguments(parser: argparse.ArgumentParser) -> None:
    from core.models.command import add_arguments

    add_arguments(parser)


def run_models(args: argparse.Namespace) -> Outcome | None:
    """``stemforge models [list|add|remove|get]`` (:mod:`core.models.command`)."""
    from core.models.command import run

    return run(args)


def chosen_command(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is one), or None."""
    names = {"separate", "models", *EXTERNAL_COMMANDS}
    return next((word for word in argv if word in names), None)


def build_parser(load: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The ``stemforge`` parser.

    Args:
        load: external commands whose modules are imported to add their options (the
            one being run); None imports all of them. The others are listed by name and
            help only, so ``stemforge --help`` and ``stemforge separate --help`` import
            neither torch nor any command module.
    """
    parser = argparse.ArgumentParser(
        prog="stemforge",
        description="Extract bass, drums, guitar and piano stems from music.",
    )
    parser.add_argument("--version", action="version", version=f"stemforge {__version__}")
    parser.add_argument("--verbose", action="store_true", help="log details to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    separate = commands.add_parser("separate", help="separate audio files into stems",
                                   description="Separate audio files into stems.")
    add_separate_arguments(separate)
    separate.set_defaults(handler=run_separate)

    models = commands.add_parser("models", help="list, add and remove models (Stemforge bundles, Demucs files)",
                                 description="List the installed models with their stems and presets; "
                                             "'models add PATH...' installs one, 'models remove ID' removes one.")
    add_models_arguments(models)
    models.set_defaults(handler=run_models)

    for name, (module_name, help_text) in EXTERNAL_COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if load is None or name in load:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = chosen_command(argv)
    parser = build_parser(load=() if command is None else (command,))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return run_command(args.handler, args)


def run_command(handler, args: argparse.Namespace) -> int:
    """Run one command and turn how it ended into an exit code: the only place that does.

    ``handler(args)`` returns None (success) or an :class:`~core.errors.Outcome`, or
    raises; an error becomes one line ``stemforge: error: ...`` on stderr, never a
    traceback. Also serves ``stemforge-gui`` (:func:`desktop.app.main`).
    """
    previous = _install_sigterm()
    try:
        return OUTCOME_EXIT_CODES[handler(args)]
    except (ConfigError, UnknownModelError) as error:  # options that cannot work together, or an absent device
        _error(str(error))
        return EXIT_USAGE
    except StemforgeError as error:
        _error(str(error))
        return EXIT_FAILED
    except OSError as error:  # a file or folder a command could not read or write
        where = f"{error.filename}: " if error.filename else ""
        _error(f"{where}{error.strerror or error}")
        return EXIT_FAILED
    except MemoryError:
        _error("out of memory")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _error("interrupted; unfinished files were removed")
        return EXIT_INTERRUPTED
    except Terminated:
        _error("terminated; unfinished files were removed")
        return EXIT_TERMINATED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _install_sigterm():
    """Turn SIGTERM into :class:`Terminated` (main thread only); returns the old handler."""
    try:
        return signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (embedded use)
        return None


if __name__ == "__main__":
    sys.exit(main())
