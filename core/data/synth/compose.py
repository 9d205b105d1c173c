"""From a seed to a complete song: the plan, one note list per stem, and the sound of
each stem (its source: a GM soundfont program, a SoundFont kit or a recorded
instrument; its gain, pan and production chain) and the mix-bus chain.

Everything is drawn from one ``random.Random(seed)``, so a seed fixes the song.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.data.synth.gm import PROGRAM_RANGES
from core.data.synth.midi import Note
from core.data.synth.others import OtherPart, compose_other_parts
from core.data.synth.parts.bass import write_bass
from core.data.synth.parts.drums import write_drums
from core.data.synth.parts.guitar import write_guitar
from core.data.synth.parts.melody import write_melody
from core.data.synth.parts.piano import write_piano
from core.data.synth.production import (
    Effect,
    draw_bus_chain,
    draw_stem_chain,
    draw_vocal_chain,
)
from core.data.synth.song import SongPlan, plan_song
from core.data.synth.sources import Palette, Source, draw_gm_font, draw_source

INST_CLASS = {"bass": "Bass", "drums": "Drums", "guitar": "Guitar", "piano": "Piano"}
"""Slakh ``inst_class`` of each of our instrument labels."""
CLEAN_ONLY_PROGRAMS = frozenset({24, 25, 29, 30})
"""GM guitars that get no extra distortion: acoustic ones, and those distorted already."""


@dataclass(frozen=True)
class StemSound:
    """How one stem is rendered and processed.

    ``source`` what plays the notes (see :mod:`core.data.synth.sources`); ``gain_db``
    per-stem level before the mix is normalised; ``pan`` MIDI pan 0-127 (stereo
    renders); ``chain`` the stem's effects (see :mod:`core.data.synth.production`).
    """

    source: Source
    gain_db: float
    pan: int
    chain: tuple[Effect, ...] = ()

    @property
    def program(self) -> int:
        return self.source.program

    @property
    def font(self) -> Path | None:
        return self.source.font


@dataclass(frozen=True)
class Stem:
    instrument: str
    """One of core.instruments.INSTRUMENTS, or "other" for a non-target part."""
    part: str
    pattern: str
    sound: StemSound
    notes: tuple[Note, ...]
    other: OtherPart | None = None
    """What a non-target part is (family, Slakh class, voice...; see core.data.synth.others)."""

    @property
    def is_drum(self) -> bool:
        return self.instrument == "drums"

    @property
    def inst_class(self) -> str:
        """Slakh ``inst_class``: Bass, Drums, Guitar, Piano, or the non-target part's class."""
        if self.other is not None:
            return self.other.inst_class
        return INST_CLASS[self.instrument]


@dataclass(frozen=True)
class Song:
    seed: int
    plan: SongPlan
    stems: tuple[Stem, ...]
    peak_db: float
    """Peak level of the mixture after normalisation, in dBFS."""
    bus_chain: tuple[Effect, ...] = ()
    """Effects of the mix bus (applied as one gain on every stem)."""

    @property
    def seconds(self) -> float:
        return self.plan.seconds


def compose_song(
    seed: int,
    seconds: float,
    fonts: Sequence[Path],
    style: str | None = None,
    parts: frozenset[str] | None = None,
    palette: Palette | None = None,
) -> Song:
    """Compose a song of ``seconds`` seconds from ``seed``.

    Sources come from ``palette`` (default: GM programs of ``fonts`` only); ``style``
    and ``parts`` force the style and the set of parts (see :func:`plan_song`)."""
    if palette is None:
        if not fonts:
            raise ValueError("at least one soundfont is needed")
        palette = Palette(tuple(Path(font) for font in fonts), recorded_share=0.0)
    rng = random.Random(seed)
    plan = plan_song(rng, seconds, style, parts)
    style_def = plan.style
    stems: list[Stem] = []

    def sound(
        instrument: str,
        preferred: Sequence[int],
        gain_range: tuple[float, float],
        pan_range: tuple[int, int] = (52, 76),
    ) -> StemSound:
        if instrument == "drums" or rng.random() < 0.75:
            program = rng.choice(preferred)
        else:
            program = rng.choice(PROGRAM_RANGES[instrument])
        source = draw_source(rng, instrument, program, palette)
        clean = source.articulation == "acoustic" or (
            source.kind == "gm" and program in CLEAN_ONLY_PROGRAMS
        )
        chain = draw_stem_chain(rng, instrument, style_def.name, clean_only=clean)
        return StemSound(
            source=source,
            gain_db=rng.uniform(*gain_range),
            pan=rng.randint(*pan_range),
            chain=tuple(chain),
        )

    if "bass" in plan.parts:
        pattern = rng.choice(style_def.bass_patterns)
        stems.append(
            Stem(
                "bass",
                "bass",
                pattern,
                sound("bass", style_def.bass_programs, (-4.0, 1.0), (60, 68)),
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
                sound("drums", style_def.drum_kits, (-3.0, 1.0), (60, 68)),
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
                sound("guitar", style_def.guitar_programs, (-6.0, 0.0), (30, 60)),
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
                sound("piano", style_def.piano_programs, (-6.0, 0.0), (68, 98)),
                tuple(write_piano(plan, rng, pattern)),
            )
        )
    if "lead" in plan.parts:
        instrument = rng.choice(("piano", "guitar"))
        if instrument == "piano":
            lead_sound = sound("piano", (0, 1, 4, 5, 7), (-5.0, 0.0), (50, 80))
            notes = write_melody(plan, rng, 64, 86)
        else:
            lead_sound = sound("guitar", (26, 27, 29, 30, 24), (-6.0, -1.0), (50, 80))
            notes = write_melody(plan, rng, 55, 79)
        stems.append(Stem(instrument, "lead", "melody", lead_sound, tuple(notes)))

    if palette.other_parts:
        stems += other_stems(seed, plan, palette)
    stems = [stem for stem in stems if stem.notes]
    return Song(
        seed=seed,
        plan=plan,
        stems=tuple(stems),
        peak_db=rng.uniform(-6.0, -0.3),
        bus_chain=tuple(draw_bus_chain(rng)),
    )


def other_stems(seed: int, plan: SongPlan, palette: Palette) -> list[Stem]:
    """The non-target parts of song ``seed`` as stems (:mod:`core.data.synth.others`),
    drawn from generators of their own so the four target stems do not change; each
    part gets its own chain (a vocal chain for voices)."""
    parts = compose_other_parts(seed, plan, palette.other_pool,
                                gm_available=bool(palette.fonts))
    rng = random.Random(f"other-sound/{seed}")
    stems: list[Stem] = []
    for part in parts:
        if part.kind == "gm":
            font = draw_gm_font(rng, palette)
            source = Source("gm", f"{font.name}:{part.program}", part.licence, font=font,
                            program=part.program)
            chain = draw_stem_chain(rng, "other", plan.style.name)
        elif part.kind == "voice":
            assert part.voice is not None
            source = Source("voice", f"espeak-ng:{part.voice.name}", part.licence, program=53)
            chain = draw_vocal_chain(rng, plan.bpm, lead=part.role == "lead")
        else:
            source = Source("noise", f"noise:{part.role}", part.licence, program=122)
            chain = draw_stem_chain(rng, "other", plan.style.name)
        sound = StemSound(source=source, gain_db=part.gain_db, pan=part.pan, chain=tuple(chain))
        stems.append(Stem("other", part.family, part.role, sound, part.notes, other=part))
    return stems
