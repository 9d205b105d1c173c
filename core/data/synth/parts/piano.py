"""Piano parts: a left hand on the bass of the chord and a right hand of close voicings
led smoothly from chord to chord (each voicing is the inversion nearest the previous
one), played as block chords, syncopated comping, stabs, arpeggios, broken ballad
figures or the waltz oom-pah-pah.
"""

from __future__ import annotations

import random

from core.data.synth.midi import Note
from core.data.synth.parts.common import PartWriter, energy_velocity
from core.data.synth.song import ChordSpan, SongPlan
from core.data.synth.theory import close_voicing, pitch_in_range


def write_piano(plan: SongPlan, rng: random.Random, pattern: str) -> list[Note]:
    writer = PartWriter(plan, rng, timing_ms=4.0, velocity_spread=6)
    centre = rng.randint(62, 70)
    size = rng.choice((3, 4))
    comp_grid = sorted(rng.sample([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], 4))
    for span in plan.chords:
        bar = int(span.start // plan.beats_per_bar)
        if not plan.plays("piano", bar):
            continue
        energy = plan.section_of_bar(bar).energy
        velocity = energy_velocity(energy, 55, 105)
        right = close_voicing(span.chord, centre, size)
        centre = max(60, min(72, sum(right) // len(right) + rng.choice((-1, 0, 1))))
        bass = pitch_in_range(span.chord.root, 36, 47)
        _write_span(writer, plan, rng, span, pattern, right, bass, velocity, comp_grid)
    return writer.notes


def _chord(
    writer: PartWriter, beat: float, length: float, pitches: list[int], velocity: float
) -> None:
    for index, pitch in enumerate(pitches):
        writer.add(beat, length, pitch, velocity * (1.0 - 0.02 * index))


def _write_span(
    writer: PartWriter,
    plan: SongPlan,
    rng: random.Random,
    span: ChordSpan,
    pattern: str,
    right: list[int],
    bass: int,
    velocity: float,
    comp_grid: list[float],
) -> None:
    start, length = span.start, span.length
    fifth = bass + (span.chord.tones[2] - span.chord.root) % 12
    if pattern == "block":
        _chord(writer, start, length * 0.95, [bass, bass + 12], velocity * 0.9)
        step = 1.0 if velocity > 80 else 2.0
        position = 0.0
        while position < length:
            _chord(
                writer,
                start + position,
                step * 0.9,
                right,
                velocity * (1.0 if position == 0 else 0.85),
            )
            position += step
    elif pattern == "pop_comp":
        for offset in (0.0, 2.0):
            if offset < length:
                writer.add(start + offset, 1.8, bass, velocity * 0.9)
        for offset in (0.0, 1.5, 2.0, 3.5):
            if offset < length:
                _chord(
                    writer,
                    start + offset,
                    0.45 if offset % 1 else 0.9,
                    right,
                    velocity * (1.0 if offset == 0 else 0.85),
                )
    elif pattern == "arpeggio":
        left = [bass, fifth, bass + 12, fifth]
        upper = right + [right[0] + 12]
        for i in range(int(length * 2)):
            writer.add(start + i * 0.5, 0.9, left[i % len(left)], velocity * 0.75)
            writer.add(
                start + i * 0.5,
                1.2,
                upper[i % len(upper)],
                velocity * (0.9 if i % 2 == 0 else 0.75),
            )
    elif pattern == "ballad_broken":
        third = bass + 12 + (span.chord.tones[1] - span.chord.root) % 12
        left = [bass, fifth, third, fifth]
        for i in range(int(length * 2)):
            writer.add(start + i * 0.5, 1.4, left[i % len(left)], velocity * 0.7)
        _chord(writer, start, length * 0.95, right, velocity * 0.85)
    elif pattern == "stabs":
        writer.add(start, length * 0.9, bass, velocity * 0.85)
        for offset in (0.5, 1.5, 2.5, 3.5):
            if offset < length and rng.random() < 0.8:
                _chord(writer, start + offset, 0.2, right, velocity)
    elif pattern == "comp":
        writer.add(start, 0.9, bass, velocity * 0.85)
        if length > 2:
            writer.add(start + 2.0, 0.9, rng.choice((bass, fifth)), velocity * 0.75)
        rootless = [p for p in right if p % 12 != span.chord.root] or right
        for offset in comp_grid:
            if offset < length:
                _chord(
                    writer, start + offset, rng.choice((0.25, 0.4, 0.9)), rootless, velocity * 0.85
                )
    elif pattern == "oompah":
        low_fifth = fifth - 12 if fifth - 12 >= 33 else fifth
        even_bar = int(start // plan.beats_per_bar) % 2 == 0
        lowest = bass if even_bar else low_fifth  # oom on root and fifth, bar by bar
        writer.add(start, 0.9, lowest, velocity)
        for beat in range(1, int(length)):
            _chord(writer, start + beat, 0.6, right, velocity * 0.7)
    else:
        raise ValueError(f"unknown piano pattern {pattern!r}")
