"""Batches of files -> stems on disk: naming, bit depth, residual, recipe, atomic writes.

One file never takes the batch down: bad input, an existing output or a write
error becomes a :class:`FileResult` with a one-line reason, and the batch goes on.
Nothing partial is left behind: stems are written under temporary names and only
swapped into place, as a set, when every file of the track is complete
(:mod:`core.outputs`); a track's outputs never land outside the output folder and
never replace an input of the batch.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

import core
from core.audio.high_band import has_high_band
from core.audio.learned_high_band import learned_mask_record
from core.audio.reader import AudioInfo, AudioSource, is_audio_file
from core.audio.writer import StemWriter, default_subtype, write_temporary_text
from core.devices import use_cpu_threads
from core.errors import (
    AudioLoadError,
    AudioWriteError,
    Cancelled,
    ConfigError,
    OutputExistsError,
    StemforgeError,
)
from core.fileio import remove_quietly, remove_stale_temporaries, resolved
from core.instruments import DEFAULT_HIGH_BAND, INSTRUMENTS, RESIDUAL_STEM, residual_stem
from core.interrupts import deliver, held_signals
from core.model import StemModel, default_preset
from core.models.interface import model_record
from core.option_checks import check_subtype, validate_options
from core.outputs import (
    COLLISION_HINT,
    DEFAULT_TEMPLATE,
    folder_lock,
    previous_outputs,
    replace_set,
)
from core.outputs import plan_outputs as plan_paths
from core.pipeline import StreamSettings, effective_high_band, separate_stream
from core.progress import NEVER_CANCELLED, CancelToken, ProgressCallback, no_progress
from core.stem_sink import LOSSY_SUBTYPES, StemSink, decoded_null_db, format_null

log = logging.getLogger(__name__)

RECIPE_STEM = "stemforge"


@dataclass(frozen=True)
class SeparationOptions:
    """Everything a user chooses for a batch (the CLI's and the app's options)."""

    out_dir: Path = Path("stems")
    stems: tuple[str, ...] = INSTRUMENTS
    preset: str | None = None
    """A preset name, or None for the model's :func:`~core.model.default_preset`."""
    device: str = "auto"
    format: str = "wav"
    subtype: str | None = None
    template: str = DEFAULT_TEMPLATE
    residual: bool = True
    overwrite: bool = False
    seed: int = 0
    high_band: str = DEFAULT_HIGH_BAND
    threads: int | None = None
    """torch's CPU threads for the run, set in the thread that runs it; None leaves them as
    they are (the CLI and the app pass :data:`core.devices.DEFAULT_SEPARATE_THREADS`)."""
    settings: StreamSettings = field(default_factory=StreamSettings)


