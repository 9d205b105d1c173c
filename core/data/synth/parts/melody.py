"""A lead melody: phrases of two bars whose rhythm repeats (A A' form), chord tones on
strong beats, stepwise scale motion in between, a longer note at each phrase end.
"""

from __future__ import annotations

import random

from core.data.synth.midi import Note
from core.data.synth.parts.common import PartWriter, energy_velocity
from core.data.synth.song import SongPlan

RHYTHM_CELLS: tuple[tuple[float, ...], ...] = (
    (1.0,),
    (0.5, 0.5),
    (1.5, 0.5),
    (0.5, 1.0, 0.5),
    (0.25, 0.25, 0.5),
    (2.0,),
    (0.75, 0.25),
)
"""Note lengths in beats; cells are concatenated until a bar is full."""


def _bar_rhythm(rng: random.Random, beats: int) -> list[tuple[float, float]]:
    """(onset, length) pairs filling one bar; some onsets become rests (length < 0)."""
    onsets: list[tuple[float, float]] = []
    position = 0.0
    while position < beats - 1e-9:
        cell = rng.choice(RHYTHM_CELLS)
        for length in cell:
            if position >= beats - 1e-9:
                break
            length = min(length, beats - position)
            rest = rng.random() < 0.12
            onsets.append((position, -length if rest else length))
            position += length
    return onsets


def write_melody(plan: SongPlan, rng: random.Random, low: int, high: int) -> list[Note]:
    """Notes of the lead part in the pitch range [low, high]."""
    writer = PartWriter(plan, rng, timing_ms=6.0, velocity_spread=8)
    beats = plan.beats_per_bar
    scale = plan.key.scale_pitches(low, high)
    pitch = scale[len(scale) // 2]
    motif: list[list[tuple[float, float]]] = []
    for bar in range(plan.total_bars):
        phrase_bar = bar % 4
        if phrase_bar == 0 or not motif:
            motif = [_bar_rhythm(rng, beats), _bar_rhythm(rng, beats)]
        rhythm = motif[phrase_bar % 2]
        if phrase_bar == 3:  # phrase end: hold the first note of the last bar
            rhythm = [(0.0, float(beats) * rng.choice((0.5, 1.0)))]
        if not plan.plays("lead", bar):
            continue
        velocity = energy_velocity(plan.section_of_bar(bar).energy, 70, 110)
        for onset, length in rhythm:
            if length < 0:
                continue
            beat = bar * beats + onset
            chord = plan.chord_at(beat)
            strong = onset == int(onset) and int(onset) % 2 == 0
            if strong:
                candidates = [p for p in scale if chord.contains(p) and abs(p - pitch) <= 7]
                pitch = rng.choice(candidates) if candidates else pitch
            else:
                index = min(range(len(scale)), key=lambda i: abs(scale[i] - pitch))
                step = rng.choice((-2, -1, -1, 1, 1, 2))
                if index + step < 0 or index + step >= len(scale):
                    step = -step
                pitch = scale[max(0, min(len(scale) - 1, index + step))]
            writer.add(beat, length * 0.92, pitch, velocity * (1.0 if strong else 0.85))
    return writer.notes
