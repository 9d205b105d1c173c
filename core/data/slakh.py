"""Reading Slakh2100-style datasets into a decoded cache of 22 050 Hz mono arrays.

Two layouts are understood, per track folder ``ROOT/{split}/TrackXXXXX``:

- **Slakh2100** (also what ``stemforge synth`` writes): ``metadata.yaml`` with
  ``stems: {S00: {inst_class, is_drum, audio_rendered, ...}, ...}`` and the audio
  in ``stems/S00.flac`` (``audio_dir`` from the metadata, ``.flac`` or ``.wav``).
  A stem with ``is_drum: true`` or ``inst_class: Drums`` counts as drums; classes
  Bass, Guitar, Piano map to their targets; other classes are dropped, or summed
  into an "other" part of the mixture with ``include_other=True``. Stems marked
  ``audio_rendered: false`` are ignored. ``mix.flac`` is not read: the mixture is
  the sum of the targets (core/METHOD.md section 1), plus "other" when asked.
- **MSDM preprocessed**: ``bass.wav``, ``drums.wav``, ``guitar.wav``,
  ``piano.wav`` (``.flac`` accepted); an absent file is a silent target.

Splits are ``train``, ``validation``, ``test`` (and Slakh's ``omitted``).

A track is skipped with a :class:`SkippedTrackWarning` naming it and the reason,
never an exception, when its metadata is unreadable, a listed stem file is missing
or unreadable, its stems differ in length or sample rate, it has no stem of the
four classes, or it is empty.

**Cache.** Each usable track is decoded once (channels averaged, resampled to
22 050 Hz with soxr) into ``TRACK.npy``: int16 ``(R, samples)``, the four targets in
:data:`core.instruments.INSTRUMENTS` order (and "other" as a fifth row with
``include_other``), opened later with ``np.load(mmap_mode="r")``. Sample value
``v`` stands for ``v * scale``: ``scale = 2^-15`` (lossless for 16-bit sources at
22 050 Hz, e.g. ``stemforge synth``'s) unless a target peaks at or above full scale,
then ``peak / 32767``. The mixture is not stored: :meth:`Track.read` sums the rows.
This takes 2/5 of the float32 cache's memory. An ``index.json`` per split stores every
track's length, scale and the size and modification time of its source files, so a changed track
is decoded again and an unchanged dataset opens without touching the audio. The
cache lives in ``ROOT/.stemforge-cache`` when the dataset folder is writable, else
in ``~/.cache/stemforge/datasets/<hash of ROOT>`` (``$XDG_CACHE_HOME`` respected).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import yaml

from core.errors import ConfigError
from core.fileio import atomic_file, write_text_atomic
from core.instruments import INSTRUMENTS, MODEL_SAMPLE_RATE
from core.progress import ProgressCallback, no_progress

SPLITS = ("train", "validation", "test", "omitted")
CLASS_TO_INSTRUMENT = {"Bass": "bass", "Drums": "drums", "Guitar": "guitar", "Piano": "piano"}
OTHER = "other"
AUDIO_SUFFIXES = (".flac", ".wav")
CACHE_VERSION = 2
CACHE_FOLDER = ".stemforge-cache"


class SkippedTrackWarning(UserWarning):
    """A track of the dataset cannot be used; the message names it and says why."""


class _BadTrack(Exception):
    pass


class UnusableTrack(Exception):
    """Why a track folder cannot be used (the message is the reason)."""


@dataclass(frozen=True)
class TrackSource:
    """Where a track's audio is: for each of the four instruments (and "other") the
    files to sum. An instrument with no file is a silent target."""

    name: str
    directory: Path
    layout: str
    parts: dict[str, tuple[Path, ...]]

    def files(self) -> list[Path]:
        return sorted({path for paths in self.parts.values() for path in paths})


@dataclass(frozen=True)
class Track:
    """A decoded track in the cache: ``num_samples`` samples at 22 050 Hz, int16 rows
    standing for ``value * scale`` (see the module doc)."""

    name: str
    num_samples: int
    path: Path
    scale: float = 2.0**-15

    def pcm(self) -> np.ndarray:
        """Memory-mapped int16 ``(R, samples)``: the four targets (and "other")."""
        return np.load(self.path, mmap_mode="r")

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """float32 ``(5, stop - start)``: row 0 the mixture (sum of every stored row),
        rows 1-4 the targets. Only that range is read from the cache."""
        rows = np.asarray(self.pcm()[:, start:stop], dtype=np.int32)
        out = np.empty((1 + len(INSTRUMENTS), rows.shape[1]), np.float32)
        scale = np.float32(self.scale)
        out[0] = rows.sum(axis=0) * scale
        out[1:] = rows[: len(INSTRUMENTS)] * scale
        return out

    def read_target(self, index: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """float32 ``(stop - start,)``: target ``index`` (INSTRUMENTS order) alone."""
        return np.asarray(self.pcm()[index, start:stop], dtype=np.float32) * np.float32(self.scale)

    def audio(self) -> np.ndarray:
        """The whole track as :meth:`read` gives it: float32 ``(5, samples)``."""
        return self.read()


# --------------------------------------------------------------------------- scanning
def _warn_skip(directory: Path, reason: str) -> None:
    warnings.warn(f"skipping track {directory}: {reason}", SkippedTrackWarning, stacklevel=3)


def _find_audio(base: Path) -> Path | None:
    for suffix in AUDIO_SUFFIXES:
        candidate = base.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def _slakh_parts(directory: Path, include_other: bool) -> dict[str, list[Path]]:
    try:
        with open(directory / "metadata.yaml", encoding="utf-8") as handle:
            metadata = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise _BadTrack(f"unreadable metadata.yaml ({type(error).__name__})") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("stems"), dict):
        raise _BadTrack("metadata.yaml has no 'stems' mapping")
    audio_dir = directory / str(metadata.get("audio_dir") or "stems")
    parts: dict[str, list[Path]] = {}
    for stem_id, info in sorted(metadata["stems"].items(), key=lambda item: str(item[0])):
        if not isinstance(info, dict):
            raise _BadTrack(f"metadata.yaml entry {stem_id} is not a mapping")
        if info.get("audio_rendered", True) is False:
            continue
        if info.get("is_drum") is True:
            part = "drums"
        else:
            part = CLASS_TO_INSTRUMENT.get(str(info.get("inst_class")))
        if part is None:
            if not include_other:
                continue
            part = OTHER
        path = _find_audio(audio_dir / str(stem_id))
        if path is None:
            raise _BadTrack(f"missing stem file {audio_dir.name}/{stem_id}.flac")
        parts.setdefault(part, []).append(path)
    return parts


def _preprocessed_parts(directory: Path) -> dict[str, list[Path]]:
    parts = {}
    for instrument in INSTRUMENTS:
        path = _find_audio(directory / instrument)
        if path is not None:
            parts[instrument] = [path]
    if not parts:
        raise _BadTrack("no metadata.yaml and no bass/drums/guitar/piano audio file")
    return parts


def _check_alignment(parts: dict[str, list[Path]]) -> None:
    """All stems must have the same sample rate and the same number of frames."""
    shapes: dict[Path, tuple[int, int]] = {}
    for paths in parts.values():
        for path in paths:
            try:
                info = sf.info(str(path))
            except (RuntimeError, sf.LibsndfileError) as error:
                raise _BadTrack(f"unreadable {path.name} ({error})") from None
            shapes[path] = (info.samplerate, info.frames)
    if len(set(shapes.values())) > 1:
        described = ", ".join(
            f"{p.name}: {f} frames at {r} Hz" for p, (r, f) in sorted(shapes.items())
        )
        raise _BadTrack(f"mismatched stems ({described})")
    if shapes and next(iter(shapes.values()))[1] == 0:
        raise _BadTrack("empty audio")


def inspect_track(directory: Path, include_other: bool = False) -> TrackSource:
    """The :class:`TrackSource` of one track folder; raises :class:`UnusableTrack` with
    the reason when the track cannot be used."""
    try:
        if (directory / "metadata.yaml").exists():
            layout = "slakh"
            parts = _slakh_parts(directory, include_other)
        else:
            layout = "preprocessed"
            parts = _preprocessed_parts(directory)
        if not any(parts.get(instrument) for instrument in INSTRUMENTS):
            raise _BadTrack("no bass, drums, guitar or piano stem")
        _check_alignment(parts)
    except _BadTrack as reason:
        raise UnusableTrack(str(reason)) from None
    return TrackSource(directory.name, directory, layout, {k: tuple(v) for k, v in parts.items()})


def split_directory(root: str | Path, split: str) -> Path:
    """``root/split``, or ConfigError naming the splits that do exist."""
    root = Path(root)
    directory = root / split
    if not directory.is_dir():
        present = [s for s in SPLITS if (root / s).is_dir()]
        hint = (
            f"it has {', '.join(present)}" if present else "it has no train/validation/test folder"
        )
        raise ConfigError(f"{root}: no split {split!r} ({hint})")
    return directory


def track_directories(root: str | Path, split: str) -> list[Path]:
    """The track folders of a split, sorted by name (hidden folders ignored)."""
    directory = split_directory(root, split)
    return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))


# ------------------------------------------------------------------------------ cache
def default_cache_dir(root: str | Path) -> Path:
    """``root/.stemforge-cache`` when writable, else a per-dataset folder in the user cache."""
    root = Path(root).resolve()
    inside = root / CACHE_FOLDER
    try:
        inside.mkdir(exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=inside, prefix=".probe-", delete=True)
        probe.close()
        return inside
    except OSError:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
        return base / "stemforge" / "datasets" / digest


def _signature(directory: Path, source_files: list[Path]) -> list[list]:
    """Size and modification time of a track's audio files and metadata, and the
    modification time of its folder (which changes when a file is added or removed)."""
    files = list(source_files)
    metadata = directory / "metadata.yaml"
    if metadata.exists():
        files.append(metadata)
    signature = [[".", 0, directory.stat().st_mtime_ns]]
    for path in sorted(set(files)):
        stat = path.stat()
        signature.append([path.relative_to(directory).as_posix(), stat.st_size, stat.st_mtime_ns])
    return signature


def _current_signature(directory: Path, recorded: list[list]) -> list[list] | None:
    """Re-stat the files a cache entry was made from; None if one is gone."""
    try:
        audio = [
            directory / entry[0] for entry in recorded if entry[0] not in (".", "metadata.yaml")
        ]
        return _signature(directory, audio)
    except (OSError, TypeError, IndexError):
        return None


def _decode_mono(path: Path) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return audio.mean(axis=1, dtype=np.float32), rate


def decode_track(source: TrackSource, include_other: bool = False) -> tuple[np.ndarray, float]:
    """Decode a track to int16 ``(R, samples)`` at 22 050 Hz mono and its scale: the
    four targets (each the sum of its stems) and, with ``include_other``, the "other"
    stems as a fifth row (see the module doc for the scale)."""
    names = list(INSTRUMENTS) + ([OTHER] if include_other else [])
    sums: dict[str, np.ndarray] = {}
    rate = MODEL_SAMPLE_RATE
    for part, paths in source.parts.items():
        if part not in names:
            continue
        for path in paths:
            mono, rate = _decode_mono(path)
            sums[part] = mono if part not in sums else sums[part] + mono
    length = len(next(iter(sums.values())))
    rows = np.zeros((len(names), length), np.float32)
    for row, name in enumerate(names):
        if name in sums:
            rows[row] = sums[name]
    if rate != MODEL_SAMPLE_RATE:
        rows = np.ascontiguousarray(soxr.resample(rows.T, rate, MODEL_SAMPLE_RATE, quality="HQ").T)
    return quantise(rows)


def quantise(rows: np.ndarray) -> tuple[np.ndarray, float]:
    """float rows -> (int16 rows, scale) with ``rows ~ int16 * scale`` (module doc)."""
    peak = float(np.max(np.abs(rows))) if rows.size else 0.0
    scale = 2.0**-15 if peak < 32767 * 2.0**-15 else peak / 32767
    pcm = np.clip(np.round(rows / scale), -32768, 32767).astype(np.int16)
    return pcm, scale


def _save_atomic(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "wb") as stream:
        np.save(stream, array)


def _write_index(path: Path, index: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(index))


def _build_cache_entry(job: tuple[Path, Path, bool]) -> tuple[str, dict | None, str | None]:
    """Inspect, decode and cache one track: ``(name, index entry or None, reason or None)``.
    Runs in worker processes, so it reports problems instead of warning."""
    directory, array_path, include_other = job
    try:
        source = inspect_track(directory, include_other)
        audio, scale = decode_track(source, include_other)
    except UnusableTrack as reason:
        return directory.name, None, str(reason)
    except (RuntimeError, sf.LibsndfileError, ValueError, MemoryError) as error:
        return directory.name, None, f"cannot decode ({error})"
    _save_atomic(array_path, audio)
    entry = {
        "samples": int(audio.shape[1]),
        "scale": scale,
        "files": _signature(directory, source.files()),
    }
    return directory.name, entry, None


def load_split(
    root: str | Path,
    split: str,
    include_other: bool = False,
    cache_dir: str | Path | None = None,
    progress: ProgressCallback = no_progress,
    jobs: int = 1,
) -> list[Track]:
    """The usable tracks of a split, decoded into the cache (first call) or opened from it.

    Args:
        root: dataset folder holding ``train/``, ``validation/``, ``test/``.
        split: one of those folder names.
        include_other: add the stems of other instrument classes to the mixture.
        cache_dir: where decoded arrays go (default :func:`default_cache_dir`).
        progress: ``progress(fraction, message)`` while decoding.
        jobs: processes decoding in parallel (decoding all of Slakh2100 takes hours
            on one core; the cache makes it a one-time cost).

    Returns:
        Tracks sorted by name; unusable ones are left out with a SkippedTrackWarning.
    """
    directories = track_directories(root, split)
    base = Path(cache_dir) if cache_dir is not None else default_cache_dir(root)
    variant = "with-other" if include_other else "four-stems"
    cache = base / f"v{CACHE_VERSION}-{variant}" / split
    index_path = cache / "index.json"
    try:
        with open(index_path, encoding="utf-8") as handle:
            index = json.load(handle)
    except (OSError, ValueError):
        index = {}

    fresh_index: dict[str, dict] = {}
    to_build: list[tuple[Path, Path, bool]] = []
    for directory in directories:
        entry = index.get(directory.name)
        array_path = cache / f"{directory.name}.npy"
        if (
            isinstance(entry, dict)
            and array_path.is_file()
            and _current_signature(directory, entry.get("files", [])) == entry.get("files")
        ):
            fresh_index[directory.name] = entry
        else:
            to_build.append((directory, array_path, include_other))

    if to_build:
        cache.mkdir(parents=True, exist_ok=True)
        if jobs > 1 and len(to_build) > 1:
            pool = multiprocessing.get_context("spawn").Pool(min(jobs, len(to_build)))
            results = pool.imap_unordered(_build_cache_entry, to_build)
        else:
            pool = None
            results = map(_build_cache_entry, to_build)
        try:
            for done, (name, entry, reason) in enumerate(results, start=1):
                if entry is None:
                    _warn_skip(Path(root) / split / name, reason or "unusable")
                else:
                    fresh_index[name] = entry
                progress(done / len(to_build), f"decoded {split}/{name} ({done}/{len(to_build)})")
                if done % 50 == 0:
                    _write_index(index_path, fresh_index)
        finally:
            if pool is not None:
                pool.terminate()
    if to_build or set(fresh_index) != set(index):
        _write_index(index_path, fresh_index)
    progress(1.0, f"{split}: {len(fresh_index)} tracks")
    return [
        Track(
            name,
            int(fresh_index[name]["samples"]),
            cache / f"{name}.npy",
            float(fresh_index[name].get("scale", 2.0**-15)),
        )
        for name in sorted(fresh_index)
    ]
