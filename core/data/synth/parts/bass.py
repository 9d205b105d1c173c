"""Bass lines that follow the harmony: roots on strong beats, fifths, octaves, chromatic
approaches to the next chord, walking and boogie figures for the shuffle.

Register: E1 (28) to about C3 (48); the root of each chord is placed nearest to
``centre`` so the line moves by small intervals.
"""

from __future__ import annotations

import random

from core.data.synth.midi import Note
from core.data.synth.parts.common import PartWriter, energy_velocity
from core.data.synth.song import ChordSpan, SongPlan
from core.data.synth.theory import nearest_pitch

LOW, HIGH = 28, 50


def _root(span: ChordSpan, centre: int) -> int:
    pitch = nearest_pitch(span.chord.root, centre)
    while pitch < LOW:
        pitch += 12
    while pitch > HIGH - 7:
        pitch -= 12
    return pitch


def _interval(span: ChordSpan, tone_index: int) -> int:
    """Semitones from the chord root to one of its tones (1 = third, 2 = fifth, 3 = seventh)."""
    tones = span.chord.tones
    return (tones[tone_index % len(tones)] - tones[0]) % 12


def _approach(target: int, rng: random.Random) -> int:
    """A note a semitone or a whole tone next to ``target`` (from below or above),
    from above when below would leave the bass register."""
    pitch = target + rng.choice((-1, 1, -2))
    return pitch if pitch >= LOW else target + 1


def write_bass(plan: SongPlan, rng: random.Random, pattern: str) -> list[Note]:
    writer = PartWriter(plan, rng, timing_ms=3.0, velocity_spread=6)
    centre = rng.randint(33, 40)
    spans = list(plan.chords)
    for index, span in enumerate(spans):
        bar = int(span.start // plan.beats_per_bar)
        if not plan.plays("bass", bar):
            continue
        energy = plan.section_of_bar(bar).energy
        velocity = energy_velocity(energy, 70, 115)
        root = _root(span, centre)
        fifth = root + _interval(span, 2)
        third = root + _interval(span, 1)
        next_root = _root(spans[index + 1], centre) if index + 1 < len(spans) else root
        start, length = span.start, span.length
        steps: list[tuple[float, float, int, float]] = []  # (offset, length, pitch, velocity scale)
        if pattern == "whole":
            steps = [(0.0, length * 0.95, root, 1.0)]
        elif pattern == "half":
            half = length / 2
            steps = [
                (0.0, half * 0.95, root, 1.0),
                (half, half * 0.9, rng.choice((root, fifth)), 0.85),
            ]
        elif pattern == "eighths":
            count = int(length * 2)
            for i in range(count):
                pitch = root
                if i == count - 1 and next_root != root and rng.random() < 0.4:
                    pitch = _approach(next_root, rng)
                steps.append((i * 0.5, 0.42, pitch, 1.0 if i % 2 == 0 else 0.8))
        elif pattern == "octaves":
            count = int(length * 2)
            steps = [
                (i * 0.5, 0.4, root + (12 if i % 2 else 0), 1.0 if i % 2 == 0 else 0.85)
                for i in range(count)
            ]
        elif pattern == "root_fifth":
            for beat in range(int(length)):
                pitch = root if beat % 2 == 0 else fifth - (12 if fifth - 12 >= LOW else 0)
                steps.append((float(beat), 0.9, pitch, 1.0 if beat % 2 == 0 else 0.85))
            if length >= 4 and rng.random() < 0.5:
                steps[-1] = (length - 1, 0.45, steps[-1][2], 0.85)
                steps.append((length - 0.5, 0.45, _approach(next_root, rng), 0.8))
        elif pattern == "syncopated":
            grid = [0.0, 0.75, 1.5, 2.5, 3.0, 3.5]
            for offset in grid:
                if offset >= length or (offset > 0 and rng.random() < 0.25):
                    continue
                pitch = root if offset in (0.0, 2.5, 3.0) else rng.choice((root, fifth, root + 12))
                steps.append((offset, 0.4, pitch, 1.0 if offset == 0.0 else 0.8))
        elif pattern == "funk":
            for sixteenth in range(int(length * 4)):
                offset = sixteenth / 4
                if sixteenth == 0:
                    steps.append((0.0, 0.3, root, 1.05))
                elif rng.random() < 0.4:
                    choice = rng.random()
                    if choice < 0.35:
                        pitch = root + 12
                    elif choice < 0.55:
                        pitch = root + _interval(span, 3) if len(span.chord.tones) > 3 else fifth
                    elif choice < 0.7:
                        pitch = fifth
                    else:
                        pitch = root
                    ghost = rng.random() < 0.3
                    steps.append((offset, 0.15 if ghost else 0.22, pitch, 0.45 if ghost else 0.85))
        elif pattern == "walking":
            line = [root, rng.choice((third, root + 2)), fifth, _approach(next_root, rng)]
            steps = [
                (float(b), 0.9, line[b % 4], 1.0 if b % 2 == 0 else 0.85)
                for b in range(int(length))
            ]
        elif pattern == "boogie":
            sixth = root + 9
            seventh = root + 10
            figure = [
                root,
                root + 4 if third - root == 4 else third,
                fifth,
                sixth,
                seventh,
                sixth,
                fifth,
                third,
            ]
            count = int(length * 2)
            steps = [
                (i * 0.5, 0.42, figure[i % len(figure)], 1.0 if i % 2 == 0 else 0.8)
                for i in range(count)
            ]
        elif pattern == "waltz":
            low_fifth = fifth - 12 if fifth - 12 >= LOW else fifth
            even_bar = int(span.start // plan.beats_per_bar) % 2 == 0
            pitch = root if even_bar else low_fifth  # root and fifth alternate bar by bar
            steps = [(0.0, min(length, 3.0) * 0.9, pitch, 1.0)]
            if rng.random() < 0.3:
                steps = [(0.0, 1.8, pitch, 1.0), (2.0, 0.9, rng.choice((third, fifth)), 0.8)]
        else:
            raise ValueError(f"unknown bass pattern {pattern!r}")
        for offset, note_length, pitch, scale in steps:
            writer.add(start + offset, note_length, max(LOW - 4, pitch), velocity * scale)
        centre = max(31, min(43, (centre * 3 + root) // 4))
    return writer.notes
