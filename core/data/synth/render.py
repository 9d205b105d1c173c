"""Render a composed song with FluidSynth: one pass, one stereo output per stem.

Each stem gets its own MIDI channel whose residue modulo the number of stems is
unique (drums on channel 10, i.e. index 9), so FluidSynth mixes it into its own audio
group (see :mod:`core.data.synth.fluidsynth`). FluidSynth's own reverb and chorus are
off: room and effects come from the production chain (:mod:`core.data.synth.production`).
Recorded instruments are not rendered here (:mod:`core.data.synth.recorded`).

Event times are rounded up to FluidSynth's 64-frame block grid: FluidSynth applies
events at block boundaries anyway, so this changes nothing in the sound and saves
render calls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.synth.compose import Song
from core.data.synth.fluidsynth import FontCache, Synth
from core.data.synth.gm import DRUM_BANK, GENERATOR_PRESETS
from core.data.synth.midi import (
    CC_CHORUS_SEND,
    CC_EXPRESSION,
    CC_PAN,
    CC_REVERB_SEND,
    CC_VOLUME,
    DRUM_CHANNEL,
)

BLOCK = 64
"""FluidSynth's internal block size in frames."""
_NOTE_OFF, _NOTE_ON = 0, 1

FONT_CACHE = FontCache(GENERATOR_PRESETS)
"""This process's loaded soundfonts (one per worker process)."""


def assign_channels(is_drum: list[bool]) -> list[int]:
    """MIDI channels (0-15) for the stems, drums on 9, all distinct modulo ``len(is_drum)``."""
    groups = len(is_drum)
    taken = {DRUM_CHANNEL % groups} if any(is_drum) else set()
    free = [c for c in range(16) if c != DRUM_CHANNEL and c % groups not in taken]
    channels: list[int] = []
    for drum in is_drum:
        if drum:
            channels.append(DRUM_CHANNEL)
            continue
        channel = free.pop(0)
        taken.add(channel % groups)
        free = [c for c in free if c % groups not in taken]
        channels.append(channel)
    return channels


def render_song(
    song: Song, sample_rate: int, stereo: bool = False, interpolation: int = 1
) -> np.ndarray:
    """Audio of every stem of ``song``.

    Returns float32 of shape ``(stems, 2, samples)`` when ``stereo`` else
    ``(stems, samples)`` (mono = mean of left and right), with
    ``samples = round(song.seconds * sample_rate)``. Every stem must have a soundfont
    source (GM program or kit); stems are the dry sound, no effect is applied here.

    ``interpolation`` defaults to linear: at 22 050 Hz most samples are played back
    decimated, where FluidSynth's higher orders (which do not band-limit either) buy
    little, and linear is about 10% faster. Use 4 for 44.1 kHz renders.
    """
    stems = song.stems
    frames = int(round(song.seconds * sample_rate))
    if not stems:
        return np.zeros((0, 2, frames) if stereo else (0, frames), np.float32)
    if sum(stem.is_drum for stem in stems) > 1:
        raise ValueError("a song can have at most one drum stem (one percussion channel)")
    groups = len(stems)
    channels = assign_channels([stem.is_drum for stem in stems])
    dry = np.zeros((groups, 2, frames), np.float32)

    with Synth(sample_rate, groups, reverb=False, interpolation=interpolation) as synth:
        # All fonts first: adding a font re-selects every channel's program from the
        # font stack, which would undo a program selected before it.
        font_ids: dict[Path, int] = {}
        for stem in stems:
            source = stem.sound.source
            if source.font is None:
                raise ValueError(f"{stem.instrument} stem has no soundfont source")
            if source.font not in font_ids:
                presets = None if source.bank is None else [(source.bank, source.program)]
                font_ids[source.font] = synth.add_shared_font(FONT_CACHE.sfont(source.font, presets))
        for stem, channel in zip(stems, channels, strict=True):
            source = stem.sound.source
            bank = source.bank if source.bank is not None else (DRUM_BANK if stem.is_drum else 0)
            synth.program_select(channel, font_ids[source.font], bank, source.program)
            synth.control_change(channel, CC_VOLUME, 100)
            synth.control_change(channel, CC_EXPRESSION, 127)
            synth.control_change(channel, CC_PAN, stem.sound.pan if stereo else 64)
            synth.control_change(channel, CC_REVERB_SEND, 0)
            synth.control_change(channel, CC_CHORUS_SEND, 0)

        # Audio group channel % groups is written straight into the stem's row.
        rows = [0] * groups
        for stem_index, channel in enumerate(channels):
            rows[channel % groups] = stem_index
        synth.attach(dry, None, rows)
        events = _note_events(song, channels, sample_rate, frames)

        position = 0
        for frame, kind, channel, key, velocity in events:
            frame = min(frame, frames)
            if frame > position:
                synth.render(position, frame - position)
                position = frame
            if kind == _NOTE_ON:
                synth.note_on(channel, key, velocity)
            else:
                synth.note_off(channel, key)
        if position < frames:
            synth.render(position, frames - position)

    return dry if stereo else np.float32(0.5) * (dry[:, 0] + dry[:, 1])


def _note_events(
    song: Song, channels: list[int], sample_rate: int, frames: int
) -> list[tuple[int, int, int, int, int]]:
    """Sorted ``(frame, kind, channel, key, velocity)`` events, note-offs first at equal
    frames. A note is cut where the next note of the same key on the same channel
    starts (otherwise its late note-off would silence the newer note); a note starting
    on the same block as the previous one of its key is dropped."""
    by_key: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for stem, channel in zip(song.stems, channels, strict=True):
        for note in stem.notes:
            on = _block_frame(note.start, sample_rate)
            if on >= frames:
                continue
            off = max(on + BLOCK, _block_frame(note.start + note.duration, sample_rate))
            by_key.setdefault((channel, note.pitch), []).append((on, off, note.velocity))
    events: list[tuple[int, int, int, int, int]] = []
    for (channel, key), notes in by_key.items():
        notes.sort()
        for index, (on, off, velocity) in enumerate(notes):
            if index + 1 < len(notes):
                next_on = notes[index + 1][0]
                if next_on == on:
                    continue
                off = min(off, next_on)
            events.append((on, _NOTE_ON, channel, key, velocity))
            events.append((off, _NOTE_OFF, channel, key, 0))
    events.sort()
    return events


def _block_frame(seconds: float, sample_rate: int) -> int:
    frame = int(round(seconds * sample_rate))
    return -(-frame // BLOCK) * BLOCK
