"""The plan of one song: style, key, tempo, sections, chords and who plays when.

Musical time is measured in beats from the start of the song (a beat is a quarter
note in 4/4 and in 3/4). :meth:`SongPlan.time` maps beats to seconds, applying swing:
each beat is warped piecewise linearly so that its off-beat eighth lands
``swing`` beats late (1/6 beat = triplet shuffle).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from core.data.synth.styles import STYLE_BY_NAME, STYLES, Style
from core.data.synth.theory import (
    BLUES_PROGRESSION,
    MAJOR_PROGRESSIONS,
    MINOR_PROGRESSIONS,
    MODAL_PROGRESSIONS,
    Chord,
    Key,
    diatonic_chord,
    dominant_seventh,
)

PARTS: tuple[str, ...] = ("bass", "drums", "guitar", "piano", "lead")
"""Parts a song may have; "lead" is a melody played by a piano- or guitar-class stem."""


@dataclass(frozen=True)
class ChordSpan:
    """A chord sounding from ``start`` for ``length`` beats."""

    start: float
    length: float
    chord: Chord


@dataclass(frozen=True)
class Section:
    """Consecutive bars sharing a role (intro, verse, ...), an energy level in [0, 1] and
    the set of parts that play in them."""

    name: str
    first_bar: int
    bars: int
    energy: float
    active: frozenset[str]

    @property
    def last_bar(self) -> int:
        return self.first_bar + self.bars - 1


@dataclass(frozen=True)
class SongPlan:
    style: Style
    key: Key
    bpm: float
    seconds: float
    sections: tuple[Section, ...]
    chords: tuple[ChordSpan, ...]
    parts: frozenset[str]

    @property
    def beats_per_bar(self) -> int:
        return self.style.beats_per_bar

    @property
    def total_bars(self) -> int:
        return self.sections[-1].last_bar + 1

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.bpm

    def time(self, beat: float) -> float:
        """Seconds from the song start of a position in beats, with swing applied."""
        whole = math.floor(beat)
        fraction = beat - whole
        swing = self.style.swing
        if fraction < 0.5:
            warped = fraction * (0.5 + swing) / 0.5
        else:
            warped = 0.5 + swing + (fraction - 0.5) * (0.5 - swing) / 0.5
        return (whole + warped) * self.seconds_per_beat

    def section_of_bar(self, bar: int) -> Section:
        for section in self.sections:
            if section.first_bar <= bar <= section.last_bar:
                return section
        return self.sections[-1]

    def plays(self, part: str, bar: int) -> bool:
        return part in self.parts and part in self.section_of_bar(bar).active

    def chord_at(self, beat: float) -> Chord:
        for span in self.chords:
            if span.start <= beat < span.start + span.length:
                return span.chord
        return self.chords[-1].chord

    def chords_in_bar(self, bar: int) -> list[ChordSpan]:
        start = bar * self.beats_per_bar
        end = start + self.beats_per_bar
        return [span for span in self.chords if start <= span.start < end]

    def is_section_end(self, bar: int) -> bool:
        return any(section.last_bar == bar for section in self.sections)

    def is_section_start(self, bar: int) -> bool:
        return any(section.first_bar == bar for section in self.sections)


_SECTION_ENERGY = {
    "intro": 0.35,
    "verse": 0.55,
    "chorus": 0.85,
    "bridge": 0.6,
    "breakdown": 0.4,
    "outro": 0.5,
}


def plan_song(
    rng: random.Random,
    seconds: float,
    style_name: str | None = None,
    parts: frozenset[str] | None = None,
) -> SongPlan:
    """Draw a song of at least ``seconds`` seconds: style, key, tempo, form and harmony.

    ``style_name`` and ``parts`` (a subset of :data:`PARTS`) force those choices."""
    style = STYLE_BY_NAME[style_name] if style_name else rng.choice(STYLES)
    mode = rng.choice(style.modes)
    key = Key(rng.randrange(12), mode)
    bpm = float(rng.randint(*style.tempo))
    seconds_per_bar = style.beats_per_bar * 60.0 / bpm
    total_bars = max(1, math.ceil(seconds / seconds_per_bar))

    chosen = _choose_parts(rng)
    if parts is not None:
        unknown = set(parts) - set(PARTS)
        if unknown or not parts:
            raise ValueError(f"parts must be a non-empty subset of {PARTS}")
        chosen = frozenset(parts)
    parts = chosen
    sections = _arrange_sections(rng, total_bars, parts)
    chords = _harmonise(rng, style, key, sections)
    return SongPlan(style, key, bpm, float(seconds), tuple(sections), tuple(chords), parts)


def _choose_parts(rng: random.Random) -> frozenset[str]:
    """Each part is present with its own probability; at least two of the four classes."""
    chance = {"bass": 0.92, "drums": 0.9, "guitar": 0.8, "piano": 0.8, "lead": 0.45}
    while True:
        parts = {part for part, p in chance.items() if rng.random() < p}
        if len(parts & {"bass", "drums", "guitar", "piano"}) >= 2:
            return frozenset(parts)


def _arrange_sections(rng: random.Random, total_bars: int, parts: frozenset[str]) -> list[Section]:
    """Intro, then verse/chorus pairs with an occasional bridge or breakdown, cut to length."""
    form: list[tuple[str, int]] = []
    intro = rng.choice((0, 2, 4))
    if intro:
        form.append(("intro", intro))
    while sum(bars for _, bars in form) < total_bars:
        form.append(("verse", rng.choice((4, 8, 8))))
        form.append(("chorus", rng.choice((4, 8, 8))))
        if rng.random() < 0.4:
            form.append((rng.choice(("bridge", "breakdown")), 4))
    sections: list[Section] = []
    bar = 0
    for name, bars in form:
        if bar >= total_bars:
            break
        bars = min(bars, total_bars - bar)
        energy = min(1.0, max(0.1, _SECTION_ENERGY[name] + rng.uniform(-0.1, 0.1)))
        sections.append(Section(name, bar, bars, energy, _active_parts(rng, name, parts)))
        bar += bars
    return sections


def _active_parts(rng: random.Random, name: str, parts: frozenset[str]) -> frozenset[str]:
    """Who plays in a section: instruments drop out in intros, verses and breakdowns."""
    ordered = sorted(parts)
    if name in ("intro", "outro"):
        size = rng.randint(1, max(1, len(ordered) - 1))
        active = set(rng.sample(ordered, size))
    elif name == "breakdown":
        active = {p for p in ordered if p in ("drums", "bass")} or set(ordered[:1])
        if rng.random() < 0.5:
            active.add(rng.choice(ordered))
    else:
        active = set(ordered)
        drop_chance = {"verse": 0.45, "bridge": 0.5, "chorus": 0.12}[name]
        if len(active) > 2 and rng.random() < drop_chance:
            active.discard(rng.choice(ordered))
        if name == "verse" and "lead" in active and rng.random() < 0.5:
            active.discard("lead")
    return frozenset(active)


def _harmonise(
    rng: random.Random, style: Style, key: Key, sections: list[Section]
) -> list[ChordSpan]:
    """One progression per section kind, repeated over the section's bars."""
    if key.mode in MODAL_PROGRESSIONS:
        pool = MODAL_PROGRESSIONS[key.mode]
    elif key.mode == "major":
        pool = MAJOR_PROGRESSIONS
    else:
        pool = MINOR_PROGRESSIONS
    blues = rng.random() < style.blues_chance
    per_bar = rng.choice(style.chords_per_bar)
    sevenths = rng.random() < style.seventh_chance
    progressions: dict[str, tuple[int, ...]] = {}
    spans: list[ChordSpan] = []
    beats = style.beats_per_bar
    chord_length = beats / per_bar
    blues_position = 0
    for section in sections:
        if section.name not in progressions:
            progressions[section.name] = BLUES_PROGRESSION if blues else rng.choice(pool)
        progression = progressions[section.name]
        slots = section.bars * per_bar
        for slot in range(slots):
            start = section.first_bar * beats + slot * chord_length
            if blues:
                degree = progression[blues_position % len(progression)]
                blues_position += 1
                chord = dominant_seventh(key.degree_pitch_class(degree))
            else:
                degree = progression[slot % len(progression)]
                chord = diatonic_chord(key, degree, sevenths)
            spans.append(ChordSpan(start, chord_length, chord))
    return spans
