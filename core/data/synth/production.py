"""The production chain: per-stem effects and a mix-bus compressor/limiter, built
with Spotify's ``pedalboard`` (no hand-written DSP), drawn at random per song.

A chain is a list of :class:`Effect` (a pedalboard plugin class name and its
parameters), so it is recorded verbatim in the track's metadata and rebuilt
identically from it.

**Stems** (drawn by :func:`draw_stem_chain`): guitars are often distorted and put
through a cabinet-like band-pass (high-pass 70-140 Hz, low-pass 3.2-6.5 kHz, a mid
peak), far more often in rock styles; bass and drums get compressors; every stem
gets some EQ; some guitars and keys get chorus or phaser; most stems get a reverb
send (``Reverb`` with ``dry_level`` 1: dry plus wet).

**Mix bus** (:func:`apply_bus`): the bus chain runs on the mixture ``x = sum_s x_s``
to give ``y``. Its gain is the ratio of peak envelopes

    g = A[(P[|y|] + eps) / (P[|x|] + eps)],

with ``P`` a running maximum and ``A`` a moving average, both over
:data:`BUS_ENVELOPE_SECONDS`, and every stem is multiplied by the same ``g``. The
mixture therefore stays exactly the sum of the stems and carries the bus's
time-varying gain reduction: peaks the limiter caught are caught here too, so a
pushed song comes out with the limiter's loudness and crest factor (within the
smoothing; the limiter's sample-level waveform shaping is not reproduced).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BUS_ENVELOPE_SECONDS = 0.005
"""Window of the envelope the bus gain is measured with."""
ROCK_STYLES = ("rock", "shuffle")
"""Styles whose guitars are distorted most of the time."""


def _pedalboard():
    """The pedalboard module, or SynthUnavailableError saying how to install it."""
    try:
        import pedalboard
    except ImportError:
        from core.data.synth.fluidsynth import SynthUnavailableError

        raise SynthUnavailableError(
            "the production chain needs Spotify's pedalboard: pip install -e \".[data]\""
        ) from None
    return pedalboard


@dataclass(frozen=True)
class Effect:
    """One pedalboard plugin: class name and keyword parameters."""

    name: str
    params: tuple[tuple[str, float], ...]

    def build(self):
        return getattr(_pedalboard(), self.name)(**dict(self.params))

    def describe(self) -> str:
        inner = ", ".join(f"{key}={value:g}" for key, value in self.params)
        return f"{self.name}({inner})"


def _effect(name: str, **params: float) -> Effect:
    return Effect(name, tuple((key, round(float(value), 3)) for key, value in params.items()))


def _eq(rng: random.Random) -> list[Effect]:
    effects = [_effect("HighpassFilter", cutoff_frequency_hz=rng.uniform(25.0, 60.0))]
    if rng.random() < 0.6:
        effects.append(_effect("LowShelfFilter", cutoff_frequency_hz=rng.uniform(80, 250),
                               gain_db=rng.uniform(-4, 4), q=0.7))
    if rng.random() < 0.6:
        effects.append(_effect("PeakFilter", cutoff_frequency_hz=rng.uniform(300, 4000),
                               gain_db=rng.uniform(-5, 5), q=rng.uniform(0.5, 2.0)))
    if rng.random() < 0.6:
        effects.append(_effect("HighShelfFilter", cutoff_frequency_hz=rng.uniform(2500, 8000),
                               gain_db=rng.uniform(-5, 4), q=0.7))
    return effects


def _compressor(rng: random.Random, strength: float) -> Effect:
    return _effect(
        "Compressor",
        threshold_db=rng.uniform(-30, -12) * strength,
        ratio=rng.uniform(2.0, 6.0),
        attack_ms=rng.uniform(1.0, 30.0),
        release_ms=rng.uniform(40.0, 250.0),
    )


def _modulation(rng: random.Random) -> Effect:
    if rng.random() < 0.5:
        return _effect("Chorus", rate_hz=rng.uniform(0.3, 2.0), depth=rng.uniform(0.1, 0.4),
                       centre_delay_ms=rng.uniform(5, 12), feedback=0.0, mix=rng.uniform(0.3, 0.6))
    return _effect("Phaser", rate_hz=rng.uniform(0.2, 1.5), depth=rng.uniform(0.3, 0.8),
                   centre_frequency_hz=rng.uniform(500, 1500), feedback=rng.uniform(0.0, 0.5),
                   mix=rng.uniform(0.3, 0.6))


def draw_stem_chain(
    rng: random.Random, instrument: str, style: str, clean_only: bool = False
) -> list[Effect]:
    """A random chain for one stem (see the module doc). ``clean_only`` forbids
    distortion (an acoustic guitar, or a GM patch that is distorted already)."""
    chain: list[Effect] = []
    if instrument == "guitar":
        distort_chance = 0.75 if style in ROCK_STYLES else 0.3
        if not clean_only and rng.random() < distort_chance:
            chain.append(_effect("Distortion", drive_db=rng.uniform(12.0, 32.0)))
            chain.append(_effect("HighpassFilter", cutoff_frequency_hz=rng.uniform(70, 140)))
            chain.append(_effect("PeakFilter", cutoff_frequency_hz=rng.uniform(700, 2000),
                                 gain_db=rng.uniform(-3, 5), q=1.0))
            chain.append(_effect("LowpassFilter", cutoff_frequency_hz=rng.uniform(3200, 6500)))
        if rng.random() < 0.2:
            chain.append(_modulation(rng))
    elif instrument == "bass":
        if not clean_only and rng.random() < 0.12:
            chain.append(_effect("Distortion", drive_db=rng.uniform(6.0, 18.0)))
        if rng.random() < 0.8:
            chain.append(_compressor(rng, 1.0))
    elif instrument == "drums":
        if rng.random() < 0.7:
            chain.append(_compressor(rng, 0.8))
    elif instrument == "piano":
        if rng.random() < 0.4:
            chain.append(_compressor(rng, 0.6))
        if rng.random() < 0.15:
            chain.append(_modulation(rng))
    chain += _eq(rng)
    wet_range = (0.0, 0.06) if instrument == "bass" else (0.04, 0.35)
    if rng.random() < 0.7:
        chain.append(_effect("Reverb", room_size=rng.uniform(0.15, 0.85),
                             damping=rng.uniform(0.1, 0.7), wet_level=rng.uniform(*wet_range),
                             dry_level=1.0, width=0.0))
    return chain


def draw_vocal_chain(rng: random.Random, bpm: float, lead: bool = True) -> list[Effect]:
    """A vocal chain: high-pass, compressor, a cut in the low mids, a presence peak and an
    air shelf, then a plate or hall reverb and a slap or tempo-synced delay (a lead gets
    the delay more often than a backing voice)."""
    chain = [
        _effect("HighpassFilter", cutoff_frequency_hz=rng.uniform(70, 140)),
        _effect("Compressor", threshold_db=rng.uniform(-28, -14), ratio=rng.uniform(3.0, 6.0),
                attack_ms=rng.uniform(2.0, 12.0), release_ms=rng.uniform(60.0, 200.0)),
        _effect("PeakFilter", cutoff_frequency_hz=rng.uniform(250, 500),
                gain_db=rng.uniform(-5, -1), q=rng.uniform(0.7, 1.5)),
        _effect("PeakFilter", cutoff_frequency_hz=rng.uniform(2500, 5000),
                gain_db=rng.uniform(0, 5), q=rng.uniform(0.7, 1.5)),
        _effect("HighShelfFilter", cutoff_frequency_hz=rng.uniform(6000, 9000),
                gain_db=rng.uniform(1, 6), q=0.7),
    ]
    if rng.random() < 0.5:  # plate: small, bright, short
        chain.append(_effect("Reverb", room_size=rng.uniform(0.25, 0.55), damping=rng.uniform(0.1, 0.4),
                             wet_level=rng.uniform(0.08, 0.3), dry_level=1.0, width=0.0))
    else:  # hall: large and dark
        chain.append(_effect("Reverb", room_size=rng.uniform(0.7, 0.92), damping=rng.uniform(0.4, 0.8),
                             wet_level=rng.uniform(0.06, 0.25), dry_level=1.0, width=0.0))
    if rng.random() < (0.7 if lead else 0.3):
        if rng.random() < 0.5:  # slap-back
            chain.append(_effect("Delay", delay_seconds=rng.uniform(0.07, 0.14),
                                 feedback=rng.uniform(0.0, 0.15), mix=rng.uniform(0.1, 0.25)))
        else:  # tempo delay: an eighth, dotted eighth or quarter
            beats = rng.choice((0.5, 0.75, 1.0))
            chain.append(_effect("Delay", delay_seconds=beats * 60.0 / bpm,
                                 feedback=rng.uniform(0.15, 0.4), mix=rng.uniform(0.08, 0.2)))
    return chain


def draw_bus_chain(rng: random.Random) -> list[Effect]:
    """Mix-bus glue compressor (often) and a limiter, driven hard for about half the
    songs (modern loudness)."""
    chain: list[Effect] = []
    if rng.random() < 0.6:
        chain.append(_effect("Compressor", threshold_db=rng.uniform(-22, -10),
                             ratio=rng.uniform(1.5, 4.0), attack_ms=rng.uniform(5, 30),
                             release_ms=rng.uniform(80, 300)))
    if rng.random() < 0.75:
        push = rng.uniform(6.0, 14.0) if rng.random() < 0.6 else rng.uniform(0.0, 5.0)
        chain.append(_effect("Gain", gain_db=push))
        chain.append(_effect("Limiter", threshold_db=-1.0, release_ms=rng.uniform(50, 300)))
    return chain


def apply_chain(x: np.ndarray, chain: Sequence[Effect], sample_rate: int) -> np.ndarray:
    """``x`` float32 ``(samples,)`` through ``chain`` (a fresh plugin each call)."""
    if not chain:
        return x
    board = _pedalboard().Pedalboard([effect.build() for effect in chain])
    y = board(np.ascontiguousarray(x, np.float32)[None, :], sample_rate, reset=True)
    return np.ascontiguousarray(y[0, : x.shape[0]], np.float32)


def moving_average(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of ``x`` over ``window`` samples (same length)."""
    if window <= 1 or x.shape[0] == 0:
        return x
    half = window // 2
    padded = np.concatenate([np.zeros(half + 1), x, np.zeros(window - half)])
    sums = np.cumsum(padded)
    return (sums[window:window + x.shape[0]] - sums[: x.shape[0]]) / window


