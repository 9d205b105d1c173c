"""From a composed song to its finished stems: every source rendered, every stem
through its production chain, the mix bus applied, and the song normalised.

Shapes: stems are float32 ``(S, samples)`` (mono) or ``(S, 2, samples)`` (stereo).
The finished mixture is always exactly the sum of the finished stems: every step
after the per-stem chains (pre-bus level, bus gain, normalisation) multiplies all
stems by the same (possibly time-varying) gain.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from core.data.synth.compose import Song
from core.data.synth.noise import render_noise
from core.data.synth.others import OtherPart
from core.data.synth.production import apply_chain, bus_gain
from core.data.synth.recorded import Sampler
from core.data.synth.render import render_song

BUS_REFERENCE_RMS_DB = -20.0
"""Mixture RMS the bus chain sees, so its thresholds mean the same in every song."""
FADE_SECONDS = 0.02
"""Fade-out at the end of every stem (no click where the song is cut)."""


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def _pan_gains(pan: int) -> tuple[float, float]:
    """Constant-power gains (left, right) of MIDI pan 0-127."""
    angle = (min(max(pan, 0), 127) / 127.0) * math.pi / 2
    return math.cos(angle), math.sin(angle)


def render_stems(song: Song, sample_rate: int, stereo: bool = False) -> np.ndarray:
    """Dry audio of every stem in ``song.stems`` order: soundfont sources through
    FluidSynth (one pass), recorded ones through :class:`Sampler` (panned with
    constant power in stereo)."""
    frames = int(round(song.seconds * sample_rate))
    shape = (len(song.stems), 2, frames) if stereo else (len(song.stems), frames)
    out = np.zeros(shape, np.float32)
    synth_rows = [i for i, s in enumerate(song.stems) if s.sound.source.kind in ("gm", "kit")]
    if synth_rows:
        subset = dataclasses.replace(song, stems=tuple(song.stems[i] for i in synth_rows))
        interpolation = 4 if sample_rate > 32000 else 1
        rendered = render_song(subset, sample_rate, stereo=stereo, interpolation=interpolation)
        for row, audio in zip(synth_rows, rendered, strict=True):
            out[row] = audio
    for row, stem in enumerate(song.stems):
        source = stem.sound.source
        if source.kind == "recorded" and source.recorded is not None:
            mono = Sampler(source.recorded, source.articulation, sample_rate).render(stem.notes, frames)
        elif source.kind in ("voice", "noise") and stem.other is not None:
            mono = render_other(stem.other, song.seed * 31 + row, sample_rate, frames)
        else:
            continue
        if stereo:
            left, right = _pan_gains(stem.sound.pan)
            out[row, 0] = mono * np.float32(left)
            out[row, 1] = mono * np.float32(right)
        else:
            out[row] = mono
    return out


def render_other(part: OtherPart, seed: int, sample_rate: int, frames: int) -> np.ndarray:
    """float32 ``(frames,)``: a sung part (:mod:`core.data.synth.voice`, sung at its own
    rate and resampled with soxr) or a noise part (:mod:`core.data.synth.noise`)."""
    if part.kind == "noise":
        return render_noise(part.notes, part.role, seed, sample_rate, frames)
    import soxr

    from core.data.synth.voice import VOICE_RATE, sing

    assert part.voice is not None
    voice_frames = int(math.ceil(frames * VOICE_RATE / sample_rate)) + 1
    audio = sing(part.notes, part.voice, seed, voice_frames, detune_cents=part.detune_cents,
                 timing_ms=part.timing_ms, breaths=part.role == "lead")
    if sample_rate != VOICE_RATE:
        audio = soxr.resample(audio, VOICE_RATE, sample_rate, quality="HQ").astype(np.float32)
    out = np.zeros(frames, np.float32)
    n = min(frames, audio.shape[0])
    out[:n] = audio[:n]
    return out


ACTIVE_WINDOW_SECONDS = 0.1
ACTIVE_FLOOR_DB = -50.0
"""A window counts as active when its power is within this of the stem's loudest window."""


def active_level_db(x: np.ndarray, sample_rate: int) -> float:
    """RMS level (dB) of ``x`` ``(samples,)`` or ``(2, samples)`` over its active windows
    only (:data:`ACTIVE_WINDOW_SECONDS`, within :data:`ACTIVE_FLOOR_DB` of the loudest),
    so a part that plays half the song is measured while it plays; -inf for silence."""
    mono = x if x.ndim == 1 else x.mean(axis=0)
    window = max(1, int(ACTIVE_WINDOW_SECONDS * sample_rate))
    count = mono.shape[0] // window
    if count == 0:
        return _rms_db(mono)
    power = np.mean(np.square(mono[: count * window].reshape(count, window), dtype=np.float64), axis=1)
    peak = float(power.max())
    if peak <= 0.0:
        return -math.inf
    active = power[power >= peak * 10.0 ** (ACTIVE_FLOOR_DB / 10.0)]
    return 10.0 * math.log10(float(active.mean()))


