import numpy as np
import pytest
import soundfile as sf

from core.audio.reader import probe, read_blocks
from core.errors import AudioLoadError


def test_probe_and_stream_blocks(make_audio):
    path = make_audio("a.flac", seconds=1.0, samplerate=48000, channels=2, subtype="PCM_24")
    info = probe(path)
    assert (info.frames, info.samplerate, info.channels, info.subtype) == (48000, 48000, 2, "PCM_24")
    blocks = list(read_blocks(info, 10000))
    assert [b.shape[0] for b in blocks] == [10000] * 4 + [8000]
    assert all(b.dtype == np.float64 and b.shape[1] == 2 for b in blocks)


@pytest.mark.parametrize("name,fmt", [("x.ogg", "OGG"), ("x.mp3", "MP3"), ("x.aiff", "AIFF")])
def test_other_formats_are_read(make_audio, tmp_path, name, fmt):
    data = np.random.default_rng(0).uniform(-0.3, 0.3, (22050, 2))
    path = tmp_path / name
    sf.write(str(path), data, 44100, format=fmt)
    info = probe(path)
    assert info.channels == 2 and info.frames > 0
    assert sum(b.shape[0] for b in read_blocks(info, 4096)) == info.frames


def bad_files(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(str(good), np.zeros((4410, 2)), 44100, subtype="PCM_16")
    data = good.read_bytes()
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "random.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    (tmp_path / "truncated.wav").write_bytes(data[: len(data) // 2])
    sf.write(str(tmp_path / "zero.wav"), np.zeros((0, 2)), 44100)
    sf.write(str(tmp_path / "six.wav"), np.zeros((100, 6)), 44100)
    (tmp_path / "text.mp3").write_text("hello, not an MP3")  # libsndfile: "not a regular file"
    return {
        "text.mp3": "no valid audio stream",
        "empty.wav": "not a readable audio file",
        "random.wav": "not a readable audio file",
        "truncated.wav": "truncated",
        "zero.wav": "no audio samples",
        "six.wav": "6 channels",
        "missing.wav": "no such file",
    }


def test_bad_files_give_one_line_errors_naming_the_file(tmp_path):
    for name, reason in bad_files(tmp_path).items():
        with pytest.raises(AudioLoadError) as caught:
            probe(tmp_path / name)
        message = str(caught.value)
        assert name in message and reason in message and "\n" not in message


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(AudioLoadError, match="folder"):
        probe(tmp_path)


def test_nan_samples_are_reported_with_their_time(tmp_path):
    data = np.zeros((44100, 1), np.float32)
    data[22050] = np.nan
    sf.write(str(tmp_path / "nan.wav"), data, 44100, subtype="FLOAT")
    info = probe(tmp_path / "nan.wav")
    with pytest.raises(AudioLoadError, match=r"NaN or infinite samples \(first at 0.500 s\)"):
        list(read_blocks(info, 4096))


def test_truncated_flac_fails_while_reading(tmp_path):
    sf.write(str(tmp_path / "x.flac"), np.random.default_rng(0).uniform(-.5, .5, (44100, 2)), 44100)
    data = (tmp_path / "x.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioLoadError, match="cut.flac"):
        list(read_blocks(probe(tmp_path / "cut.flac"), 4096))
