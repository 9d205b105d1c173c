"""A small Standard MIDI File (SMF) writer: notes and controller events in, file bytes out.

Format 0 (one track holding every channel) is enough for FluidSynth's player. Times
are given in seconds; a single tempo meta event maps seconds to ticks exactly enough
(``TICKS_PER_BEAT`` = 960, so one tick is about 0.5 ms at 120 BPM).

File layout (SMF 1.0): ``MThd`` chunk (format, track count, division), then one
``MTrk`` chunk of ``(delta-time as variable-length quantity, event)`` pairs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

TICKS_PER_BEAT = 960
DRUM_CHANNEL = 9
"""General MIDI percussion channel ("channel 10" counted from 1)."""

# Controller numbers used by the generator.
CC_BANK_SELECT = 0
CC_VOLUME = 7
CC_PAN = 10
CC_EXPRESSION = 11
CC_SUSTAIN = 64
CC_REVERB_SEND = 91
CC_CHORUS_SEND = 93
CC_ALL_SOUND_OFF = 120
CC_RESET_CONTROLLERS = 121


@dataclass(frozen=True)
class Note:
    """One note: onset and length in seconds, MIDI pitch 0-127, velocity 1-127."""

    start: float
    duration: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Event:
    """A channel event at ``time`` seconds: ``kind`` is ``"cc"`` or ``"program"``."""

    time: float
    kind: str
    channel: int
    data: tuple[int, ...]


def control_change(time: float, channel: int, controller: int, value: int) -> Event:
    return Event(time, "cc", channel, (controller, _clamp7(value)))


def program_change(time: float, channel: int, program: int) -> Event:
    return Event(time, "program", channel, (_clamp7(program),))


def _clamp7(value: int) -> int:
    return int(min(max(int(value), 0), 127))


def variable_length_quantity(value: int) -> bytes:
    """Encode a non-negative integer as a MIDI variable-length quantity (7 bits per byte,
    most significant group first, continuation bit 0x80 on all but the last byte)."""
    if value < 0:
        raise ValueError("delta times are non-negative")
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(groups))


def seconds_to_ticks(seconds: float, bpm: float) -> int:
    """Ticks at ``TICKS_PER_BEAT`` per beat and a constant tempo of ``bpm``."""
    return int(round(seconds * bpm / 60.0 * TICKS_PER_BEAT))


def build_midi_file(
    bpm: float,
    notes_by_channel: dict[int, list[Note]],
    events: list[Event],
) -> bytes:
    """Bytes of a format-0 SMF with one tempo, the given notes and controller events.

    At equal tick times the order is: program/controller changes, note-offs, note-ons,
    so a repeated pitch is released before it is struck again and a program change
    precedes the notes that use it.
    """
    timeline: list[tuple[int, int, bytes]] = []  # (tick, order, raw message)
    for event in events:
        tick = seconds_to_ticks(event.time, bpm)
        if event.kind == "program":
            timeline.append((tick, 0, bytes([0xC0 | event.channel, event.data[0]])))
        elif event.kind == "cc":
            timeline.append((tick, 1, bytes([0xB0 | event.channel, *event.data])))
        else:
            raise ValueError(f"unknown MIDI event kind {event.kind!r}")
    for channel, notes in notes_by_channel.items():
        for note in notes:
            pitch = _clamp7(note.pitch)
            velocity = min(max(int(note.velocity), 1), 127)
            on = seconds_to_ticks(note.start, bpm)
            off = max(on + 1, seconds_to_ticks(note.start + note.duration, bpm))
            timeline.append((on, 3, bytes([0x90 | channel, pitch, velocity])))
            timeline.append((off, 2, bytes([0x80 | channel, pitch, 0])))
    timeline.sort(key=lambda item: (item[0], item[1]))

    microseconds_per_beat = int(round(60_000_000 / bpm))
    track = bytearray()
    track += (
        variable_length_quantity(0) + b"\xff\x51\x03" + microseconds_per_beat.to_bytes(3, "big")
    )
    previous = 0
    for tick, _, message in timeline:
        track += variable_length_quantity(tick - previous) + message
        previous = tick
    track += variable_length_quantity(0) + b"\xff\x2f\x00"  # end of track

    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)
