"""The musical styles the composer draws from: meter, tempo, harmony and the patterns and
General MIDI programs each instrument prefers in that style.

Program numbers are 0-based GM programs: piano 0-7, guitar 24-31, bass 32-39; drum
kits are presets of bank 128 (0 Standard, 8 Room, 16 Power, 24 Electronic, 25 TR-808,
32 Jazz, 40 Brush), present in both Debian soundfonts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    """Everything style-specific the composer and the part writers look up."""

    name: str
    beats_per_bar: int
    tempo: tuple[int, int]
    swing: float
    """Delay of the off-beat eighth as a fraction of a beat (1/6 = triplet shuffle)."""
    modes: tuple[str, ...]
    chords_per_bar: tuple[int, ...]
    seventh_chance: float
    blues_chance: float
    grooves: tuple[str, ...]
    bass_patterns: tuple[str, ...]
    guitar_patterns: tuple[str, ...]
    piano_patterns: tuple[str, ...]
    bass_programs: tuple[int, ...]
    guitar_programs: tuple[int, ...]
    piano_programs: tuple[int, ...]
    drum_kits: tuple[int, ...]


STYLES: tuple[Style, ...] = (
    Style(
        name="pop",
        beats_per_bar=4,
        tempo=(88, 126),
        swing=0.0,
        modes=("major", "major", "minor"),
        chords_per_bar=(1, 1, 2),
        seventh_chance=0.2,
        blues_chance=0.0,
        grooves=("pop", "pop", "four_on_floor"),
        bass_patterns=("eighths", "root_fifth", "syncopated"),
        guitar_patterns=("strum", "strum", "arpeggio"),
        piano_patterns=("block", "pop_comp", "arpeggio"),
        bass_programs=(33, 34, 37, 38),
        guitar_programs=(24, 25, 27, 28),
        piano_programs=(0, 1, 2, 4, 5),
        drum_kits=(0, 8, 24),
    ),
    Style(
        name="rock",
        beats_per_bar=4,
        tempo=(100, 156),
        swing=0.0,
        modes=("major", "minor", "mixolydian"),
        chords_per_bar=(1, 1, 2),
        seventh_chance=0.05,
        blues_chance=0.0,
        grooves=("rock", "rock", "half_time"),
        bass_patterns=("eighths", "eighths", "octaves"),
        guitar_patterns=("power", "power", "strum"),
        piano_patterns=("block", "stabs"),
        bass_programs=(33, 34, 34),
        guitar_programs=(29, 30, 30, 27, 25),
        piano_programs=(0, 1, 3),
        drum_kits=(0, 8, 16),
    ),
    Style(
        name="funk",
        beats_per_bar=4,
        tempo=(90, 118),
        swing=0.0,
        modes=("dorian", "mixolydian", "minor"),
        chords_per_bar=(1, 1, 2),
        seventh_chance=0.8,
        blues_chance=0.0,
        grooves=("funk",),
        bass_patterns=("funk", "funk", "syncopated"),
        guitar_patterns=("chop", "chop", "strum"),
        piano_patterns=("comp", "stabs"),
        bass_programs=(36, 37, 33, 38, 39),
        guitar_programs=(27, 28, 26),
        piano_programs=(4, 5, 7, 2),
        drum_kits=(0, 24, 25),
    ),
    Style(
        name="ballad",
        beats_per_bar=4,
        tempo=(60, 82),
        swing=0.0,
        modes=("major", "minor"),
        chords_per_bar=(1, 1, 2),
        seventh_chance=0.35,
        blues_chance=0.0,
        grooves=("ballad",),
        bass_patterns=("whole", "half"),
        guitar_patterns=("arpeggio", "arpeggio", "strum"),
        piano_patterns=("arpeggio", "block", "ballad_broken"),
        bass_programs=(32, 33, 35),
        guitar_programs=(24, 25, 26),
        piano_programs=(0, 1, 4),
        drum_kits=(0, 32, 40),
    ),
    Style(
        name="waltz",
        beats_per_bar=3,
        tempo=(84, 150),
        swing=0.0,
        modes=("major", "minor", "harmonic minor"),
        chords_per_bar=(1,),
        seventh_chance=0.15,
        blues_chance=0.0,
        grooves=("waltz",),
        bass_patterns=("waltz",),
        guitar_patterns=("waltz_strum", "arpeggio"),
        piano_patterns=("oompah", "arpeggio"),
        bass_programs=(32, 33, 35),
        guitar_programs=(24, 25, 26),
        piano_programs=(0, 1, 6),
        drum_kits=(0, 32, 40),
    ),
    Style(
        name="shuffle",
        beats_per_bar=4,
        tempo=(88, 140),
        swing=1.0 / 6.0,
        modes=("mixolydian", "major", "dorian"),
        chords_per_bar=(1,),
        seventh_chance=0.9,
        blues_chance=0.7,
        grooves=("shuffle",),
        bass_patterns=("walking", "boogie"),
        guitar_patterns=("boogie", "strum", "chop"),
        piano_patterns=("comp", "block"),
        bass_programs=(32, 33, 34),
        guitar_programs=(26, 27, 29),
        piano_programs=(0, 1, 3, 4),
        drum_kits=(0, 8, 32),
    ),
)

STYLE_BY_NAME = {style.name: style for style in STYLES}
