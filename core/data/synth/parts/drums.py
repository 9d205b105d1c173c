"""Drum grooves on the General MIDI percussion map: a groove per style, varied bar by bar,
with fills in the last bar of a section and a crash on the downbeat that follows.

A groove is a set of hits ``(instrument, beat within the bar, velocity scale)``; the
hi-hat line switches to ride or open hats in high-energy sections.
"""

from __future__ import annotations

import random

from core.data.synth.midi import Note
from core.data.synth.parts.common import PartWriter, energy_velocity
from core.data.synth.song import SongPlan

KICK = 36
SIDE_STICK = 37
SNARE = 38
CLAP = 39
CLOSED_HAT = 42
PEDAL_HAT = 44
OPEN_HAT = 46
CRASH = 49
RIDE = 51
CRASH_2 = 57
TAMBOURINE = 54
TOMS = (50, 48, 47, 45, 43, 41)
"""Toms from high to low."""

Hit = tuple[int, float, float]


def _eighths(beats: int, pitch: int, accent: float = 0.85, off: float = 0.6) -> list[Hit]:
    hits: list[Hit] = []
    for beat in range(beats):
        hits += [(pitch, float(beat), accent), (pitch, beat + 0.5, off)]
    return hits


def _sixteenths(beats: int, pitch: int) -> list[Hit]:
    scales = (0.85, 0.45, 0.65, 0.45)
    return [(pitch, beat + step / 4, scales[step]) for beat in range(beats) for step in range(4)]


def _groove(name: str, beats: int, rng: random.Random, energy: float) -> list[Hit]:
    """Hits of one bar of the named groove (random per-bar variations included)."""
    loud = energy > 0.7
    cymbal = RIDE if loud and rng.random() < 0.5 else CLOSED_HAT
    if name == "pop":
        hits = [(KICK, 0.0, 1.0), (KICK, 2.0, 0.95), (SNARE, 1.0, 1.0), (SNARE, 3.0, 1.0)]
        if rng.random() < 0.6:
            hits.append((KICK, 2.5, 0.8))
        if rng.random() < 0.3:
            hits.append((KICK, 1.5, 0.7))
        hits += _eighths(beats, cymbal)
        if loud and rng.random() < 0.5:
            hits.append((OPEN_HAT, 3.5, 0.7))
    elif name == "four_on_floor":
        hits = [(KICK, float(b), 1.0) for b in range(beats)]
        hits += [(CLAP if rng.random() < 0.5 else SNARE, 1.0, 0.95), (SNARE, 3.0, 0.95)]
        hits += [(OPEN_HAT if loud else CLOSED_HAT, b + 0.5, 0.75) for b in range(beats)]
        if loud:
            hits += [(CLOSED_HAT, b + 0.25, 0.45) for b in range(beats)]
    elif name == "rock":
        hits = [(KICK, 0.0, 1.0), (KICK, 2.0, 1.0), (SNARE, 1.0, 1.0), (SNARE, 3.0, 1.0)]
        if rng.random() < 0.7:
            hits.append((KICK, 2.5, 0.9))
        if rng.random() < 0.35:
            hits.append((KICK, 0.5, 0.8))
        hits += _eighths(beats, RIDE if loud else CLOSED_HAT, 0.9, 0.7)
    elif name == "half_time":
        hits = [(KICK, 0.0, 1.0), (SNARE, 2.0, 1.0)]
        if rng.random() < 0.6:
            hits.append((KICK, 1.5, 0.85))
        if rng.random() < 0.4:
            hits.append((KICK, 3.5, 0.8))
        hits += _eighths(beats, cymbal)
    elif name == "funk":
        hits = [
            (KICK, 0.0, 1.0),
            (KICK, 0.75, 0.8),
            (KICK, 2.5, 0.9),
            (SNARE, 1.0, 1.0),
            (SNARE, 3.0, 1.0),
        ]
        hits += [(SNARE, 1.75, 0.3), (SNARE, 2.25, 0.28), (SNARE, 3.75, 0.3)]  # ghost notes
        if rng.random() < 0.5:
            hits.append((KICK, 1.75, 0.75))
        hits += _sixteenths(beats, CLOSED_HAT)
        if rng.random() < 0.6:
            hits = [h for h in hits if not (h[0] == CLOSED_HAT and h[1] == 3.5)]
            hits.append((OPEN_HAT, 3.5, 0.7))
    elif name == "ballad":
        backbeat = SNARE if loud else SIDE_STICK
        hits = [(KICK, 0.0, 0.9), (backbeat, 1.0, 0.8), (backbeat, 3.0, 0.8)]
        if rng.random() < 0.5:
            hits.append((KICK, 2.5, 0.7))
        if rng.random() < 0.3:
            hits.append((KICK, 2.0, 0.7))
        hits += _eighths(beats, RIDE if loud else CLOSED_HAT, 0.6, 0.4)
    elif name == "waltz":
        hits = [(KICK, 0.0, 1.0)]
        for beat in range(1, beats):
            hits.append((SNARE if loud else SIDE_STICK, float(beat), 0.55))
        hits += [(CLOSED_HAT if not loud else RIDE, float(b), 0.6) for b in range(beats)]
        if rng.random() < 0.4:
            hits.append((PEDAL_HAT, 1.0, 0.5))
    elif name == "shuffle":
        hits = [(KICK, 0.0, 1.0), (KICK, 2.0, 0.95), (SNARE, 1.0, 1.0), (SNARE, 3.0, 1.0)]
        if rng.random() < 0.5:
            hits.append((KICK, 2.5, 0.75))
        hits += _eighths(beats, RIDE if loud else CLOSED_HAT, 0.9, 0.55)
        if rng.random() < 0.3:
            hits.append((TAMBOURINE, 1.0, 0.5))
    else:
        raise ValueError(f"unknown groove {name!r}")
    return [hit for hit in hits if hit[1] < beats]