def balance_other_parts(stems: np.ndarray, song: Song, sample_rate: int) -> None:
    """In place: each non-target stem scaled so that its active level is its ``gain_db``
    above the median active level of the song's target stems, the four targets untouched.
    A lead vocal is set relative to the loudest target instead (-2 to +4 dB: at or above
    the instruments, as on most records), a backing vocal relative to the lead."""
    targets = [active_level_db(x, sample_rate) for x, stem in zip(stems, song.stems, strict=True)
               if stem.other is None]
    targets = [level for level in targets if math.isfinite(level)]
    if not targets:
        return
    reference = float(np.median(targets))
    lead = None
    for stem in song.stems:
        if stem.other is not None and stem.other.family == "lead vocal":
            lead = max(targets) + stem.other.gain_db
    for row, stem in enumerate(song.stems):
        if stem.other is None:
            continue
        level = active_level_db(stems[row], sample_rate)
        if not math.isfinite(level):
            continue
        if stem.other.family == "lead vocal" and lead is not None:
            wanted = lead
        elif stem.other.family == "backing vocal" and lead is not None:
            wanted = lead + stem.other.gain_db
        else:
            wanted = reference + stem.other.gain_db
        stems[row] *= np.float32(db_to_gain(wanted - level))


def _rms_db(x: np.ndarray) -> float:
    power = float(np.mean(np.square(x, dtype=np.float64))) if x.size else 0.0
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def _per_stem_chain(x: np.ndarray, stem, sample_rate: int) -> np.ndarray:
    """One stem's chain and gain; ``x`` is ``(samples,)`` or ``(2, samples)``."""
    level = _rms_db(x)
    if math.isfinite(level):  # sources differ a lot in level; start every stem at -20 dB
        x = x * np.float32(db_to_gain(-20.0 - level))
    channels = x[None] if x.ndim == 1 else x
    processed = np.stack([apply_chain(c, stem.sound.chain, sample_rate) for c in channels])
    processed = processed[0] if x.ndim == 1 else processed
    return processed * np.float32(db_to_gain(stem.sound.gain_db))


def produce(song: Song, dry: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Finished stems ``(S, [2,] samples)`` and the final normalisation scale.

    Per stem: level to -20 dB RMS, its chain, its gain; non-target parts are then set
    relative to the instruments (:func:`balance_other_parts`). Then all stems together:
    a gain bringing the mixture to :data:`BUS_REFERENCE_RMS_DB`, the bus gain of
    ``song.bus_chain`` measured on the (channel-summed) mixture, a fade-out, and a
    scale that puts the mixture peak (and every stem's) at ``song.peak_db``."""
    if not len(song.stems):
        return dry, 0.0
    stems = np.stack(
        [_per_stem_chain(x, stem, sample_rate) for x, stem in zip(dry, song.stems, strict=True)]
    ).astype(np.float32)
    balance_other_parts(stems, song, sample_rate)
    mixture = stems.sum(axis=0)
    level = _rms_db(mixture)
    if math.isfinite(level):
        stems *= np.float32(db_to_gain(BUS_REFERENCE_RMS_DB - level))
        mixture = stems.sum(axis=0)
    mono_mix = mixture if mixture.ndim == 1 else mixture.mean(axis=0)
    stems *= bus_gain(mono_mix, song.bus_chain, sample_rate)
    fade = min(int(FADE_SECONDS * sample_rate), stems.shape[-1])
    if fade > 0:
        stems[..., -fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    scale = normalisation_scale(stems, song.peak_db)
    return stems * np.float32(scale), scale


def normalisation_scale(stems: np.ndarray, peak_db: float) -> float:
    """Scale that brings the mixture (sum over axis 0) to ``peak_db`` dBFS, reduced if any
    single stem would then exceed that peak. Returns 0 for silence."""
    mixture_peak = float(np.max(np.abs(stems.sum(axis=0)))) if stems.size else 0.0
    stem_peak = float(np.max(np.abs(stems))) if stems.size else 0.0
    peak = max(mixture_peak, stem_peak)
    if peak == 0.0:
        return 0.0
    return db_to_gain(peak_db) / peak
