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
from core.data.synth.datacard import write_data_card
from core.data.synth.fluidsynth import library
from core.data.synth.fonts import find_kit_fonts, resolve_fonts
from core.data.synth.layout import (
    existing_record,
    generation_record,
    remove_partial_tracks,
    split_of,
    to_pcm16,
    track_name,
    write_track,
)
from core.data.synth.mixdown import produce, render_stems
from core.data.synth.recorded import find_instruments
from core.data.synth.sources import DEFAULT_RECORDED_SHARE, Palette
from core.data.synth.voice import check_available as check_voice
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
    """Rendered, produced and normalised mono stems ``(stems, samples)`` and the final
    scale applied, so that the mixture peaks at ``song.peak_db`` dBFS."""
    return produce(song, render_stems(song, sample_rate), sample_rate)


@dataclass(frozen=True)
class _Task:
    out_dir: Path
    index: int
    seed: int
    seconds: float
    sample_rate: int
    palette: Palette
    overwrite: bool


def _make_track(task: _Task) -> tuple[int, float, bool]:
    """Compose, render and write one track; returns (index, seconds of audio, written)."""
    split = split_of(task.index)
    track_dir = task.out_dir / split / track_name(task.index)
    record = generation_record(
        task.seed, task.index, task.seconds, task.sample_rate, task.palette.describe()
    )
    if track_dir.exists():
        if existing_record(track_dir) == record:
            return task.index, task.seconds, False
        if not task.overwrite:
            raise OutputExistsError(
                f"{track_dir} exists and was made with other settings; use a new folder or --overwrite"
            )
    palette = task.palette.for_split(split)
    song = compose_song(song_seed(task.seed, task.index), task.seconds, palette.fonts,
                        palette=palette)
    stems, scale = render_mono_stems(song, task.sample_rate)
    write_track(track_dir, song, to_pcm16(stems), task.sample_rate, scale, record)
    return task.index, task.seconds, True


def build_palette(
    fonts: Sequence[str | Path] | None = None,
    samples: str | Path | None = None,
    kits: Sequence[str | Path] | None = None,
    recorded_share: float | None = None,
    hold_out: bool = True,
    other_parts: bool = True,
) -> Palette:
    """The sources of a dataset: GM ``fonts`` (default the two Debian fonts), SoundFont
    drum ``kits`` (default Debian's avldrums kits when installed; ``[]`` for none),
    and the recorded instruments under ``samples`` (a folder laid out like
    ``../shared/samples``; None for none)."""
    font_paths = tuple(resolve_fonts(fonts))
    kit_paths = tuple(find_kit_fonts() if kits is None else (Path(k) for k in kits))
    recorded = tuple(find_instruments(samples)) if samples is not None else ()
    share = DEFAULT_RECORDED_SHARE if recorded_share is None else float(recorded_share)
    if not 0.0 <= share <= 1.0:
        raise ValueError("recorded share must be between 0 and 1")
    return Palette(font_paths, kit_paths, recorded, share, hold_out, other_parts=other_parts)


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
    samples: str | Path | None = None,
    kits: Sequence[str | Path] | None = None,
    recorded_share: float | None = None,
    hold_out: bool = True,
    sample_rate: int = MODEL_SAMPLE_RATE,
    other_parts: bool = True,
    only_split: str | None = None,
) -> GenerationReport:
    """Write ``songs`` songs of ``seconds`` seconds under ``out_dir`` in the Slakh layout,
    then the data card (``data_card.json``, ``DATA_CARD.md``) of the whole folder.

    Sources: see :func:`build_palette` (``fonts``, ``samples``, ``kits``,
    ``recorded_share``, ``hold_out``: the validation split plays only the held-out
    sources of :mod:`core.data.synth.sources`). ``sample_rate`` of the written audio
    (22 050 Hz, the model's rate, by default; 44 100 for full-band evaluation sets).
    ``other_parts``: add the non-target parts of :mod:`core.data.synth.others` (vocals
    need espeak-ng and praat-parselmouth); ``only_split``: write only that split's songs.
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
    if sample_rate < 8000:
        raise ValueError("sample rate must be at least 8000 Hz")
    palette = build_palette(fonts, samples, kits, recorded_share, hold_out, other_parts)
    library()  # fail early when libfluidsynth is missing; fonts are checked as they load
    if other_parts:
        check_voice()
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_partial_tracks(out_dir)

    tasks = [
        _Task(out_dir, i, int(seed), float(seconds), int(sample_rate), palette, overwrite)
        for i in range(songs)
        if only_split is None or split_of(i) == only_split
    ]
    if not tasks:
        raise ValueError(f"none of the {songs} songs falls in split {only_split!r}")
    songs = len(tasks)
    jobs = max(1, min(jobs or os.cpu_count() or 1, songs))
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
    write_data_card(out_dir, palette)
    return GenerationReport(songs, written, songs - written, audio_seconds, wall)
