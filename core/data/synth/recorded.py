"""A sampler that plays note events through recorded instruments.

A recorded instrument is a folder laid out like ``../shared/samples/<class>/<id>/``:
mono FLAC files and a ``regions.json`` with a header (``id``, ``instrument``,
``licence``, ``description``, ``source``, ``sample_rate``) and ``regions``, one per
file: ``key`` (sounding MIDI pitch; GM drum key for drums), ``layer`` (velocity or
loudness layer, 1 softest), ``rr`` (round robin), ``articulation`` (optional).

Playing a note ``(start, duration, pitch, velocity)``:

1. **Key.** The nearest sampled key ``k`` of the chosen articulation; the sample is
   pitch-shifted by resampling with ratio ``r = 2^((pitch - k) / 12)`` (it plays
   ``r`` times faster: ``y[n] = x(n r)``, band-limited by soxr, so an upward shift
   does not alias; each shifted sample is made once per process and reused). Notes further than
   :data:`MAX_SHIFT` semitones from every key move by octaves into the sampled range.
   Drums never shift: an unsampled drum key falls back to a related piece
   (:data:`DRUM_FALLBACK`) or is dropped.
2. **Velocity.** Layers of that key sorted softest first; velocity ``v`` picks layer
   ``floor(v / 128 * n_layers)``, and scales it by ``(v / v_c)^{VELOCITY_CURVE}`` where
   ``v_c`` is the centre velocity of the layer's band, so velocities inside a band
   still differ in level.
3. **Round robin.** Successive notes on the same (key, layer) cycle through its
   round robins.
4. **Release.** Pitched notes end ``duration`` seconds after the onset with a
   raised-cosine release of :data:`RELEASE_SECONDS`; a new note of the same pitch cuts
   the old one the same way. Drum hits ring out (a closed or pedal hi-hat chokes an
   open one).
5. **Polyphony.** Voices add up.

Audio is decoded once per process and resampled with soxr to the render rate.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import StemforgeError


class SampleLibraryError(StemforgeError, ValueError):
    """A ``--samples`` folder is missing or holds a malformed instrument (the message names it)."""


MAX_SHIFT = 4
"""Largest pitch shift in semitones before a note is moved by octaves instead."""
RELEASE_SECONDS = 0.08
"""Length of the raised-cosine release at note-off."""
VELOCITY_CURVE = 1.2
"""Exponent of the level scaling inside a velocity layer."""
DRUM_FALLBACK: dict[int, tuple[int, ...]] = {
    35: (36,),
    36: (35,),
    37: (38,),
    39: (38,),
    40: (38,),
    41: (43, 45),
    43: (41, 45),
    44: (42,),
    45: (47, 41),
    47: (45, 48),
    48: (47, 50),
    50: (48,),
    49: (57, 52),
    57: (49, 52),
    51: (59, 53),
    59: (51,),
    53: (55, 51),
    54: (42,),
}
"""GM drum keys a kit without the key plays instead, in order of preference."""
HAT_CHOKERS = (42, 44)
OPEN_HAT = 46
REGIONS_FILE = "regions.json"


@dataclass(frozen=True)
class Region:
    file: str
    key: int
    layer: int
    rr: int
    articulation: str


@dataclass(frozen=True)
class RecordedInstrument:
    """A recorded instrument folder: its header and regions (audio is read lazily)."""

    id: str
    instrument: str
    licence: str
    description: str
    source: str
    folder: Path
    regions: tuple[Region, ...]

    @property
    def articulations(self) -> tuple[str, ...]:
        """Articulations that can play a whole part (staccato-only sets excluded)."""
        found = sorted({r.articulation for r in self.regions})
        playable = [a for a in found if a != "staccato"]
        return tuple(playable or found)

    @property
    def is_drum(self) -> bool:
        return self.instrument == "drums"


def read_instrument(folder: str | Path) -> RecordedInstrument:
    """Parse ``folder/regions.json``; raises :class:`SampleLibraryError` naming the folder
    when it is malformed or lists a file that is missing."""
    folder = Path(folder)
    try:
        header = json.loads((folder / REGIONS_FILE).read_text(encoding="utf-8"))
        regions = tuple(
            Region(
                file=str(r["file"]),
                key=int(r["key"]),
                layer=int(r.get("layer", 1)),
                rr=int(r.get("rr", 1)),
                articulation=str(r.get("articulation", "sustain")),
            )
            for r in header["regions"]
        )
        instrument = str(header["instrument"])
        identifier = str(header.get("id", folder.name))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SampleLibraryError(f"{folder}: unreadable {REGIONS_FILE} ({error})") from None
    if not regions:
        raise SampleLibraryError(f"{folder}: {REGIONS_FILE} lists no region")
    missing = [r.file for r in regions if not (folder / r.file).is_file()]
    if missing:
        raise SampleLibraryError(f"{folder}: {len(missing)} sample file(s) missing, e.g. {missing[0]}")
    return RecordedInstrument(
        id=identifier,
        instrument=instrument,
        licence=str(header.get("licence", "unknown")),
        description=str(header.get("description", "")),
        source=str(header.get("source", "")),
        folder=folder,
        regions=regions,
    )


def find_instruments(root: str | Path) -> list[RecordedInstrument]:
    """Every ``root/<class>/<id>/regions.json`` instrument, sorted by class then id."""
    root = Path(root)
    if not root.is_dir():
        raise SampleLibraryError(f"{root}: samples folder does not exist")
    found = [read_instrument(path.parent) for path in sorted(root.glob(f"*/*/{REGIONS_FILE}"))]
    return sorted(found, key=lambda i: (i.instrument, i.id))


@lru_cache(maxsize=4096)
def _sample(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples of ``path`` at ``sample_rate`` (decoded once per process)."""
    import soundfile as sf
    import soxr

    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1, dtype=np.float32)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(mono)


