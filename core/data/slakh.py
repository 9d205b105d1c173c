"""Reading Slakh2100-style datasets into a decoded cache of 22 050 Hz mono arrays.

The folder layouts (Slakh2100 with ``metadata.yaml``, and the MSDM preprocessed one)
and the rules that make a track unusable are :mod:`core.data.slakh_layout`'s. A track
that cannot be used is skipped with a :class:`SkippedTrackWarning` naming it and the
reason, never an exception.

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

from core.data.slakh_layout import (
    OTHER,
    TrackSource,
    UnusableTrack,
    inspect_track,
    track_directories,
)
from core.fileio import atomic_file, write_text_atomic
from core.instruments import INSTRUMENTS, MODEL_SAMPLE_RATE
from core.progress import ProgressCallback, no_progress

CACHE_VERSION = 2
CACHE_FOLDER = ".stemforge-cache"


class SkippedTrackWarning(UserWarning):
    """A track of the dataset cannot be used; the message names it and says why."""


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

    @property
    def has_other(self) -> bool:
        """Whether the cache holds an "other" row (decoded with ``include_other``)."""
        return self.pcm().shape[0] > len(INSTRUMENTS)

    def read_other(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """float32 ``(stop - start,)``: the non-target parts (zeros when not stored)."""
        pcm = self.pcm()
        if pcm.shape[0] <= len(INSTRUMENTS):
            width = (pcm.shape[1] if stop is None else min(stop, pcm.shape[1])) - start
            return np.zeros(max(width, 0), np.float32)
        return np.asarray(pcm[len(INSTRUMENTS), start:stop], dtype=np.float32) * np.float32(self.scale)

    def audio(self) -> np.ndarray:
        """The whole track as :meth:`read` gives it: float32 ``(5, samples)``."""
        return self.read()


def _warn_skip(directory: Path, reason: str) -> None:
    warnings.warn(f"skipping track {directory}: {reason}", SkippedTrackWarning, stacklevel=3)


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
