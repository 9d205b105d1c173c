"""General MIDI names of the programs and drum kits the generator uses (Slakh's
``midi_program_name`` field)."""

from __future__ import annotations

PROGRAM_NAMES: dict[int, str] = {
    0: "Acoustic Grand Piano",
    1: "Bright Acoustic Piano",
    2: "Electric Grand Piano",
    3: "Honky-tonk Piano",
    4: "Electric Piano 1",
    5: "Electric Piano 2",
    6: "Harpsichord",
    7: "Clavinet",
    24: "Acoustic Guitar (nylon)",
    25: "Acoustic Guitar (steel)",
    26: "Electric Guitar (jazz)",
    27: "Electric Guitar (clean)",
    28: "Electric Guitar (muted)",
    29: "Overdriven Guitar",
    30: "Distortion Guitar",
    31: "Guitar Harmonics",
    32: "Acoustic Bass",
    33: "Electric Bass (finger)",
    34: "Electric Bass (pick)",
    35: "Fretless Bass",
    36: "Slap Bass 1",
    37: "Slap Bass 2",
    38: "Synth Bass 1",
    39: "Synth Bass 2",
}

DRUM_KIT_NAMES: dict[int, str] = {
    0: "Standard Kit",
    8: "Room Kit",
    16: "Power Kit",
    24: "Electronic Kit",
    25: "TR-808 Kit",
    32: "Jazz Kit",
    40: "Brush Kit",
}

DRUM_BANK = 128
"""SoundFont bank of the percussion presets."""

PROGRAM_RANGES: dict[str, range] = {
    "piano": range(0, 8),
    "guitar": range(24, 32),
    "bass": range(32, 40),
}
"""GM program ranges of the pitched instrument classes."""


def program_name(program: int, is_drum: bool) -> str:
    if is_drum:
        return DRUM_KIT_NAMES.get(program, f"Drum Kit {program}")
    return PROGRAM_NAMES.get(program, f"Program {program}")


NON_TARGET_PROGRAMS: tuple[int, ...] = tuple(range(8, 24)) + tuple(range(40, 128))
"""Every GM program outside the piano, guitar and bass ranges (played by non-target parts)."""

GENERATOR_PRESETS: list[tuple[int, int]] = [
    (0, program) for programs in PROGRAM_RANGES.values() for program in programs
] + [(0, program) for program in NON_TARGET_PROGRAMS] + [(DRUM_BANK, kit) for kit in DRUM_KIT_NAMES]
"""Every (bank, program) the generator may select; a usable soundfont has them all."""
