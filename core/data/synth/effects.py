"""Per-stem effects, all cheap vectorised numpy (a song's worth in a few ms).

Shapes: ``x`` is ``(..., samples)``; effects act along the last axis, so mono
``(samples,)`` and stereo ``(2, samples)`` stems both work.
"""

from __future__ import annotations

import numpy as np


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def tilt(x: np.ndarray, tilt_db: float) -> np.ndarray:
    """First-order FIR tilt EQ: ``y[n] = x[n] + a (x[n] - x[n-1])``.

    The gain is 1 at DC and ``|1 + 2a|`` at Nyquist; ``a`` is chosen so the Nyquist
    gain is ``tilt_db`` dB (a > 0 brightens, -0.5 < a < 0 darkens), with a smooth
    first-order slope in between.
    """
    if tilt_db == 0.0:
        return x
    a = (db_to_gain(tilt_db) - 1.0) / 2.0
    previous = np.concatenate([np.zeros_like(x[..., :1]), x[..., :-1]], axis=-1)
    return (x + a * (x - previous)).astype(x.dtype, copy=False)


def saturate(x: np.ndarray, drive: float) -> np.ndarray:
    """Soft clipping ``y = p tanh(d x / p) / tanh(d)`` with ``p`` the peak of ``x``:
    level-independent, the peak stays at ``p``, larger ``d`` bends the waveform more."""
    if drive <= 0.0:
        return x
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return x
    return (peak * np.tanh(drive * x / peak) / np.tanh(drive)).astype(x.dtype, copy=False)


def fade_out(x: np.ndarray, samples: int) -> np.ndarray:
    """Linear fade over the last ``samples`` samples (no click where the song is cut)."""
    samples = min(samples, x.shape[-1])
    if samples <= 0:
        return x
    y = x.copy()
    y[..., -samples:] *= np.linspace(1.0, 0.0, samples, dtype=x.dtype)
    return y


def process_stem(
    x: np.ndarray, gain_db: float, tilt_db: float, drive: float, sample_rate: int
) -> np.ndarray:
    """The stem chain: saturation, tilt EQ, gain, then a 20 ms fade-out at the end."""
    y = saturate(x, drive)
    y = tilt(y, tilt_db)
    y = y * np.float32(db_to_gain(gain_db))
    return fade_out(y, int(0.02 * sample_rate))


def normalisation_scale(stems: np.ndarray, peak_db: float) -> float:
    """Scale that brings the mixture (sum over axis 0) to ``peak_db`` dBFS, reduced if any
    single stem would then exceed that peak. Returns 0 for silence."""
    mixture_peak = float(np.max(np.abs(stems.sum(axis=0)))) if stems.size else 0.0
    stem_peak = float(np.max(np.abs(stems))) if stems.size else 0.0
    peak = max(mixture_peak, stem_peak)
    if peak == 0.0:
        return 0.0
    return db_to_gain(peak_db) / peak
