"""Noise parts: swells and risers, the textures producers put before a chorus.

A note ``(start, duration)`` becomes white noise under an envelope ``e(u)``, ``u`` the
position in the note from 0 to 1: a riser grows as ``e = u^2`` and is cut at the end, a
swell rises and falls as ``e = sin(pi u)^2``. Brightness grows with it: the noise is
band-limited twice (pedalboard filters: a dark copy low-passed at 0.6-1.5 kHz and a bright
one high-passed at 1-3 kHz) and the output is ``e ((1 - u) dark + u bright)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.data.synth.midi import Note
from core.data.synth.production import Effect, apply_chain


def render_noise(notes: Sequence[Note], shape: str, seed: int, sample_rate: int,
                 frames: int) -> np.ndarray:
    """float32 ``(frames,)``: one noise event per note (see the module doc); ``shape``
    "riser" or "swell"."""
    generator = np.random.default_rng(seed & 0xFFFFFFFF)
    out = np.zeros(frames, np.float32)
    for note in notes:
        start = int(note.start * sample_rate)
        length = min(int(note.duration * sample_rate), frames - start)
        if length < 16:
            continue
        noise = generator.standard_normal(length).astype(np.float32)
        dark = apply_chain(noise, (Effect("LowpassFilter", (
            ("cutoff_frequency_hz", float(generator.uniform(600, 1500))),)),), sample_rate)
        bright = apply_chain(noise, (Effect("HighpassFilter", (
            ("cutoff_frequency_hz", float(generator.uniform(1000, 3000))),)),), sample_rate)
        u = np.linspace(0.0, 1.0, length, dtype=np.float32)
        envelope = u * u if shape == "riser" else np.sin(np.pi * u) ** 2
        out[start:start + length] += envelope * ((1.0 - u) * dark + u * bright) * (note.velocity / 127.0)
    return out
