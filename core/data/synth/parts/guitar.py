"""Guitar parts: strummed barre chords (strings sounding a few ms apart, down- and
up-strokes), fingerpicked arpeggios, power chords (palm-muted eighths or ringing),
funk chops on sixteenths, shuffle boogie figures and the waltz bass-strum-strum.

A barre voicing stacks root, fifth, octave, tenth and twelfth above a root between
E2 (40) and D#3 (51), as on a guitar neck; seventh chords put the seventh in place of
the octave.
"""

from __future__ import annotations

import random

from core.data.synth.midi import Note
from core.data.synth.parts.common import PartWriter, energy_velocity
from core.data.synth.song import ChordSpan, SongPlan
from core.data.synth.theory import Chord, close_voicing, pitch_in_range

STRUM_PATTERNS_4 = (
    "D.DU.UDU",
    "D.D.D.D.",
    "D..D..D.",
    "D.DUDUDU",
    "D...D.DU",
)
"""Eighth-note strum patterns for a 4/4 bar: D = downstroke, U = upstroke, . = rest."""
STRUM_PATTERNS_3 = ("D.DUDU", "D.D.D.", "D..UDU")


def barre_voicing(chord: Chord) -> list[int]:
    root = pitch_in_range(chord.root, 40, 51)
    third = (chord.tones[1] - chord.root) % 12
    fifth = (chord.tones[2] - chord.root) % 12
    octave_or_seventh = 12
    if len(chord.tones) > 3:
        octave_or_seventh = (chord.tones[3] - chord.root) % 12
    return [root, root + fifth, root + octave_or_seventh, root + 12 + third, root + 12 + fifth]


def _strum(
    writer: PartWriter,
    beat: float,
    length: float,
    voicing: list[int],
    velocity: float,
    down: bool,
    spread: float,
) -> None:
    strings = voicing if down else list(reversed(voicing[-4:]))
    for index, pitch in enumerate(strings):
        scale = 1.0 if down else 0.8
        writer.add(
            beat, length, pitch, velocity * scale * (1.0 - 0.03 * index), delay=index * spread
        )


def write_guitar(plan: SongPlan, rng: random.Random, pattern: str) -> list[Note]:
    writer = PartWriter(plan, rng, timing_ms=5.0, velocity_spread=7)
    beats = plan.beats_per_bar
    strums = STRUM_PATTERNS_4 if beats == 4 else STRUM_PATTERNS_3
    strum_pattern = rng.choice(strums)
    spread = rng.uniform(0.006, 0.014)
    arpeggio_order = rng.choice(((0, 2, 3, 4, 3, 2), (0, 1, 2, 3, 4, 3, 2, 1), (0, 2, 1, 3, 2, 4)))
    chop_mask = [rng.random() < 0.55 for _ in range(16)]
    chop_mask[0] = False
    for span in plan.chords:
        bar = int(span.start // beats)
        if not plan.plays("guitar", bar):
            continue
        energy = plan.section_of_bar(bar).energy
        velocity = energy_velocity(energy, 62, 112)
        _write_span(
            writer,
            plan,
            rng,
            span,
            pattern,
            velocity,
            energy,
            strum_pattern,
            spread,
            arpeggio_order,
            chop_mask,
        )
    return writer.notes


def _write_span(
    writer: PartWriter,
    plan: SongPlan,
    rng: random.Random,
    span: ChordSpan,
    pattern: str,
    velocity: float,
    energy: float,
    strum_pattern: str,
    spread: float,
    arpeggio_order: tuple[int, ...],
    chop_mask: list[bool],
) -> None:
    start, length = span.start, span.length
    voicing = barre_voicing(span.chord)
    bar_start = (start // plan.beats_per_bar) * plan.beats_per_bar
    if pattern == "strum":
        for slot, symbol in enumerate(strum_pattern):
            position = bar_start + slot * 0.5
            if symbol == "." or not start <= position < start + length:
                continue
            _strum(writer, position, 0.45, voicing, velocity, symbol == "D", spread)
    elif pattern == "arpeggio":
        for i in range(int(length * 2)):
            pitch = voicing[arpeggio_order[i % len(arpeggio_order)]]
            writer.add(start + i * 0.5, 1.5, pitch, velocity * (0.9 if i % 2 == 0 else 0.75))
    elif pattern == "power":
        root = voicing[0]
        chord = [root, root + 7, root + 12]
        if energy > 0.7 and rng.random() < 0.5:
            for offset in (0.0, length / 2) if length >= 2 else (0.0,):
                for index, pitch in enumerate(chord):
                    writer.add(
                        start + offset,
                        min(length, 2.0) * 0.95,
                        pitch,
                        velocity,
                        delay=index * 0.004,
                    )
        else:
            for i in range(int(length * 2)):
                accent = 1.0 if i % 2 == 0 else 0.8
                for index, pitch in enumerate(chord[:2]):
                    writer.add(start + i * 0.5, 0.28, pitch, velocity * accent, delay=index * 0.003)
    elif pattern == "chop":
        upper = close_voicing(span.chord, rng.choice((64, 67, 69)), 3)
        for sixteenth in range(int(length * 4)):
            position = start + sixteenth / 4
            if chop_mask[int(round((position - bar_start) * 4)) % 16]:
                ghost = rng.random() < 0.25
                for index, pitch in enumerate(upper):
                    writer.add(
                        position,
                        0.08 if ghost else 0.14,
                        pitch,
                        velocity * (0.45 if ghost else 0.9),
                        delay=index * 0.003,
                    )
    elif pattern == "boogie":
        root = voicing[0]
        for i in range(int(length * 2)):
            top = root + (7 if (i // 2) % 2 == 0 else 9)
            for index, pitch in enumerate((root, top)):
                writer.add(
                    start + i * 0.5,
                    0.4,
                    pitch,
                    velocity * (1.0 if i % 2 == 0 else 0.8),
                    delay=index * 0.004,
                )
    elif pattern == "waltz_strum":
        writer.add(start, 0.9, voicing[0], velocity)
        for beat in range(1, int(length)):
            _strum(writer, start + beat, 0.8, voicing[1:], velocity * 0.8, True, spread)
    else:
        raise ValueError(f"unknown guitar pattern {pattern!r}")