def _fill(beats: int, rng: random.Random) -> tuple[float, list[Hit]]:
    """A one- or two-beat fill at the end of a bar: (start beat, hits)."""
    length = rng.choice((1, 1, 2)) if beats >= 3 else 1
    start = beats - length
    steps = int(length * 4)
    kind = rng.choice(("toms", "snare", "mixed"))
    hits: list[Hit] = []
    for step in range(steps):
        position = start + step / 4
        rise = 0.6 + 0.4 * step / max(1, steps - 1)
        if kind == "snare":
            pitch = SNARE
        elif kind == "toms":
            pitch = TOMS[min(len(TOMS) - 1, step * len(TOMS) // steps)]
        else:
            pitch = SNARE if step % 2 == 0 else TOMS[min(len(TOMS) - 1, step * len(TOMS) // steps)]
        hits.append((pitch, position, rise))
    hits.append((KICK, float(start), 0.9))
    return float(start), hits


def write_drums(plan: SongPlan, rng: random.Random, groove: str) -> list[Note]:
    """Notes of the drum part (GM percussion pitches, channel 10 at render time)."""
    writer = PartWriter(plan, rng, timing_ms=3.0, velocity_spread=5)
    beats = plan.beats_per_bar
    previous_played = False
    for bar in range(plan.total_bars):
        if not plan.plays("drums", bar):
            previous_played = False
            continue
        section = plan.section_of_bar(bar)
        base = energy_velocity(section.energy, 62, 118)
        hits = _groove(groove, beats, rng, section.energy)
        if plan.is_section_end(bar) and bar < plan.total_bars - 1 and rng.random() < 0.75:
            fill_start, fill_hits = _fill(beats, rng)
            hits = [h for h in hits if h[1] < fill_start] + fill_hits
        if plan.is_section_start(bar) and (previous_played or bar == 0) and rng.random() < 0.8:
            hits = [h for h in hits if not (h[1] == 0.0 and h[0] in (CLOSED_HAT, RIDE))]
            hits.append((CRASH if rng.random() < 0.7 else CRASH_2, 0.0, 0.95))
            if not any(h[0] == KICK and h[1] == 0.0 for h in hits):
                hits.append((KICK, 0.0, 1.0))
        for pitch, position, scale in sorted(hits, key=lambda h: (h[1], h[0])):
            length = 1.5 if pitch in (CRASH, CRASH_2, OPEN_HAT) else 0.25
            writer.add(bar * beats + position, length, pitch, base * scale)
        previous_played = True
    return writer.notes
