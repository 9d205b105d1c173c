"""Note writers of the non-target parts (everything a song holds besides bass, drums,
guitar and piano): held pads, brass-style stabs, melodic lines, arpeggios, long texture
notes, and the vocal lines (lead melody, harmony a third above, held "oohs").

Each writer plays only in the bars ``active`` says (a set of bar indices chosen by
:mod:`core.data.synth.others` from the song's sections).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Collection

from core.data.synth.midi import Note
from core.data.synth.parts.common import PartWriter, energy_velocity
from core.data.synth.parts.melody import write_melody
from core.data.synth.song import SongPlan
from core.data.synth.theory import close_voicing


def _bar_of(plan: SongPlan, beat: float) -> int:
    return int(beat // plan.beats_per_bar)


def write_pad(plan: SongPlan, rng: random.Random, active: Collection[int],
              centre: int, size: int = 3) -> list[Note]:
    """A held chord per chord span: close voicings around ``centre`` led smoothly."""
    writer = PartWriter(plan, rng, timing_ms=8.0, velocity_spread=5)
    for span in plan.chords:
        bar = _bar_of(plan, span.start)
        if bar not in active:
            continue
        velocity = energy_velocity(plan.section_of_bar(bar).energy, 55, 95)
        voicing = close_voicing(span.chord, centre, size)
        centre = sum(voicing) // len(voicing)
        for pitch in voicing:
            writer.add(span.start, span.length * 0.98, pitch, velocity)
    return writer.notes


def write_stabs(plan: SongPlan, rng: random.Random, active: Collection[int],
                centre: int) -> list[Note]:
    """Short chords on a syncopated grid repeated every bar (horn-section style)."""
    writer = PartWriter(plan, rng, timing_ms=5.0, velocity_spread=8)
    beats = plan.beats_per_bar
    grid = sorted(rng.sample([x * 0.5 for x in range(beats * 2)], rng.randint(2, 4)))
    length = rng.choice((0.25, 0.4, 0.5))
    for bar in sorted(active):
        velocity = energy_velocity(plan.section_of_bar(bar).energy, 70, 115)
        for onset in grid:
            beat = bar * beats + onset
            voicing = close_voicing(plan.chord_at(beat), centre, 3)
            for pitch in voicing:
                writer.add(beat, length, pitch, velocity)
    return writer.notes


def write_line(plan: SongPlan, rng: random.Random, active: Collection[int],
               low: int, high: int) -> list[Note]:
    """A melodic line in ``[low, high]`` (the lead-melody writer on the active bars)."""
    return write_melody(_only_in(plan, active), rng, low, high)


def write_arpeggio(plan: SongPlan, rng: random.Random, active: Collection[int],
                   centre: int) -> list[Note]:
    """Chord tones up and down in eighths or sixteenths."""
    writer = PartWriter(plan, rng, timing_ms=4.0, velocity_spread=10)
    step = rng.choice((0.5, 0.5, 0.25))
    length = step * rng.choice((0.9, 2.0))
    for span in plan.chords:
        bar = _bar_of(plan, span.start)
        if bar not in active:
            continue
        voicing = close_voicing(span.chord, centre, 4)
        tones = voicing + [p + 12 for p in voicing[:2]]
        order = tones + tones[-2:0:-1]
        velocity = energy_velocity(plan.section_of_bar(bar).energy, 55, 100)
        position, index = 0.0, 0
        while position < span.length - 1e-9:
            writer.add(span.start + position, length, order[index % len(order)], velocity)
            position += step
            index += 1
    return writer.notes


def write_texture(plan: SongPlan, rng: random.Random, active: Collection[int],
                  centre: int) -> list[Note]:
    """One long note per run of consecutive active bars (effects, swells, drones)."""
    writer = PartWriter(plan, rng, timing_ms=0.0, velocity_spread=10)
    beats = plan.beats_per_bar
    bars = sorted(active)
    runs: list[list[int]] = []
    for bar in bars:
        if runs and bar == runs[-1][-1] + 1:
            runs[-1].append(bar)
        else:
            runs.append([bar])
    for run in runs:
        pitch = centre + rng.choice((-12, -5, 0, 0, 7))
        writer.add(run[0] * beats, len(run) * beats, pitch, rng.randint(60, 100))
    return writer.notes


def write_vocal(plan: SongPlan, rng: random.Random, active: Collection[int],
                low: int, high: int) -> list[Note]:
    """A sung melody: the lead-melody writer with longer notes kept whole (singers
    breathe between phrases, which the writer's rests and phrase ends give)."""
    notes = write_melody(_only_in(plan, active), rng, low, high)
    return [n for n in notes if n.duration >= 0.09]


def harmony_of(plan: SongPlan, notes: list[Note], above: bool = True) -> list[Note]:
    """The diatonic third above (or below) each note of a vocal line."""
    scale = plan.key.scale_pitches(0, 127)
    out: list[Note] = []
    for note in notes:
        nearest = min(range(len(scale)), key=lambda i: abs(scale[i] - note.pitch))
        index = nearest + (2 if above else -2)
        if 0 <= index < len(scale):
            out.append(dataclasses.replace(note, pitch=scale[index],
                                           velocity=max(1, note.velocity - 8)))
    return out


def write_oohs(plan: SongPlan, rng: random.Random, active: Collection[int],
               centre: int) -> list[Note]:
    """Held chord tones for one backing singer: the top voice of a close voicing."""
    writer = PartWriter(plan, rng, timing_ms=10.0, velocity_spread=5)
    for span in plan.chords:
        bar = _bar_of(plan, span.start)
        if bar not in active:
            continue
        voicing = close_voicing(span.chord, centre, 3)
        centre = voicing[-1]
        writer.add(span.start, span.length * 0.95, voicing[-1], 80)
    return writer.notes


def _only_in(plan: SongPlan, active: Collection[int]) -> SongPlan:
    """``plan`` with a "lead" part playing exactly in the ``active`` bars (so the
    melody writer, which follows "lead", writes there)."""
    active = set(active)
    sections = []
    for section in plan.sections:
        bars = range(section.first_bar, section.last_bar + 1)
        plays = any(bar in active for bar in bars)
        sections.append(dataclasses.replace(section, active=frozenset({"lead"}) if plays else frozenset()))
    return dataclasses.replace(plan, sections=tuple(sections), parts=frozenset({"lead"}))
