import hashlib
import os

import numpy as np
import pytest
import soundfile as sf

from core.audio.reader import MAX_SAMPLE_RATE, AudioSource, open_sound_file, probe, read_blocks
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
    (tmp_path / "text.mp3").write_text("hello, not an MP3")
    return {
        "text.mp3": "not a readable audio file",
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


# -- issue 32: hostile inputs ---------------------------------------------------------------


def test_a_symbolic_link_loop_is_one_line(tmp_path):
    """Case 1: `ln -s self.wav self.wav`."""
    (tmp_path / "self.wav").symlink_to("self.wav")
    with pytest.raises(AudioLoadError) as caught:
        probe(tmp_path / "self.wav")
    assert str(caught.value) == f"{tmp_path / 'self.wav'}: a loop of symbolic links, not a file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_at_once_without_waiting_for_a_writer(tmp_path):
    """Case 12: opening a FIFO for reading used to wait forever for a writer."""
    os.mkfifo(tmp_path / "f.wav")
    for opener in (probe, open_sound_file):
        with pytest.raises(AudioLoadError, match=r"f\.wav: is a named pipe, not a regular file"):
            opener(tmp_path / "f.wav")


def test_a_device_is_refused(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("needs /dev/zero")
    with pytest.raises(AudioLoadError, match="is a device"):
        probe("/dev/zero")


def test_a_rate_above_the_limit_is_refused_before_any_work(tmp_path):
    """Case 4: a 160 KB WAV whose header says 1 GHz drove the process to 24 GB."""
    sf.write(str(tmp_path / "ghz.wav"), np.zeros((40000, 1)), 1_000_000_000, subtype="PCM_32")
    with pytest.raises(AudioLoadError, match="sample rate 1000000000 Hz is above the 768000 Hz"):
        probe(tmp_path / "ghz.wav")
    sf.write(str(tmp_path / "top.wav"), np.zeros((100, 1)), MAX_SAMPLE_RATE)
    assert probe(tmp_path / "top.wav").samplerate == 768000


def test_samples_beyond_float32_headroom_are_one_line(tmp_path):
    """Case 3: a float file may hold 3.4e38, where float32 spectra overflow into NaN."""
    data = np.zeros((44100, 1), np.float32)
    data[11025] = 3e38
    sf.write(str(tmp_path / "loud.wav"), data, 44100, subtype="FLOAT")
    with pytest.raises(AudioLoadError, match=r"loud.wav: samples 3e\+38 times full scale \(at 0.250 s\)"):
        list(read_blocks(probe(tmp_path / "loud.wav"), 4096))


def wav_bytes(tmp_path, frames=44100):
    path = tmp_path / "x.wav"
    sf.write(str(path), np.random.default_rng(0).uniform(-.5, .5, (frames, 2)), 44100, subtype="PCM_16")
    return path


def test_the_hash_is_the_files_and_comes_from_the_one_read(tmp_path):
    path = wav_bytes(tmp_path)
    with AudioSource(path) as source:
        with pytest.raises(RuntimeError):
            source.sha256  # noqa: B018 (not read yet)
        frames = sum(block.shape[0] for block in source.blocks(4096))
        assert frames == 44100
        assert source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_truncated_while_it_is_read_fails(tmp_path):
    """Case 8: the file was cut while read: "null exact" with 262,144 of 882,000 frames."""
    path = wav_bytes(tmp_path)
    with AudioSource(path) as source, pytest.raises(AudioLoadError) as caught:
        for index, _ in enumerate(source.blocks(4096)):
            if index == 0:
                os.truncate(path, 44 + 4 * 10000)  # the header stays, most samples go
    message = str(caught.value)
    assert message.startswith(f"{path}: changed while it was being read (176444 -> 40044 bytes)")
    assert "\n" not in message


def test_a_file_rewritten_in_place_while_it_is_read_fails(tmp_path):
    """Case 9: same size, new samples, written after the first block was read."""
    path = wav_bytes(tmp_path)
    with AudioSource(path) as source, pytest.raises(AudioLoadError, match="changed while it was being read "
                                                                          r"\(rewritten in place\)"):
        for index, _ in enumerate(source.blocks(4096)):
            if index == 0:
                status = os.stat(path)
                with open(path, "r+b") as handle:
                    handle.seek(100_000)
                    handle.write(b"\x7f" * 1000)
                os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000))


def test_the_hash_covers_the_bytes_decoded_even_when_the_clock_does_not_move(tmp_path):
    """Case 9, the change hidden from the modification time: the digest is still that
    of the bytes the samples were decoded from, not of the file as it was opened."""
    path = wav_bytes(tmp_path)
    original = hashlib.sha256(path.read_bytes()).hexdigest()
    decoded = []
    with AudioSource(path) as source:
        for index, block in enumerate(source.blocks(4096)):
            decoded.append(block)
            if index == 0:
                status = os.stat(path)
                with open(path, "r+b") as handle:
                    handle.seek(100_000)
                    handle.write(b"\x7f" * 1000)
                os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
        digest = source.sha256
    now = path.read_bytes()
    assert digest == hashlib.sha256(now).hexdigest() != original
    np.testing.assert_array_equal(np.concatenate(decoded), sf.read(str(path), dtype="float64")[0])


class _Stop(BaseException):
    pass


@pytest.mark.skipif(not hasattr(__import__("signal"), "pthread_sigmask"), reason="POSIX signal masks")
def test_a_signal_during_a_read_callback_unwinds_the_read_instead_of_vanishing(make_audio, monkeypatch):
    """libsndfile reads through Python callbacks; cffi drops an exception raised inside one,
    so a SIGTERM handled there used to vanish (CI: a terminated run exited 0)."""
    import signal

    import core.audio.reader

    path = make_audio(seconds=1.0)
    source = AudioSource(path)
    real_readinto = core.audio.reader._HashedReads.readinto

    def readinto_then_signal(self, buffer):  # runs inside libsndfile's read callback
        signal.raise_signal(signal.SIGTERM)
        return real_readinto(self, buffer)

    def stop(number, frame):
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        monkeypatch.setattr(core.audio.reader._HashedReads, "readinto", readinto_then_signal)
        with pytest.raises(_Stop):
            for _ in source.blocks(1024):
                pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        source.close()
