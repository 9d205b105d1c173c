import struct

import pytest

from core.data.synth.midi import (
    TICKS_PER_BEAT,
    Note,
    build_midi_file,
    control_change,
    program_change,
    variable_length_quantity,
)


@pytest.mark.parametrize(
    "value, encoded",
    [
        (0, b"\x00"),
        (0x40, b"\x40"),
        (0x7F, b"\x7f"),
        (0x80, b"\x81\x00"),
        (0x2000, b"\xc0\x00"),
        (0x3FFF, b"\xff\x7f"),
        (0x4000, b"\x81\x80\x00"),
        (0x0FFFFFFF, b"\xff\xff\xff\x7f"),
    ],
)
def test_variable_length_quantity_matches_the_smf_specification_examples(value, encoded):
    assert variable_length_quantity(value) == encoded


def _read_vlq(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[position]
        position += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, position


def _parse(data: bytes):
    """Minimal reader for our own files: header fields and (tick, status, data) events."""
    assert data[:4] == b"MThd"
    length, file_format, tracks, division = struct.unpack(">IHHH", data[4:14])
    assert data[14:18] == b"MTrk"
    (track_length,) = struct.unpack(">I", data[18:22])
    track = data[22 : 22 + track_length]
    assert len(track) == track_length
    events, position, tick = [], 0, 0
    while position < len(track):
        delta, position = _read_vlq(track, position)
        tick += delta
        status = track[position]
        if status == 0xFF:
            kind, size = track[position + 1], track[position + 2]
            events.append((tick, status, kind, track[position + 3 : position + 3 + size]))
            position += 3 + size
        else:
            size = 2 if status & 0xF0 == 0xC0 else 3
            events.append((tick, status, *track[position + 1 : position + size]))
            position += size
    return (length, file_format, tracks, division), events


def test_file_structure_tempo_and_event_times_round_trip():
    bpm = 120.0  # one beat = 0.5 s
    notes = {0: [Note(0.0, 0.5, 60, 100), Note(0.5, 0.25, 64, 90)], 9: [Note(0.25, 0.1, 36, 120)]}
    data = build_midi_file(bpm, notes, [program_change(0.0, 0, 33), control_change(0.0, 0, 7, 100)])
    header, events = _parse(data)
    assert header == (6, 0, 1, TICKS_PER_BEAT)
    tempo = [e for e in events if e[1] == 0xFF and e[2] == 0x51][0]
    assert int.from_bytes(tempo[3], "big") == 500_000  # microseconds per beat at 120 BPM
    assert events[-1][1:3] == (0xFF, 0x2F)  # end of track
    channel_events = [e for e in events if e[1] != 0xFF]
    # program change and controller first, at tick 0
    assert channel_events[0] == (0, 0xC0, 33)
    assert channel_events[1] == (0, 0xB0, 7, 100)
    ons = [(e[0], e[1] & 0x0F, e[2]) for e in channel_events if e[1] & 0xF0 == 0x90]
    offs = [(e[0], e[1] & 0x0F, e[2]) for e in channel_events if e[1] & 0xF0 == 0x80]
    half_beat = TICKS_PER_BEAT // 2
    assert ons == [(0, 0, 60), (half_beat, 9, 36), (TICKS_PER_BEAT, 0, 64)]
    assert (TICKS_PER_BEAT, 0, 60) in offs  # 0.5 s long = one beat
    assert (TICKS_PER_BEAT + half_beat, 0, 64) in offs


def test_note_off_comes_before_a_repeated_note_on_at_the_same_tick():
    data = build_midi_file(60.0, {0: [Note(0.0, 1.0, 60, 80), Note(1.0, 1.0, 60, 80)]}, [])
    _, events = _parse(data)
    at_one_beat = [e[1] & 0xF0 for e in events if e[0] == TICKS_PER_BEAT and e[1] != 0xFF]
    assert at_one_beat == [0x80, 0x90]
