"""From a seed to a complete song: the plan, one note list per stem, and the sound of
each stem (program, soundfont, gain, EQ tilt, drive, reverb) and of the room.

Everything is drawn from one ``random.Random(seed)``, so a seed fixes the song.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.data.synth.gm import PROGRAM_RANGES
from core.data.synth.midi import Note
from core.data.synth.parts.bass import write_bass
from core.data.synth.parts.drums import write_drums
from core.data.synth.parts.guitar import write_guitar
from core.data.synth.parts.melody import write_melody
from core.data.synth.parts.piano import write_piano
from core.data.synth.song import SongPlan, plan_song

INST_CLASS = {"bass": "Bass", "drums": "Drums", "guitar": "Guitar", "piano": "Piano"}
"""Slakh ``inst_class`` of each of our instrument labels."""


@dataclass(frozen=True)
class StemSound:
    """How one stem is rendered and processed.

    ``gain_db`` per-stem level; ``tilt_db`` EQ tilt (positive = brighter: the band
    above about 1 kHz is raised by ``tilt_db`` relative to the band below);
    ``drive`` tanh saturation amount (0 = clean); ``reverb`` wet level of the reverb
    return added to the dry signal; ``pan`` MIDI pan 0-127 (used in stereo renders).
    """

    program: int
    font: Path
    gain_db: float
    tilt_db: float
    drive: float
    reverb: float
    pan: int


@dataclass(frozen=True)
class Stem:
    instrument: str
    """One of core.instruments.INSTRUMENTS."""
    part: str
    pattern: str
    sound: StemSound
    notes: tuple[Note, ...]

    @property
    def is_drum(self) -> bool:
        return self.instrument == "drums"


@dataclass(frozen=True)
class Song:
    seed: int
    plan: SongPlan
    stems: tuple[Stem, ...]
    reverb_room: float
    reverb_damp: float
    peak_db: float
    """Peak level of the mixture after normalisation, in dBFS."""

    @property
    def seconds(self) -> float:
        return self.plan.seconds


def compose_song(
    seed: int,
    seconds: float,
    fonts: Sequence[Path],
    style: str | None = None,
    parts: frozenset[str] | None = None,
) -> Song:
    """Compose a song of ``seconds`` seconds from ``seed``, choosing soundfonts from ``fonts``
    (``style`` and ``parts`` force the style and the set of parts, see :func:`plan_song`)."""
    if not fonts:
        raise ValueError("at least one soundfont is needed")
    rng = random.Random(seed)
    plan = plan_song(rng, seconds, style, parts)
    style_def = plan.style
    stems: list[Stem] = []

    def sound(
        instrument: str,
        preferred: Sequence[int],
        gain_range: tuple[float, float],
        drive_chance: float = 0.0,
        pan_range: tuple[int, int] = (52, 76),
    ) -> StemSound:
        if instrument == "drums":
            program = rng.choice(preferred)
        elif rng.random() < 0.75:
            program = rng.choice(preferred)
        else:
            program = rng.choice(PROGRAM_RANGES[instrument])
        drive = rng.uniform(0.5, 2.5) if rng.random() < drive_chance else 0.0
        return StemSound(
            program=program,
            font=Path(rng.choice(list(fonts))),
            gain_db=rng.uniform(*gain_range),
            tilt_db=rng.uniform(-4.0, 4.0),
            drive=drive,
            reverb=rng.uniform(0.0, 0.35) if instrument != "bass" else rng.uniform(0.0, 0.08),
            pan=rng.randint(*pan_range),
        )

    if "bass" in plan.parts:
        pattern = rng.choice(style_def.bass_patterns)
        stems.append(
            Stem(
                "bass",
                "bass",
                pattern,
                sound("bass", style_def.bass_programs, (-4.0, 1.0), 0.15, (60, 68)),
                tuple(write_bass(plan, rng, pattern)),
            )
        )
    if "drums" in plan.parts:
        groove = rng.choice(style_def.grooves)
        stems.append(
            Stem(
                "drums",
                "drums",
                groove,
                sound("drums", style_def.drum_kits, (-3.0, 1.0), 0.0, (60, 68)),
                tuple(write_drums(plan, rng, groove)),
            )
        )
    if "guitar" in plan.parts:
        pattern = rng.choice(style_def.guitar_patterns)
        stems.append(
            Stem(
                "guitar",
                "guitar",
                pattern,
                sound("guitar", style_def.guitar_programs, (-6.0, 0.0), 0.35, (30, 60)),
                tuple(write_guitar(plan, rng, pattern)),
            )
        )
    if "piano" in plan.parts:
        pattern = rng.choice(style_def.piano_patterns)
        stems.append(
            Stem(
                "piano",
                "piano",
                pattern,
                sound("piano", style_def.piano_programs, (-6.0, 0.0), 0.0, (68, 98)),
                tuple(write_piano(plan, rng, pattern)),
            )
        )
    if "lead" in plan.parts:
        instrument = rng.choice(("piano", "guitar"))
        if instrument == "piano":
            lead_sound = sound("piano", (0, 1, 4, 5, 7), (-5.0, 0.0), 0.0, (50, 80))
            notes = write_melody(plan, rng, 64, 86)
        else:
            lead_sound = sound("guitar", (26, 27, 29, 30, 24), (-6.0, -1.0), 0.3, (50, 80))
            notes = write_melody(plan, rng, 55, 79)
        stems.append(Stem(instrument, "lead", "melody", lead_sound, tuple(notes)))

    stems = [stem for stem in stems if stem.notes]
    if rng.random() < 0.3:  # a dry production: no reverb on any stem
        stems = [
            dataclasses.replace(s, sound=dataclasses.replace(s.sound, reverb=0.0)) for s in stems
        ]
    return Song(
        seed=seed,
        plan=plan,
        stems=tuple(stems),
        reverb_room=rng.uniform(0.2, 0.85),
        reverb_damp=rng.uniform(0.1, 0.7),
        peak_db=rng.uniform(-6.0, -1.0),
    )
