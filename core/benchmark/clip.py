"""A synthetic music clip of any length, written block by block (bounded memory).

At 120 bpm: a bass line (root of a four-bar progression with two harmonics), piano-like
chords panned left, plucked guitar-like eighth notes panned right, a kick on every beat
and hi-hat noise on every eighth. Sample ``t`` depends only on ``t`` and the seed, so a
10-minute file is written in small blocks without holding it in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

BEAT = 0.5  # seconds (120 bpm)
BAR = 4 * BEAT
ROOTS = (55.0, 73.42, 65.41, 82.41)  # A1 D2 C2 E2
CHORD = (1.0, 1.25, 1.5)  # major triad ratios
BLOCK_FRAMES = 1 << 16


def hash_noise(index: np.ndarray, seed: int) -> np.ndarray:
    """White noise in [-1, 1) that depends only on the sample index and the seed
    (``frac(sin(12.9898 n + 78.233 seed) * 43758.5453)``), so blocks join seamlessly."""
    x = np.sin(index.astype(np.float64) * 12.9898 + seed * 78.233) * 43758.5453
    return 2.0 * (x - np.floor(x)) - 1.0


def _pan(mono: np.ndarray, left: float) -> np.ndarray:
    return np.stack([mono * left, mono * (1.0 - left)], axis=1)


def clip_block(start: int, frames: int, samplerate: int, channels: int, seed: int = 0) -> np.ndarray:
    """Samples ``[start, start + frames)`` of the clip: ``(frames, channels)`` float32, peak < 0.9."""
    t = (start + np.arange(frames)) / samplerate
    bar = np.floor(t / BAR).astype(np.int64)
    root = np.asarray(ROOTS)[bar % len(ROOTS)]
    in_beat, in_eighth, in_bar = t % BEAT, t % (BEAT / 2), t % BAR
    bass = sum(np.sin(2 * np.pi * k * root * t) / k for k in (1, 2, 3)) * np.exp(-3 * in_beat) * 0.18
    piano = sum(np.sin(2 * np.pi * 4 * root * r * t) for r in CHORD) * np.exp(-1.5 * in_bar) * 0.07
    guitar_pitch = 8 * root * np.asarray(CHORD)[(np.floor(t / (BEAT / 2)).astype(np.int64)) % 3]
    guitar = sum(np.sin(2 * np.pi * k * guitar_pitch * t) / k**1.5 for k in (1, 2, 3, 4))
    guitar = guitar * np.exp(-8 * in_eighth) * 0.08
    kick = np.sin(2 * np.pi * (45 + 80 * np.exp(-30 * in_beat)) * in_beat) * np.exp(-12 * in_beat) * 0.25
    hats = hash_noise(start + np.arange(frames), seed) * np.exp(-70 * in_eighth) * 0.08
    center = bass + kick + hats
    stereo = _pan(center, 0.5) * 2 + _pan(piano, 0.75) * 2 + _pan(guitar, 0.3) * 2
    if channels == 1:
        return stereo.mean(axis=1, keepdims=True).astype(np.float32)
    if channels == 2:
        return stereo.astype(np.float32)
    return np.repeat(stereo.mean(axis=1, keepdims=True), channels, axis=1).astype(np.float32)


def write_clip(path: Path, seconds: float, samplerate: int = 44100, channels: int = 2,
               subtype: str = "PCM_16", seed: int = 0) -> Path:
    """Write ``seconds`` of the clip to ``path`` (WAV), block by block; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    total = max(1, int(round(seconds * samplerate)))
    with sf.SoundFile(str(path), "w", samplerate, channels, subtype=subtype, format="WAV") as handle:
        for start in range(0, total, BLOCK_FRAMES):
            handle.write(clip_block(start, min(BLOCK_FRAMES, total - start), samplerate, channels, seed))
    return path