class FileStatus(StrEnum):
    """How one input ended (a ``str`` enum: ``FileStatus.DONE == "done"``)."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@dataclass
class FileResult:
    """What happened to one input (``status`` given as a member or its value)."""

    input: Path
    status: FileStatus
    message: str
    outputs: dict[str, Path] = field(default_factory=dict)
    recipe: Path | None = None
    null_db: float | None = None
    clipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    held_signals: tuple[int, ...] = ()
    """Ctrl-C or SIGTERM received while the outputs were swapped in, held back until the
    set was whole (:mod:`core.interrupts`); :func:`run_batch` acts on them once the
    result is reported."""

    def __post_init__(self) -> None:
        self.status = FileStatus(self.status)


def with_model_defaults(options: SeparationOptions, model: StemModel) -> SeparationOptions:
    """``options`` with the choices left to the model filled in (the preset, when None)."""
    if options.preset is None:
        return replace(options, preset=default_preset(model.presets))
    return options


def scan_inputs(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """``(files, empty folders)``: folders expanded (recursively, audio extensions only,
    sorted), files kept as given; and the folders among ``paths`` that hold no audio file.
    Each folder is walked once, and each file kept once: a file named twice, or both
    itself and through its folder, is separated once (the first time it comes)."""
    found: list[Path] = []
    empty: list[Path] = []
    seen: set[Path] = set()

    def first_time(path: Path) -> bool:
        key = resolved(path)
        if key in seen:
            return False
        seen.add(key)
        return True

    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and is_audio_file(p))
            found.extend(p for p in inside if first_time(p))
            if not inside:
                empty.append(path)
        elif first_time(path):
            found.append(path)
    return found, empty


def find_audio_files(paths: Sequence[Path]) -> list[Path]:
    """Expand folders (recursively, audio extensions only, sorted); keep files as given."""
    return scan_inputs(paths)[0]


def plan_outputs(path: Path, options: SeparationOptions, model_id: str,
                 residual: str = RESIDUAL_STEM) -> tuple[dict[str, Path], Path]:
    """Destination of each stem (and of the residual, named ``residual``: see
    :func:`core.instruments.residual_stem`) and of the recipe for one input."""
    names = list(options.stems) + ([residual] if options.residual else [])
    plan = plan_paths(Path(path), options.out_dir, options.template, names, options.format,
                      options.preset, model_id, RECIPE_STEM)
    return plan.files, plan.recipe


def separate_file(
    path: Path,
    model: StemModel,
    options: SeparationOptions,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    reserved: set[Path] | None = None,
    batch_inputs: set[Path] | None = None,
) -> FileResult:
    """Separate one file into stems on disk; never raises for bad input.

    The input is opened once (:class:`~core.audio.reader.AudioSource`): the recipe's
    sha256 is that of the bytes the stems were separated from, and a file that changes
    while it is read fails. The track's outputs (stems, residual, recipe) are written
    under temporary names and swapped in together (:func:`core.outputs.replace_set`)
    while the output folder is locked; the earlier set they replace is listed under that
    lock too. On any failure, cancel or interrupt, the previous outputs stay as they were
    and only this call's temporary files (and the folders it created, when empty) are
    removed. Ctrl-C or SIGTERM during the swap is held back until the set is whole
    (:attr:`FileResult.held_signals`).

    Args:
        reserved: outputs already written by this batch (collisions fail the file).
        batch_inputs: resolved inputs of the whole batch (no output may replace one).
    """
    started = time.perf_counter()
    path = Path(path)
    options = with_model_defaults(options, model)
    held: list[int] = []

    def result(status: str, message: str, **extra) -> FileResult:
        return FileResult(path, status, message, seconds=time.perf_counter() - started,
                          held_signals=tuple(held), **extra)

    writers: dict[str, StemWriter] = {}
    temporaries: list[Path] = []
    new_folders: list[Path] = []
    source: AudioSource | None = None
    try:
        validate_options(options, model)
        source = AudioSource(path)
        info = source.info
        subtype = options.subtype.upper() if options.subtype else default_subtype(info.subtype, options.format)
        subtype = check_subtype(subtype, options.format)
        residual = residual_stem(model.instruments)  # "residual" beside a model's own "other"
        outputs, recipe_path = plan_outputs(path, options, model.model_id, residual)
        destinations = [*outputs.values(), recipe_path]
        inputs = {resolved(path), *(batch_inputs or ())}

        def list_previous() -> list[Path]:
            return previous_outputs(recipe_path, options.out_dir, lambda stem, ext: plan_paths(
                path, options.out_dir, options.template, [stem], ext, options.preset, model.model_id, RECIPE_STEM,
            ).files[stem]) if options.overwrite else []

        _check_destinations(path, destinations, list_previous(), options, reserved, inputs)
        preset = model.presets[options.preset]
        new_folders = _missing_folders(destinations)
        for folder in {d.parent for d in destinations}:
            remove_stale_temporaries(folder)
        for stem, destination in outputs.items():
            writers[stem] = StemWriter(destination, info.samplerate, info.channels, options.format, subtype)
        stem_writers = {s: writers[s] for s in options.stems}
        sink = StemSink(stem_writers, writers.get(residual), source=path)
        compute_started = time.perf_counter()
        frames = separate_stream(info, model, options.stems, preset, sink, options.seed,
                                 options.settings, progress, cancel, options.high_band,
                                 blocks=source.blocks(options.settings.block_frames))
        input_sha = source.sha256
        source.close()
        compute_seconds = time.perf_counter() - compute_started
        moves = {writer.finish(): writer.path for writer in writers.values()}
        clipped = {stem: writer.clipped for stem, writer in writers.items()}
        lossy = subtype in LOSSY_SUBTYPES
        null = sink.null_db
        if lossy and residual in writers:
            null = _decoded_null(path, input_sha, list(moves), options)
        recipe = _recipe(info, model, options, preset, subtype, input_sha, frames, outputs,
                         recipe_path.parent, clipped, null, lossy, compute_seconds, time.perf_counter() - started)
        recipe_temporary = write_temporary_text(recipe_path, json.dumps(recipe, indent=2) + "\n")
        temporaries.append(recipe_temporary)
        moves[recipe_temporary] = recipe_path

        def obsolete() -> list[Path]:  # listed under the folder lock: a concurrent run may have swapped since
            kept = {resolved(d) for d in destinations}
            found = [p for p in list_previous() if p not in kept]
            _check_destinations(path, [], found, options, reserved, inputs)
            return found

        cancel.check()
        _swap_in(moves, obsolete, options, held)
    except OutputExistsError as error:
        return result("skipped", str(error))
    except Cancelled:
        _clean(writers, temporaries, new_folders)
        return result("cancelled", f"{path}: cancelled; no files written")
    except StemforgeError as error:
        _clean(writers, temporaries, new_folders)
        return result("failed", str(error))
    except MemoryError:
        _clean(writers, temporaries, new_folders)
        return result("failed", f"{path}: out of memory")
    except Exception as error:  # a bug, not bad input: keep the batch going, log the details
        log.exception("unexpected error on %s", path)
        _clean(writers, temporaries, new_folders)
        return result("failed", f"{path}: internal error ({type(error).__name__}: {error})")
    except BaseException:
        _clean(writers, temporaries, new_folders)
        raise
    finally:
        if source is not None:
            source.close()
    total_clipped = sum(clipped.values())
    message = (
        f"{path.name}: {len(outputs)} stems, null {format_null(null, lossy)}"
        + (f", {total_clipped} samples clipped" if total_clipped else "")
    )
    return result("done", message, outputs=outputs, recipe=recipe_path, null_db=null, clipped=clipped)


def _decoded_null(path: Path, input_sha: str, files: list[Path], options: SeparationOptions) -> float | None:
    """The null of lossy files as decoded, against the input read a second time (which
    must be the same bytes as the first time)."""
    with AudioSource(path) as again:
        null = decoded_null_db(again.blocks(options.settings.block_frames), files)
        if again.sha256 != input_sha:
            raise AudioLoadError(f"{path}: changed while it was being read; nothing was written")
    return null


def _swap_in(moves: dict[Path, Path], obsolete: Callable[[], list[Path]], options: SeparationOptions,
             held: list[int]) -> None:
    """Put the finished set in place, all or nothing, one run at a time per output folder.

    ``obsolete()`` lists the earlier set's files the new one does not reuse, under the
    lock. Ctrl-C and SIGTERM arriving during the swap are appended to ``held``, not acted on.
    Errors name the destination, never a temporary name.
    """
    destination_of = {str(temporary): destination for temporary, destination in moves.items()}

    def named(error: OSError) -> Path | str:
        for name in (getattr(error, "filename2", None), error.filename):
            if name:
                return destination_of.get(str(name), name)
        return options.out_dir

    try:
        with folder_lock(options.out_dir), held_signals(held):
            replace_set(moves, obsolete(), options.overwrite)
    except FileExistsError as error:
        raise AudioWriteError(f"{named(error)}: appeared while writing (another run?); not overwritten") from None
    except OSError as error:
        raise AudioWriteError(f"{named(error)}: cannot move the finished files "
                              f"into place ({error.strerror or error})") from None


def _check_destinations(path: Path, destinations: list[Path], previous: list[Path],
                        options: SeparationOptions, reserved: set[Path] | None, inputs: set[Path]) -> None:
    for destination in [*destinations, *previous]:
        target = resolved(destination)
        if target == resolved(path):
            raise ConfigError(f"{path}: an output would overwrite the input file; choose another --out or template")
        if target in inputs:
            raise ConfigError(
                f"{path}: output {destination} is an input of this batch; not overwritten "
                "(choose another --out or template)"
            )
        if reserved is not None and target in reserved:
            raise ConfigError(
                f"{path}: output {destination} collides with another input of this batch "
                f"(same file name); {COLLISION_HINT}"
            )
        if destination in destinations and destination.is_dir():
            raise AudioWriteError(f"{path}: output {destination} is a folder; not replaced")
    if not options.overwrite:
        existing = [d for d in destinations if d.exists()]
        if existing:
            raise OutputExistsError(f"{path}: skipped, {existing[0]} exists (use --overwrite to replace)")


def _missing_folders(destinations: list[Path]) -> list[Path]:
    """Folders that writing these files will create, deepest first."""
    missing: set[Path] = set()
    for destination in destinations:
        folder = destination.parent
        while not folder.exists():
            missing.add(folder)
            folder = folder.parent
    return sorted(missing, key=lambda p: len(p.parts), reverse=True)


def _clean(writers: dict[str, StemWriter], temporaries: list[Path], new_folders: list[Path]) -> None:
    """Remove this file's temporary files and the folders it created (when empty).
    Files in place are never touched here: :func:`replace_set` undoes its own moves."""
    for writer in writers.values():
        writer.discard()
    for temporary in temporaries:
        remove_quietly(temporary)
    for folder in new_folders:
        try:
            folder.rmdir()
        except OSError:
            pass


def _recipe(info: AudioInfo, model: StemModel, options: SeparationOptions, preset, subtype: str,
            input_sha: str, frames: int, outputs: dict[str, Path], recipe_folder: Path, clipped: dict[str, int],
            null_db: float | None, lossy: bool, compute_seconds: float, total_seconds: float) -> dict:
    """What is needed to repeat a render, and what it measured (``input.sha256``: of the
    bytes separated; ``null_depth_db``: of the files as a reader decodes them; ``high_band.mode``:
    the mode applied, :func:`core.pipeline.effective_high_band`)."""
    high_band = effective_high_band(options.high_band, model, options.stems)
    return {
        "app": "stemforge",
        "app_version": core.__version__,
        "model": model_record(model),  # id, family, sha256, files (name -> sha256)
        "preset": preset.name,
        "steps": preset.steps,
        "sigma_max": preset.sigma_max,
        "sampler": preset.sampler,
        "views": preset.views,
        "mask": preset.mask,
        "seed": options.seed,
        "high_band": {"mode": high_band, "edge_hz": model.sample_rate / 2,
                      "applied": high_band != "residual" and has_high_band(info.samplerate, model.sample_rate / 2),
                      **learned_mask_record(high_band, model.model_id)},
        "device": str(model.device),
        "input": {
            "path": str(resolved(info.path)),
            "sha256": input_sha,
            "samplerate": info.samplerate,
            "channels": info.channels,
            "frames": frames,
            "duration_seconds": frames / info.samplerate,
            "format": info.format,
            "subtype": info.subtype,
        },
        "output": {
            "format": options.format,
            "subtype": subtype,
            "template": options.template,
            "lossy": lossy,
            "files": {stem: os.path.relpath(p, recipe_folder) for stem, p in outputs.items()},
        },
        "clipped_samples": clipped,
        "null_depth_db": None if null_db is None else ("-inf" if null_db == -math.inf else round(null_db, 2)),
        "null_measured_on": "the files decoded back (the format is lossy)" if lossy else "the samples written",
        "timings_seconds": {"separation": round(compute_seconds, 3), "total": round(total_seconds, 3)},
        "realtime_factor": round(total_seconds / max(frames / info.samplerate, 1e-9), 4),
    }


def run_batch(
    paths: Sequence[Path],
    model: StemModel,
    options: SeparationOptions,
    on_progress: Callable[[int, float, str], None] = lambda index, fraction, message: None,
    on_result: Callable[[FileResult], None] = lambda result: None,
    cancel: CancelToken = NEVER_CANCELLED,
) -> list[FileResult]:
    """Separate files one after another; one failure never stops the others.

    After a cancel, the file being processed and every later one end "cancelled". A
    Ctrl-C or SIGTERM held back while a file's outputs were swapped in is acted on once
    that file's result is reported.
    """
    options = with_model_defaults(options, model)
    validate_options(options, model)
    use_cpu_threads(options.threads)
    results: list[FileResult] = []
    reserved: set[Path] = set()
    inputs = {resolved(p) for p in paths}
    for index, path in enumerate(paths):
        if cancel.cancelled:
            outcome = FileResult(Path(path), "cancelled", f"{path}: cancelled before it started")
        else:
            outcome = separate_file(
                path, model, options,
                progress=lambda fraction, message, i=index: on_progress(i, fraction, message),
                cancel=cancel, reserved=reserved, batch_inputs=inputs,
            )
            reserved.update(resolved(p) for p in outcome.outputs.values())
            if outcome.recipe is not None:
                reserved.add(resolved(outcome.recipe))
        results.append(outcome)
        on_result(outcome)
        deliver(list(outcome.held_signals))
    return results
