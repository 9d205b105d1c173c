"""The rest of a song: the non-target parts that real records hold besides bass, drums,
guitar and piano, all of which the models must leave in ``other``.

Each song draws 0-4 such parts from its own generator (``random.Random("other/<seed>")``),
so the four target stems of a seed are composed exactly as without them:

- a **lead vocal** on most songs (:data:`VOCAL_CHANCE` by style), in verses and choruses,
  sung by :mod:`core.data.synth.voice`; with it, sometimes **backing vocals**: a double, a
  harmony a third above, or held "oohs" in the choruses;
- **instrument parts** from every General MIDI family outside the four classes
  (:data:`FAMILIES`: organs, strings and ensembles, choirs, brass, reeds, pipes, synth leads
  and pads, synth effects, mallets, harp and ethnic plucked sounds, percussive sounds, sound
  effects), each with the writer its family suits (pad, stabs, line, arpeggio, texture);
- **noise swells and risers** leading into sections.

**Held out:** the families in :data:`HELDOUT_FAMILIES` and the voice
:data:`core.data.synth.voice.HELDOUT_VOICE` play only in the validation split, which
plays nothing else among the non-target parts (as for the held-out instruments).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from core.data.synth.midi import Note
from core.data.synth.parts.ensemble import (
    harmony_of,
    write_arpeggio,
    write_line,
    write_oohs,
    write_pad,
    write_stabs,
    write_texture,
    write_vocal,
)
from core.data.synth.song import SongPlan
from core.data.synth.voice import HELDOUT_VOICE, VOICE_LICENCE, VOICES, VoiceSetting


@dataclass(frozen=True)
class Family:
    """A group of GM programs sharing a Slakh class and a way of playing."""

    name: str
    inst_class: str
    programs: tuple[int, ...]
    writers: tuple[str, ...]
    centre: tuple[int, int]
    """Range of the MIDI pitch the part centres on."""


FAMILIES: tuple[Family, ...] = (
    Family("mallets", "Chromatic Percussion", tuple(range(8, 16)), ("arpeggio", "line"), (67, 79)),
    Family("organ", "Organ", tuple(range(16, 24)), ("pad", "stabs", "line"), (55, 67)),
    Family("strings", "Strings", tuple(range(40, 45)), ("pad", "line"), (55, 72)),
    Family("pizzicato and harp", "Strings", (45, 46), ("arpeggio",), (55, 72)),
    Family("timpani", "Strings", (47,), ("texture",), (43, 50)),
    Family("ensemble", "Strings (continued)", (48, 49, 50, 51, 55), ("pad", "stabs"), (55, 70)),
    Family("choir", "Strings (continued)", (52, 53, 54), ("pad",), (57, 69)),
    Family("brass", "Brass", tuple(range(56, 64)), ("stabs", "pad", "line"), (55, 70)),
    Family("reeds", "Reed", tuple(range(64, 72)), ("line", "pad"), (55, 74)),
    Family("pipes", "Pipe", tuple(range(72, 80)), ("line", "pad"), (67, 84)),
    Family("synth lead", "Synth Lead", tuple(range(80, 88)), ("line", "arpeggio"), (60, 79)),
    Family("synth pad", "Synth Pad", tuple(range(88, 96)), ("pad", "texture"), (52, 67)),
    Family("synth effects", "Synth Effects", tuple(range(96, 104)), ("texture", "pad"), (52, 72)),
    Family("ethnic", "Ethnic", tuple(range(104, 112)), ("arpeggio", "line"), (57, 74)),
    Family("percussive", "Percussive", tuple(range(112, 120)), ("arpeggio", "texture"), (55, 72)),
    Family("sound effects", "Sound Effects", tuple(range(120, 128)), ("texture",), (55, 67)),
)
"""Every General MIDI program outside piano (0-7), guitar (24-31) and bass (32-39)."""

HELDOUT_FAMILIES: frozenset[str] = frozenset({"brass", "pipes", "mallets"})
"""Families only the validation split plays."""

VOCAL_CHANCE: dict[str, float] = {
    "pop": 0.85, "rock": 0.8, "ballad": 0.85, "funk": 0.6, "waltz": 0.6, "shuffle": 0.7,
}
"""Share of songs with a lead vocal, by style."""
BACKING_CHANCE = 0.45
"""Share of songs with a lead vocal that also have backing vocals."""
PART_COUNT_WEIGHTS = (0.25, 0.35, 0.25, 0.15)
"""Chances of 0, 1, 2 or 3 instrument parts (the total, vocals included, is at most 4)."""
NOISE_CHANCE = 0.15
"""Chance that an instrument part is a noise swell/riser instead of a GM program."""
NOISE_LICENCE = "generated noise (no licence needed)"
MAX_OTHER_PARTS = 4


@dataclass(frozen=True)
class OtherPart:
    """One non-target part: ``kind`` "gm", "voice" or "noise"; ``family`` (a
    :class:`Family` name, "lead vocal", "backing vocal" or "noise"); its Slakh
    ``inst_class``; GM ``program`` or ``voice``; ``role`` (the writer or vocal role);
    the ``notes``; ``gain_db`` and ``pan``; ``licence``."""

    kind: str
    family: str
    inst_class: str
    role: str
    notes: tuple[Note, ...]
    gain_db: float
    pan: int
    licence: str
    program: int = 0
    voice: VoiceSetting | None = None
    detune_cents: float = 0.0
    timing_ms: float = 0.0


POOLS = ("train", "heldout", "all")
"""What a split draws: all but the held-out sources, only those, or everything."""


def families_for(pool: str) -> tuple[Family, ...]:
    """The families of a pool (:data:`POOLS`)."""
    if pool == "all":
        return FAMILIES
    return tuple(f for f in FAMILIES if (f.name in HELDOUT_FAMILIES) == (pool == "heldout"))


def voices_for(pool: str) -> tuple[VoiceSetting, ...]:
    """The voice settings of a pool (:data:`POOLS`)."""
    if pool == "all":
        return (*VOICES, HELDOUT_VOICE)
    return (HELDOUT_VOICE,) if pool == "heldout" else VOICES


def _section_bars(plan: SongPlan, names: set[str]) -> set[int]:
    return {bar for s in plan.sections if s.name in names
            for bar in range(s.first_bar, s.last_bar + 1)}


def _active_bars(plan: SongPlan, rng: random.Random) -> set[int]:
    """Sections an instrument part plays in: choruses often, each other section by chance."""
    bars: set[int] = set()
    for section in plan.sections:
        chance = 0.8 if section.name == "chorus" else 0.4
        if rng.random() < chance:
            bars.update(range(section.first_bar, section.last_bar + 1))
    return bars or set(range(plan.sections[-1].first_bar, plan.sections[-1].last_bar + 1))


def compose_other_parts(seed: int, plan: SongPlan, pool: str = "train",
                        gm_available: bool = True) -> list[OtherPart]:
    """The non-target parts of the song ``seed`` (see the module doc), drawn from the
    families and voices of ``pool`` (:data:`POOLS`); ``gm_available``: False when the
    palette has no GM soundfont (then only vocals and noise)."""
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}")
    rng = random.Random(f"other/{seed}")
    parts: list[OtherPart] = []
    voices = voices_for(pool)
    if rng.random() < VOCAL_CHANCE.get(plan.style.name, 0.7):
        voice = rng.choice(voices)
        active = _section_bars(plan, {"verse", "chorus"})
        if rng.random() < 0.5:
            active |= _section_bars(plan, {"bridge"})
        lead = write_vocal(plan, rng, active, voice.low + 2, voice.high - 2)
        if lead:
            parts.append(OtherPart("voice", "lead vocal", "Voice", "lead", tuple(lead),
                                   rng.uniform(-2.0, 4.0), rng.randint(58, 70), VOICE_LICENCE,
                                   voice=voice))
            if rng.random() < BACKING_CHANCE:
                parts.append(_backing(plan, rng, voice, voices, lead))
    count = rng.choices(range(len(PART_COUNT_WEIGHTS)), weights=PART_COUNT_WEIGHTS)[0]
    count = min(count, MAX_OTHER_PARTS - len(parts))
    families = list(families_for(pool))
    for _ in range(count):
        active = _active_bars(plan, rng)
        if rng.random() < NOISE_CHANCE or not gm_available:
            parts.append(_noise(plan, rng))
            continue
        family = rng.choice(families)
        families = [f for f in families if f != family] or families
        role = rng.choice(family.writers)
        centre = rng.randint(*family.centre)
        notes = _write(role, plan, rng, active, centre)
        if notes:
            parts.append(OtherPart("gm", family.name, family.inst_class, role, tuple(notes),
                                   rng.uniform(-8.0, -1.0), rng.randint(25, 103), "MIT",
                                   program=rng.choice(family.programs)))
    return [part for part in parts if part.notes]


def _write(role: str, plan: SongPlan, rng: random.Random, active: set[int],
           centre: int) -> list[Note]:
    if role == "pad":
        return write_pad(plan, rng, active, centre, rng.choice((3, 4)))
    if role == "stabs":
        return write_stabs(plan, rng, active, centre)
    if role == "line":
        return write_line(plan, rng, active, centre - 7, centre + 10)
    if role == "arpeggio":
        return write_arpeggio(plan, rng, active, centre)
    return write_texture(plan, rng, active, centre)


def _backing(plan: SongPlan, rng: random.Random, lead_voice: VoiceSetting,
             voices: tuple[VoiceSetting, ...], lead: list[Note]) -> OtherPart:
    """A double of the lead, a harmony a third above it, or held "oohs" in the choruses."""
    role = rng.choice(("double", "harmony", "oohs"))
    voice = lead_voice if rng.random() < 0.6 else rng.choice(voices)
    choruses = _section_bars(plan, {"chorus"}) or _section_bars(plan, {"verse"})
    seconds_per_bar = plan.beats_per_bar * plan.seconds_per_beat
    in_chorus = [n for n in lead if int(n.start // seconds_per_bar) in choruses] or lead
    if role == "double":
        notes = in_chorus
    elif role == "harmony":
        notes = harmony_of(plan, in_chorus) or in_chorus
    else:
        notes = write_oohs(plan, rng, choruses, (voice.low + voice.high) // 2)
    return OtherPart("voice", "backing vocal", "Voice", role, tuple(notes),
                     rng.uniform(-8.0, -3.0), rng.randint(35, 93), VOICE_LICENCE, voice=voice,
                     detune_cents=rng.uniform(-12.0, 12.0), timing_ms=rng.uniform(8.0, 25.0))


def _noise(plan: SongPlan, rng: random.Random) -> OtherPart:
    """Swells of one to two bars leading into some sections."""
    seconds_per_bar = plan.beats_per_bar * plan.seconds_per_beat
    notes = []
    for section in plan.sections[1:]:
        if rng.random() < 0.6:
            bars = rng.choice((1, 2))
            end = plan.time(section.first_bar * plan.beats_per_bar)
            start = max(0.0, end - bars * seconds_per_bar)
            notes.append(Note(start, end - start, 60, rng.randint(70, 110)))
    return OtherPart("noise", "noise", "Sound Effects", rng.choice(("riser", "swell")),
                     tuple(n for n in notes if n.duration > 0.1), rng.uniform(-10.0, -3.0),
                     rng.randint(30, 98), NOISE_LICENCE)
