import random

import pytest

from core.data.synth.song import PARTS, plan_song
from core.data.synth.styles import STYLES
from core.data.synth.theory import (
    Key,
    close_voicing,
    diatonic_chord,
    dominant_seventh,
    nearest_pitch,
)


@pytest.mark.parametrize(
    "key, degree, seventh, symbol",
    [
        (Key(0, "major"), 0, False, "C"),
        (Key(0, "major"), 1, False, "Dm"),
        (Key(0, "major"), 4, True, "G7"),
        (Key(0, "major"), 0, True, "Cmaj7"),
        (Key(0, "major"), 6, False, "Bdim"),
        (Key(9, "minor"), 4, False, "Em"),
        (Key(9, "harmonic minor"), 4, False, "E"),
        (Key(7, "mixolydian"), 6, False, "F"),
        (Key(2, "dorian"), 3, False, "G"),
    ],
)
def test_diatonic_chords_take_their_quality_from_the_mode(key, degree, seventh, symbol):
    assert diatonic_chord(key, degree, seventh).symbol == symbol


def test_dominant_seventh_has_major_third_and_minor_seventh():
    chord = dominant_seventh(5)  # F7
    assert chord.tones == (5, 9, 0, 3)


def test_nearest_pitch_and_close_voicing():
    assert nearest_pitch(0, 62) == 60
    assert nearest_pitch(0, 67) == 72
    chord = diatonic_chord(Key(0, "major"), 3)  # F major
    voicing = close_voicing(chord, 66, 4)
    assert len(voicing) == 4
    assert all(p % 12 in chord.tones for p in voicing)
    assert voicing == sorted(voicing) and voicing[-1] - voicing[0] <= 12


def test_plans_cover_the_duration_with_chords_and_sections():
    for seed in range(30):
        plan = plan_song(random.Random(seed), 12.0)
        assert plan.total_bars * plan.beats_per_bar * 60 / plan.bpm >= 12.0
        assert plan.chords[0].start == 0
        ends = [span.start + span.length for span in plan.chords]
        assert ends[-1] == plan.total_bars * plan.beats_per_bar
        assert len({p for p in plan.parts if p != "lead"}) >= 2
        assert plan.parts <= set(PARTS)
        for section in plan.sections:
            assert section.active <= plan.parts and section.active


def test_swing_delays_off_beats_only_in_swung_styles():
    shuffle = next(s for s in STYLES if s.name == "shuffle")
    plan = plan_song(random.Random(0), 4.0, "shuffle")
    beat = plan.seconds_per_beat
    assert plan.time(1.0) == pytest.approx(beat)
    assert plan.time(0.5) == pytest.approx((0.5 + shuffle.swing) * beat)
    straight = plan_song(random.Random(0), 4.0, "rock")
    assert straight.time(0.5) == pytest.approx(0.5 * straight.seconds_per_beat)


def test_every_style_has_a_three_or_four_beat_meter_and_tempo_range():
    meters = {style.beats_per_bar for style in STYLES}
    assert meters == {3, 4}
    assert len(STYLES) >= 6


def test_every_pattern_of_every_style_writes_notes_inside_the_song():
    from core.data.synth.parts.bass import write_bass
    from core.data.synth.parts.drums import write_drums
    from core.data.synth.parts.guitar import write_guitar
    from core.data.synth.parts.melody import write_melody
    from core.data.synth.parts.piano import write_piano

    everything = frozenset(PARTS)
    for style in STYLES:
        plan = plan_song(random.Random(1), 10.0, style.name, everything)
        writers = [(write_bass, p, (24, 55)) for p in style.bass_patterns]
        writers += [(write_drums, g, (35, 81)) for g in style.grooves]
        writers += [(write_guitar, p, (40, 88)) for p in style.guitar_patterns]
        writers += [(write_piano, p, (33, 90)) for p in style.piano_patterns]
        for write, pattern, (low, high) in writers:
            notes = write(plan, random.Random(2), pattern)
            assert notes, (style.name, pattern)
            for note in notes:
                assert 0 <= note.start < note.start + note.duration <= plan.seconds, (
                    style.name,
                    pattern,
                )
                assert low <= note.pitch <= high and 1 <= note.velocity <= 127, (
                    style.name,
                    pattern,
                    note,
                )
        melody = write_melody(plan, random.Random(3), 60, 84)
        assert melody and all(60 <= n.pitch <= 84 for n in melody)
