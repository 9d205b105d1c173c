"""Generate a synthetic Slakh-like dataset: songs composed, rendered and written in
parallel worker processes.

The seed of song ``i`` is a hash of ``(seed, i)``, so a song does not depend on how
many songs are made, on ``jobs`` or on scheduling; with a fresh synthesizer per song
(see :mod:`core.data.synth.fluidsynth`) the same seed gives bit-identical files.
Re-running into the same folder skips the tracks that already exist with the same
generation record, which makes an interrupted run resumable.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.synth.compose import Song, compose_song
from core.data.synth.effects import normalisation_scale, process_stem
from core.data.synth.fluidsynth import library
from core.data.synth.fonts import resolve_fonts
from core.data.synth.layout import (
    existing_record,
    generation_record,
    remove_partial_tracks,
    split_of,
    to_pcm16,
    track_name,
    write_track,
)
from core.data.synth.render import render_song
from core.errors import OutputExistsError
from core.instruments import MODEL_SAMPLE_RATE
from core.progress import NEVER_CANCELLED, CancelToken, ProgressCallback, no_progress


@dataclass(frozen=True)
class GenerationReport:
    songs: int
    written: int
    skipped: int
    audio_seconds: float
    wall_seconds: float

    @property
    def speed(self) -> float:
        """Seconds of music produced per second of wall time (the "x real time" figure)."""
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else float("inf")


def song_seed(seed: int, index: int) -> int:
    """A 63-bit seed for song ``index`` of a dataset made with ``seed``."""
    digest = hashlib.sha256(f"stemforge-synth/{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def render_mono_stems(song: Song, sample_rate: int = MODEL_SAMPLE_RATE) -> tuple[np.ndarray, float]:
    """Rendered, processed and normalised mono stems ``(stems, samples)`` and the scale
    applied, so that the mixture peaks at ``song.peak_db`` dBFS."""
    audio = render_song(song, sample_rate, stereo=False)
    processed = (
        np.stack(
            [
                process_stem(x, s.sound.gain_db, s.sound.tilt_db, s.sound.drive, sample_rate)
                for x, s in zip(audio, song.stems, strict=True)
            ]
        )
        if len(song.stems)
        else audio
    )
    scale = normalisation_scale(processed, song.peak_db)
    return processed * np.float32(scale), scale


@dataclass(frozen=True)
class _Task:
    out_dir: Path
    index: int
    seed: int
    seconds: float
    fonts: tuple[Path, ...]
    overwrite: bool


def _make_track(task: _Task) -> tuple[int, float, bool]:
    """Compose, render and write one track; returns (index, seconds of audio, written)."""
    track_dir = task.out_dir / split_of(task.index) / track_name(task.index)
    record = generation_record(
        task.seed, task.index, task.seconds, MODEL_SAMPLE_RATE, list(task.fonts)
    )
    if track_dir.exists():
        if existing_record(track_dir) == record:
            return task.index, task.seconds, False
        if not task.overwrite:
            raise OutputExistsError(
                f"{track_dir} exists and was made with other settings; use a new folder or --overwrite"
            )
    song = compose_song(song_seed(task.seed, task.index), task.seconds, task.fonts)
    stems, scale = render_mono_stems(song)
    write_track(track_dir, song, to_pcm16(stems), MODEL_SAMPLE_RATE, scale, record)
    return task.index, task.seconds, True


def generate_dataset(
    out_dir: str | Path,
    songs: int,
    seconds: float = 30.0,
    seed: int = 0,
    jobs: int | None = None,
    fonts: Sequence[str | Path] | None = None,
    overwrite: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> GenerationReport:
    """Write ``songs`` songs of ``seconds`` seconds under ``out_dir`` in the Slakh layout.

    ``jobs`` worker processes (default: CPU count; 1 = in this process). Progress
    messages read "k/N songs, elapsed, x real time". Raises SynthUnavailableError when
    libfluidsynth or a soundfont is missing, OutputExistsError for a clashing track,
    Cancelled when ``cancel`` is set (finished tracks stay, partial ones are removed).
    """
    if songs < 1:
        raise ValueError("songs must be at least 1")
    if seconds <= 0.5:
        raise ValueError("seconds must be more than 0.5")
    out_dir = Path(out_dir)
    font_paths = tuple(resolve_fonts(fonts))
    library()  # fail early when libfluidsynth is missing; fonts are checked as they load
    jobs = max(1, min(jobs or os.cpu_count() or 1, songs))
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_partial_tracks(out_dir)

    tasks = [
        _Task(out_dir, i, int(seed), float(seconds), font_paths, overwrite) for i in range(songs)
    ]
    start = time.perf_counter()
    done = written = 0
    audio_seconds = 0.0

    def report(result: tuple[int, float, bool]) -> None:
        nonlocal done, written, audio_seconds
        _, length, was_written = result
        done += 1
        written += int(was_written)
        audio_seconds += length
        elapsed = time.perf_counter() - start
        speed = audio_seconds / elapsed if elapsed > 0 else 0.0
        progress(done / songs, f"{done}/{songs} songs, {elapsed:.1f} s, {speed:.0f}x real time")

    try:
        if jobs == 1:
            for task in tasks:
                cancel.check()
                report(_make_track(task))
        else:
            context = multiprocessing.get_context("spawn")
            with context.Pool(jobs) as pool:
                for result in pool.imap_unordered(_make_track, tasks, chunksize=1):
                    report(result)
                    if cancel.cancelled:
                        pool.terminate()
                        break
            cancel.check()
    except BaseException:  # cancelled, interrupted or failed: no half-written track stays
        remove_partial_tracks(out_dir)
        raise
    wall = time.perf_counter() - start
    return GenerationReport(songs, written, songs - written, audio_seconds, wall)