@lru_cache(maxsize=8192)
def _pitched(path: Path, sample_rate: int, semitones: int) -> np.ndarray:
    """The sample of ``path`` at ``sample_rate`` played ``semitones`` higher:
    ``y[n] = x(n r)`` with ``r = 2^(semitones / 12)``, band-limited resampling."""
    import soxr

    source = _sample(path, sample_rate)
    if semitones == 0:
        return source
    ratio = 2.0 ** (semitones / 12.0)
    return np.ascontiguousarray(soxr.resample(source, ratio, 1.0, quality="MQ"), np.float32)


class Sampler:
    """Renders note lists through one recorded instrument and articulation.

    ``render(notes, frames)`` returns float32 ``(frames,)`` at ``sample_rate``.
    """

    def __init__(self, instrument: RecordedInstrument, articulation: str, sample_rate: int):
        self.instrument = instrument
        self.articulation = articulation
        self.sample_rate = int(sample_rate)
        chosen = [r for r in instrument.regions if r.articulation == articulation]
        if not chosen:
            raise ValueError(f"{instrument.id} has no articulation {articulation!r}")
        by_key: dict[int, dict[int, list[Region]]] = defaultdict(lambda: defaultdict(list))
        for region in chosen:
            by_key[region.key][region.layer].append(region)
        self._layers: dict[int, list[list[Region]]] = {
            key: [sorted(rrs, key=lambda r: r.rr) for _, rrs in sorted(layers.items())]
            for key, layers in by_key.items()
        }
        self.keys = np.array(sorted(self._layers))
        self._round_robin: dict[tuple[int, int], int] = defaultdict(int)

    def key_for(self, pitch: int) -> tuple[int, int] | None:
        """``(sampled key, sounding pitch)`` that plays ``pitch``, or None (drums only)."""
        if self.instrument.is_drum:
            for key in (pitch, *DRUM_FALLBACK.get(pitch, ())):
                if key in self._layers:
                    return key, key
            return None
        low, high = int(self.keys[0]), int(self.keys[-1])
        while pitch < low - MAX_SHIFT:
            pitch += 12
        while pitch > high + MAX_SHIFT:
            pitch -= 12
        key = int(self.keys[np.argmin(np.abs(self.keys - pitch))])
        return key, pitch

    def _region(self, key: int, velocity: int) -> tuple[Region, float]:
        layers = self._layers[key]
        index = min(len(layers) - 1, int(velocity / 128 * len(layers)))
        centre = (index + 0.5) * 128 / len(layers)
        gain = (max(1, velocity) / centre) ** VELOCITY_CURVE
        rrs = layers[index]
        turn = self._round_robin[(key, index)]
        self._round_robin[(key, index)] = turn + 1
        return rrs[turn % len(rrs)], float(gain)

    def render(self, notes: Iterable, frames: int) -> np.ndarray:
        """Mix of every note (objects with ``start``, ``duration``, ``pitch``, ``velocity``)."""
        out = np.zeros(frames, np.float32)
        release = max(1, int(RELEASE_SECONDS * self.sample_rate))
        fade = (0.5 + 0.5 * np.cos(np.linspace(0.0, math.pi, release))).astype(np.float32)
        ordered = sorted(notes, key=lambda n: (n.start, n.pitch))
        # a later note of the same pitch (or a closed hat over an open one) cuts a voice
        cut_at: list[int | None] = [None] * len(ordered)
        last_on: dict[int, int] = {}
        open_hat: int | None = None
        for index, note in enumerate(ordered):
            onset = int(round(note.start * self.sample_rate))
            if not self.instrument.is_drum and note.pitch in last_on:
                cut_at[last_on[note.pitch]] = onset
            last_on[note.pitch] = index
            if self.instrument.is_drum:
                if note.pitch == OPEN_HAT:
                    open_hat = index
                elif note.pitch in HAT_CHOKERS and open_hat is not None:
                    cut_at[open_hat] = onset
                    open_hat = None
        for index, note in enumerate(ordered):
            onset = int(round(note.start * self.sample_rate))
            if onset >= frames:
                continue
            found = self.key_for(int(note.pitch))
            if found is None:
                continue
            key, pitch = found
            region, gain = self._region(key, int(note.velocity))
            source = _pitched(self.instrument.folder / region.file, self.sample_rate, pitch - key)
            end = onset + source.shape[0]
            stop = cut_at[index]
            if not self.instrument.is_drum:
                note_off = onset + max(release, int(round(note.duration * self.sample_rate)))
                stop = note_off if stop is None else min(stop, note_off)
            length = min(end, frames, stop + release if stop is not None else end) - onset
            if length <= 0:
                continue
            voice = source[:length] * np.float32(gain)
            if stop is not None and stop - onset < length:
                tail = voice[max(0, stop - onset) :]
                tail *= fade[: tail.shape[0]]
            out[onset : onset + length] += voice
        return out

