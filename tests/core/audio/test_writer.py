import errno

import numpy as np
import pytest
import soundfile as sf

from core.audio.writer import StemWriter, default_subtype, quantize
from core.errors import AudioWriteError


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_written_samples_are_exactly_the_quantized_ones(tmp_path, subtype):
    block = np.random.default_rng(0).uniform(-0.9, 0.9, (500, 2))
    writer = StemWriter(tmp_path / "x.wav", 44100, 2, "wav", subtype)
    stored = writer.write(block)
    writer.commit()
    read, _ = sf.read(str(tmp_path / "x.wav"), dtype="float64")
    np.testing.assert_array_equal(read, stored)
    assert sf.info(str(tmp_path / "x.wav")).subtype == subtype


def test_clipping_is_counted_and_saturates_never_wraps():
    block = np.array([[1.5], [-1.5], [0.25], [0.9999999]])
    stored, clipped = quantize(block, "PCM_16")
    assert clipped == 3  # 0.9999999 rounds to +32768, one step past the largest code
    assert stored[0, 0] == stored[3, 0] == 32767 / 32768 and stored[1, 0] == -1.0
    assert stored[2, 0] == 0.25
    stored, clipped = quantize(block, "FLOAT")
    assert clipped == 0 and stored[0, 0] == 1.5


def test_default_subtype_keeps_depth():
    assert default_subtype("PCM_16", "wav") == "PCM_16"
    assert default_subtype("PCM_24", "flac") == "PCM_24"
    assert default_subtype("FLOAT", "wav") == "FLOAT"
    assert default_subtype("FLOAT", "flac") == "PCM_24"
    assert default_subtype("VORBIS", "wav") == "PCM_24"
    assert default_subtype("MPEG_LAYER_III", "wav") == "PCM_24"
    assert default_subtype("PCM_U8", "wav") == "PCM_16"


def test_nothing_visible_until_commit_and_discard_leaves_nothing(tmp_path):
    writer = StemWriter(tmp_path / "x.wav", 22050, 1, "wav", "PCM_16")
    writer.write(np.zeros((10, 1)))
    assert not (tmp_path / "x.wav").exists()
    writer.discard()
    assert list(tmp_path.iterdir()) == []


def test_ogg_written_in_blocks(tmp_path):
    block = np.random.default_rng(0).uniform(-0.5, 0.5, (200_000, 2))
    writer = StemWriter(tmp_path / "x.ogg", 44100, 2, "ogg", "VORBIS")
    writer.write(block)
    writer.commit()
    assert sf.info(str(tmp_path / "x.ogg")).frames == 200_000


def test_disk_full_becomes_a_clear_error(tmp_path, monkeypatch):
    writer = StemWriter(tmp_path / "x.wav", 22050, 1, "wav", "PCM_16")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer._file, "write", full)
    with pytest.raises(AudioWriteError, match="disk full"):
        writer.write(np.zeros((10, 1)))
    writer.discard()
    assert list(tmp_path.iterdir()) == []


def test_unwritable_destination(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(AudioWriteError, match=str(blocker)):
        StemWriter(blocker / "sub" / "x.wav", 22050, 1, "wav", "PCM_16")


def test_a_write_failing_midway_names_the_system_error(tmp_path):
    """libsndfile reports a failed write as an empty "System error."; the errno behind it
    names the cause (here the file size limit, EFBIG; a full disk gives ENOSPC)."""
    import resource
    import signal

    writer = StemWriter(tmp_path / "x.wav", 44100, 2, "wav", "PCM_16")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
    try:
        with pytest.raises(AudioWriteError, match=r"x\.wav: file too large"):
            for _ in range(10):
                writer.write(np.zeros((44100, 2)))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
        writer.discard()
    assert list(tmp_path.iterdir()) == []
