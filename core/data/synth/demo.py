"""A short stereo demo song at 44.1 kHz, e.g. for the README: the same composer and
soundfonts as the dataset, with every instrument playing, panned across the stereo field.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import soundfile as sf

from core.data.synth.compose import compose_song
from core.data.synth.fonts import resolve_fonts
from core.data.synth.generate import song_seed
from core.data.synth.mixdown import produce, render_stems
from core.errors import AudioWriteError
from core.instruments import INSTRUMENTS

DEMO_RATE = 44100
BLOCK_FRAMES = 65536
"""libsndfile's Vorbis encoder fails on very large single writes; write in blocks."""
_FORMATS = {".ogg": ("OGG", "VORBIS"), ".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16")}


def _write_blocks(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write ``audio`` ``(samples, channels)`` in blocks, format from the suffix."""
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise AudioWriteError(f"{path}: choose a .ogg, .wav or .flac file name")
    file_format, subtype = _FORMATS[suffix]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sf.SoundFile(
            path, "w", sample_rate, audio.shape[1], subtype, format=file_format
        ) as out:
            for start in range(0, audio.shape[0], BLOCK_FRAMES):
                out.write(audio[start : start + BLOCK_FRAMES])
    except (OSError, RuntimeError, sf.LibsndfileError) as error:
        raise AudioWriteError(f"cannot write {path}: {error}") from None


def render_demo(
    out_path: str | Path,
    seconds: float = 20.0,
    seed: int = 0,
    style: str | None = None,
    fonts: list[str | Path] | None = None,
    stems_dir: str | Path | None = None,
) -> Path:
    """Render one song with bass, drums, guitar and piano to a stereo 44.1 kHz file.

    The mixture peaks at -1 dBFS. ``out_path`` ends in .ogg (Vorbis), .wav or .flac.
    With ``stems_dir``, the four instrument stems (same scale, their sum is the
    mixture) are written there as ``bass.wav`` ... ``piano.wav`` too. Returns
    ``out_path``.
    """
    out_path = Path(out_path)
    song = compose_song(
        song_seed(seed, 0),
        seconds,
        resolve_fonts(fonts),
        style=style,
        parts=frozenset({"bass", "drums", "guitar", "piano", "lead"}),
    )
    song = dataclasses.replace(song, peak_db=-1.0)
    processed, _ = produce(song, render_stems(song, DEMO_RATE, stereo=True), DEMO_RATE)
    _write_blocks(out_path, processed.sum(axis=0).T, DEMO_RATE)
    if stems_dir is not None:
        for instrument in INSTRUMENTS:
            rows = [
                x for x, s in zip(processed, song.stems, strict=True) if s.instrument == instrument
            ]
            stem = np.sum(rows, axis=0) if rows else np.zeros_like(processed[0])
            _write_blocks(Path(stems_dir) / f"{instrument}.wav", stem.T, DEMO_RATE)
    return out_path
