"""The audition mixer: solo/mute change the samples read from it (no audio output needed)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from desktop.mixer import MIXTURE, ArrayTrack, FileTrack, StemMixer, audible_tracks

RATE = 1000
FRAMES = 500


def constant(value: float, channels: int = 2) -> ArrayTrack:
    return ArrayTrack(np.full((FRAMES, channels), value, np.float32), RATE)


@pytest.fixture
def mixer(qapp):
    mixer = StemMixer()
    # stems + other sum to the mixture, as the engine writes them
    mixer.set_tracks({MIXTURE: constant(0.75), "bass": constant(0.1), "drums": constant(0.2),
                      "other": constant(0.45)})
    yield mixer
    mixer.clear()


def level(mixer: StemMixer, frames: int = 10) -> float:
    block = mixer.render(frames)
    assert np.all(block == block[0, 0])
    return float(block[0, 0])


def test_by_default_the_stems_play_and_the_mixture_is_muted(mixer):
    assert mixer.muted == {MIXTURE}
    assert level(mixer) == pytest.approx(0.75)  # 0.1 + 0.2 + 0.45: the stems rebuild the mix


def test_solo_and_mute_change_the_mixed_samples(mixer):
    mixer.set_soloed("bass", True)
    assert level(mixer) == pytest.approx(0.1)
    mixer.set_soloed("drums", True)
    assert level(mixer) == pytest.approx(0.3)
    mixer.set_muted("drums", True)  # soloed, then muted: not heard
    assert level(mixer) == pytest.approx(0.1)
    mixer.set_soloed("bass", False)
    mixer.set_soloed("drums", False)
    assert level(mixer) == pytest.approx(0.55)  # no solo: all unmuted stems (bass + other)
    mixer.set_soloed(MIXTURE, True)  # compare with the original: soloing unmutes the mixture
    assert MIXTURE not in mixer.muted
    assert level(mixer) == pytest.approx(0.75)
    mixer.set_muted(MIXTURE, True)  # muted after the solo: silence
    assert level(mixer) == pytest.approx(0.0)


def test_reading_the_device_returns_the_mix_as_float32_frames(mixer):
    mixer.set_soloed("drums", True)
    data = mixer.read(8 * 2 * 4)  # 8 stereo float32 frames
    samples = np.frombuffer(bytes(data), dtype="<f4").reshape(-1, 2)
    assert samples.shape == (8, 2)
    np.testing.assert_allclose(samples, 0.2)
    assert mixer.position == 8
    mixer.set_soloed("drums", False)
    mixer.set_muted("bass", True)
    mixer.set_muted("other", True)
    samples = np.frombuffer(bytes(mixer.read(4 * 2 * 4)), dtype="<f4")
    np.testing.assert_allclose(samples, 0.2)  # the change is heard at the next read


def test_int16_output_and_clipping(qapp):
    mixer = StemMixer()
    mixer.set_tracks({"bass": constant(0.8, 1), "drums": constant(0.7, 1)})
    mixer.sample_format = "int16"
    samples = np.frombuffer(bytes(mixer.read(6)), dtype="<i2")
    np.testing.assert_array_equal(samples, [32767, 32767, 32767])  # 1.5 clipped to full scale
    mixer.clear()


def test_seek_and_end_of_track(mixer):
    mixer.seek_seconds(0.49)
    assert mixer.position == 490
    assert mixer.render(100).shape == (10, 2)
    assert mixer.at_end
    assert bytes(mixer.read(64)) == b""
    mixer.seek_seconds(-3)
    assert mixer.position == 0


def test_tracks_stream_from_files(tmp_path, qapp):
    rng = np.random.default_rng(1)
    mix = rng.uniform(-0.4, 0.4, size=(3000, 2)).astype(np.float32)
    bass = mix * 0.25
    paths = {}
    for name, data in ((MIXTURE, mix), ("bass", bass), ("other", mix - bass)):
        paths[name] = tmp_path / f"{name}.wav"
        sf.write(str(paths[name]), data, 8000, subtype="FLOAT")
    mixer = StemMixer()
    mixer.set_tracks({name: FileTrack(path) for name, path in paths.items()})
    mixer.seek_frame(1000)
    np.testing.assert_allclose(mixer.render(500), mix[1000:1500], atol=1e-6)
    mixer.set_soloed("bass", True)
    np.testing.assert_allclose(mixer.render(500), bass[1500:2000], atol=1e-6)
    mixer.clear()


def test_tracks_must_share_rate_and_channels(qapp):
    mixer = StemMixer()
    with pytest.raises(ValueError, match="bass"):
        mixer.set_tracks({MIXTURE: constant(0.1, 2), "bass": constant(0.1, 1)})


def test_audible_rule():
    names = [MIXTURE, "bass", "drums"]
    assert audible_tracks(names, set(), {MIXTURE}) == ["bass", "drums"]
    assert audible_tracks(names, {"drums"}, {MIXTURE}) == ["drums"]
    assert audible_tracks(names, {"ghost"}, set()) == names  # a solo on an absent track is ignored


def test_routing_changes_are_signalled(mixer, qtbot):
    with qtbot.waitSignal(mixer.routing_changed):
        mixer.set_muted("bass", True)
