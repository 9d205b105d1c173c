"""Music theory for the composer: keys, modes, diatonic chords and progressions.

Pitches are MIDI note numbers (60 = middle C); pitch classes are 0-11 (0 = C).
Chords are built by stacking thirds inside the scale of the key, so their quality
(major, minor, diminished, seventh types) follows from the mode by itself: degree 4
(V) of harmonic minor is major, of natural minor is minor, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass

NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
}
"""Semitone offsets of the seven scale degrees above the tonic."""


# Progressions as 0-based scale degrees (0 = I), one entry per chord slot. Grouped by
# the family of modes whose tonic chord they suit.
MAJOR_PROGRESSIONS: tuple[tuple[int, ...], ...] = (
    (0, 4, 5, 3),  # I V vi IV
    (0, 5, 3, 4),  # I vi IV V
    (5, 3, 0, 4),  # vi IV I V
    (0, 3, 4, 3),  # I IV V IV
    (1, 4, 0, 0),  # ii V I I
    (0, 2, 3, 4),  # I iii IV V
    (0, 3, 0, 4),  # I IV I V
    (3, 0, 4, 5),  # IV I V vi
    (0, 0, 3, 4),  # I I IV V
    (0, 5, 1, 4),  # I vi ii V
)
MINOR_PROGRESSIONS: tuple[tuple[int, ...], ...] = (
    (0, 5, 2, 6),  # i VI III VII
    (0, 3, 4, 0),  # i iv v i
    (0, 6, 5, 6),  # i VII VI VII
    (0, 3, 6, 2),  # i iv VII III
    (0, 5, 3, 4),  # i VI iv v
    (0, 0, 5, 6),  # i i VI VII
    (5, 6, 0, 0),  # VI VII i i
)
MODAL_PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "dorian": ((0, 3, 0, 3), (0, 1, 3, 0), (0, 6, 3, 0)),  # i IV, i ii IV, i VII IV
    "mixolydian": ((0, 6, 3, 0), (0, 3, 6, 0), (0, 0, 6, 3)),  # I bVII IV
    "harmonic minor": ((0, 3, 4, 0), (0, 5, 3, 4), (0, 3, 0, 4)),  # i iv V (major V)
}
BLUES_PROGRESSION = (0, 0, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4)
"""Twelve-bar blues: I I I I IV IV I I V IV I V (one chord per bar)."""


@dataclass(frozen=True)
class Key:
    """A tonic pitch class and a mode name from :data:`MODES`."""

    tonic: int
    mode: str

    @property
    def scale(self) -> tuple[int, ...]:
        return MODES[self.mode]

    @property
    def name(self) -> str:
        return f"{NOTE_NAMES[self.tonic % 12]} {self.mode}"

    def degree_pitch_class(self, degree: int) -> int:
        """Pitch class of a scale degree; degrees wrap around the octave."""
        return (self.tonic + self.scale[degree % 7]) % 12

    def scale_pitches(self, low: int, high: int) -> list[int]:
        """Every MIDI pitch of the scale in [low, high], ascending."""
        classes = {self.degree_pitch_class(d) for d in range(7)}
        return [p for p in range(low, high + 1) if p % 12 in classes]


@dataclass(frozen=True)
class Chord:
    """A chord as pitch classes: ``tones[0]`` is the root, then third, fifth (and seventh)."""

    root: int
    tones: tuple[int, ...]
    symbol: str

    @property
    def third(self) -> int:
        return self.tones[1]

    @property
    def fifth(self) -> int:
        return self.tones[2]

    def contains(self, pitch: int) -> bool:
        return pitch % 12 in self.tones


def diatonic_chord(key: Key, degree: int, seventh: bool = False) -> Chord:
    """The chord on ``degree`` made by stacking scale thirds (degree, +2, +4, [+6])."""
    steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
    tones = tuple(key.degree_pitch_class(degree + step) for step in steps)
    return Chord(tones[0], tones, _symbol(tones, degree))


def dominant_seventh(root: int) -> Chord:
    """The dominant seventh chord (root, major third, fifth, minor seventh) of the blues."""
    tones = tuple((root + step) % 12 for step in (0, 4, 7, 10))
    return Chord(tones[0], tones, NOTE_NAMES[tones[0]] + "7")


def _symbol(tones: tuple[int, ...], degree: int) -> str:
    root = tones[0]
    third = (tones[1] - root) % 12
    fifth = (tones[2] - root) % 12
    quality = {(4, 7): "", (3, 7): "m", (3, 6): "dim", (4, 8): "aug"}.get((third, fifth), "?")
    name = NOTE_NAMES[root] + quality
    if len(tones) == 4:
        seventh = (tones[3] - root) % 12
        name += {11: "maj7", 10: "7", 9: "6"}.get(seventh, "7")
    return name


def nearest_pitch(pitch_class: int, target: int) -> int:
    """The MIDI pitch of ``pitch_class`` closest to ``target`` (ties go down)."""
    below = target - ((target - pitch_class) % 12)
    above = below + 12
    return below if target - below <= above - target else above


def pitch_in_range(pitch_class: int, low: int, high: int) -> int:
    """The lowest MIDI pitch of ``pitch_class`` at or above ``low`` (folded below ``high``)."""
    pitch = low + ((pitch_class - low) % 12)
    while pitch > high:
        pitch -= 12
    return pitch


def close_voicing(chord: Chord, around: int, size: int = 4) -> list[int]:
    """``size`` chord tones stacked upwards from the tone nearest ``around`` (an inversion
    chosen for smooth voice leading when ``around`` is the previous voicing's centre)."""
    tones = list(chord.tones)
    start = min(tones, key=lambda pc: abs(nearest_pitch(pc, around - 4) - (around - 4)))
    order = tones[tones.index(start) :] + tones[: tones.index(start)]
    pitches = [nearest_pitch(order[0], around - 4)]
    index = 1
    while len(pitches) < size:
        pitch_class = order[index % len(order)]
        pitch = pitches[-1] + ((pitch_class - pitches[-1]) % 12 or 12)
        pitches.append(pitch)
        index += 1
    return pitches
