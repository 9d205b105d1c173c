"""The recorded-instrument sampler: key choice, pitch shift, velocity layers, round
robins, releases, polyphony."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.synth.midi import Note
from core.data.synth.recorded import Sampler, find_instruments, read_instrument
from tests.core.data.sample_fixtures import write_instrument

RATE = 22050


def _dominant_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.argmax(spectrum) * RATE / x.size)


@pytest.fixture
def bass(tmp_path):
    return read_instrument(write_instrument(tmp_path, "bass", "b", [40, 43, 46], layers=3,
                                            round_robins=2))


def test_a_note_sounds_at_its_pitch_from_the_nearest_key_shifted(bass):
    sampler = Sampler(bass, "sustain", RATE)
    for pitch in (40, 41, 45, 52, 28):  # exact, +1, -1 from 46, beyond the range: octaves
        key, sounding = sampler.key_for(pitch)
        assert abs(sounding - key) <= 4 and (sounding - pitch) % 12 == 0
        audio = sampler.render([Note(0.0, 0.4, pitch, 100)], RATE)
        expected = 440.0 * 2 ** ((sounding - 69) / 12)
        assert abs(_dominant_hz(audio[: int(0.4 * RATE)]) - expected) < 3.0, pitch


def test_velocity_picks_louder_layers_and_scales_within_a_layer(bass):
    def peak(velocity):
        return float(np.abs(Sampler(bass, "sustain", RATE).render(
            [Note(0.0, 0.3, 40, velocity)], RATE)).max())

    assert peak(20) < peak(60) < peak(120)
    assert peak(100) < peak(120)  # same (top) layer, scaled by velocity


def test_round_robins_alternate_on_repeated_notes(bass):
    sampler = Sampler(bass, "sustain", RATE)
    audio = sampler.render([Note(0.0, 0.3, 40, 120), Note(0.5, 0.3, 40, 120)], RATE)
    first, second = audio[:2000], audio[int(0.5 * RATE) : int(0.5 * RATE) + 2000]
    ratio = np.abs(second).max() / np.abs(first).max()
    assert ratio == pytest.approx(1.2 / 1.1, rel=0.02)  # rr2 is written 10% louder


def test_note_off_releases_and_a_repeated_note_cuts_the_previous_one(bass):
    sampler = Sampler(bass, "sustain", RATE)
    short = sampler.render([Note(0.0, 0.1, 40, 100)], RATE)
    assert np.abs(short[int(0.1 * RATE) + int(0.08 * RATE) + 10 :]).max() == 0.0
    assert np.abs(short[int(0.1 * RATE) - 100 : int(0.1 * RATE)]).max() > 0.01


def test_polyphony_adds_voices(bass):
    one = Sampler(bass, "sustain", RATE).render([Note(0.0, 0.4, 40, 100)], RATE)
    other = Sampler(bass, "sustain", RATE).render([Note(0.0, 0.4, 46, 100)], RATE)
    both = Sampler(bass, "sustain", RATE).render(
        [Note(0.0, 0.4, 40, 100), Note(0.0, 0.4, 46, 100)], RATE)
    assert np.allclose(both, one + other, atol=1e-6)


def test_drums_play_their_key_or_a_related_piece_and_open_hats_are_choked(tmp_path):
    kit = read_instrument(write_instrument(tmp_path, "drums", "k", [36, 38, 42, 46]))
    sampler = Sampler(kit, "sustain", RATE)
    assert sampler.key_for(35) == (36, 36)  # second kick -> kick
    assert sampler.key_for(44) == (42, 42)  # pedal hat -> closed hat
    assert sampler.key_for(80) is None  # nothing related: dropped
    ringing = Sampler(kit, "sustain", RATE).render([Note(0.0, 0.05, 46, 100)], RATE)
    choked = Sampler(kit, "sustain", RATE).render(
        [Note(0.0, 0.05, 46, 100), Note(0.05, 0.05, 42, 1)], RATE)
    late = slice(int(0.05 * RATE) + int(0.08 * RATE) + 10, int(0.2 * RATE))
    hat_alone = Sampler(kit, "sustain", RATE).render([Note(0.05, 0.05, 42, 1)], RATE)
    assert np.abs(ringing[late]).max() > 1e-3
    assert np.allclose(choked[late], hat_alone[late], atol=1e-6)


def test_library_reading_names_the_folder_of_a_broken_instrument(tmp_path):
    write_instrument(tmp_path, "piano", "p", [60])
    (tmp_path / "piano" / "p" / "sustain_060_v1_rr1.flac").unlink()
    with pytest.raises(ValueError, match="missing"):
        find_instruments(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        find_instruments(tmp_path / "nowhere")