def running_max(x: np.ndarray, window: int) -> np.ndarray:
    """Centred running maximum of ``x`` over ``window`` samples (same length)."""
    if window <= 1 or x.shape[0] == 0:
        return x
    half = window // 2
    padded = np.concatenate([np.zeros(half, x.dtype), x, np.zeros(window - half - 1, x.dtype)])
    return np.lib.stride_tricks.sliding_window_view(padded, window).max(axis=1)


def bus_gain(mixture: np.ndarray, chain: Sequence[Effect], sample_rate: int) -> np.ndarray:
    """The time-varying gain ``g`` (float32, ``mixture``'s shape) of the bus ``chain``
    on ``mixture``, as in the module doc; all ones for an empty chain."""
    if not chain or not mixture.size:
        return np.ones_like(mixture, dtype=np.float32)
    processed = apply_chain(mixture, chain, sample_rate)
    window = max(1, int(BUS_ENVELOPE_SECONDS * sample_rate))
    eps = 1e-6
    ratio = (running_max(np.abs(processed), window) + eps) / (
        running_max(np.abs(mixture), window) + eps
    )
    gain = moving_average(ratio.astype(np.float64), window)
    return np.clip(gain, 0.0, 8.0).astype(np.float32)


def apply_bus(stems: np.ndarray, chain: Sequence[Effect], sample_rate: int) -> np.ndarray:
    """``stems`` float32 ``(S, samples)`` times the bus gain measured on their sum."""
    if not len(stems):
        return stems
    return stems * bus_gain(stems.sum(axis=0), chain, sample_rate)[None, :]
