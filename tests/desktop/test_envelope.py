"""Peak envelopes: every bucket holds the true min/max of its frames, at every level and zoom."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from desktop.envelope import BASE_BUCKET, LEVEL_FACTOR, PeakEnvelope, zigzag


def brute_extremes(mono: np.ndarray, bucket: int) -> tuple[np.ndarray, np.ndarray]:
    count = -(-mono.shape[0] // bucket)
    mins = np.array([mono[i * bucket:(i + 1) * bucket].min() for i in range(count)])
    maxs = np.array([mono[i * bucket:(i + 1) * bucket].max() for i in range(count)])
    return mins, maxs


@pytest.fixture
def signal():
    rng = np.random.default_rng(7)
    frames = 300_001  # not a multiple of any bucket
    audio = rng.standard_normal((frames, 2)).astype(np.float32) * 0.2
    audio[123_457, 1] = 0.99  # single-sample peaks must survive every level
    audio[250_000, 0] = -0.97
    return audio


def test_every_level_matches_brute_force(signal):
    envelope = PeakEnvelope.from_array(signal, 44100)
    mono_min, mono_max = signal.min(axis=1), signal.max(axis=1)
    assert len(envelope.levels) >= 3
    for level, (mins, maxs) in enumerate(envelope.levels):
        bucket = BASE_BUCKET * LEVEL_FACTOR**level
        expected_min = brute_extremes(mono_min, bucket)[0]
        expected_max = brute_extremes(mono_max, bucket)[1]
        np.testing.assert_array_equal(mins, expected_min)
        np.testing.assert_array_equal(maxs, expected_max)
    assert envelope.levels[-1][0].shape[0] <= 1024


def test_view_buckets_hold_the_extremes_of_their_frames(signal):
    envelope = PeakEnvelope.from_array(signal, 44100)
    mono_min, mono_max = signal.min(axis=1), signal.max(axis=1)
    for start, end, pixels in ((0.0, envelope.duration, 700), (1.0, 3.5, 333), (2.79, 2.8, 400)):
        times, mins, maxs, step = envelope.view(start, end, pixels)
        assert times.shape[0] <= 2 * pixels + 2, "one to two buckets per pixel"
        assert step * 44100 <= max((end - start) * 44100 / pixels, BASE_BUCKET), "no bucket wider than a pixel"
        assert times[0] <= start + 1e-9 and times[-1] + step >= min(end, envelope.duration) - 1e-9
        for t, low, high in zip(times, mins, maxs, strict=True):
            first = int(round(t * 44100))
            last = min(int(round((t + step) * 44100)), signal.shape[0])
            assert low == mono_min[first:last].min()
            assert high == mono_max[first:last].max()


def test_peaks_are_never_lost_when_zoomed_out(signal):
    envelope = PeakEnvelope.from_array(signal, 44100)
    _, mins, maxs, _ = envelope.view(0.0, envelope.duration, 200)
    assert maxs.max() == pytest.approx(0.99)
    assert mins.min() == pytest.approx(-0.97)


def test_the_level_follows_the_zoom(signal):
    envelope = PeakEnvelope.from_array(signal, 44100)
    assert envelope.level_for(10) == 0
    assert envelope.level_for(BASE_BUCKET * LEVEL_FACTOR) == 1
    assert envelope.level_for(BASE_BUCKET * LEVEL_FACTOR - 1) == 0
    assert envelope.level_for(1e12) == len(envelope.levels) - 1


def test_a_long_file_costs_the_same_to_draw(tmp_path):
    """Ten minutes at 44.1 kHz: reading is streamed, every view costs O(pixels)."""
    frames = 10 * 60 * 44100
    rng = np.random.default_rng(0)
    path = tmp_path / "long.wav"
    with sf.SoundFile(str(path), "w", 44100, 1, "PCM_16") as handle:
        for _ in range(frames // (1 << 20) + 1):
            handle.write((rng.standard_normal(1 << 20) * 0.1).astype(np.float32))
    envelope = PeakEnvelope.from_file(path)
    assert envelope.frames >= frames
    assert sum(m.nbytes + x.nbytes for m, x in envelope.levels) < 6_000_000
    for start, end in ((0, envelope.duration), (100, 160), (300, 300.5)):
        view = envelope.view(start, end, 1500)
        assert 0 < view.times.shape[0] <= 2 * 1500 + 2


def test_from_file_equals_from_array(tmp_path, signal):
    path = tmp_path / "x.wav"
    sf.write(str(path), signal, 22050, subtype="FLOAT")
    from_file = PeakEnvelope.from_file(path)
    from_array = PeakEnvelope.from_array(signal, 22050)
    assert from_file.samplerate == 22050 and from_file.frames == signal.shape[0]
    for (a_min, a_max), (b_min, b_max) in zip(from_file.levels, from_array.levels, strict=True):
        np.testing.assert_array_equal(a_min, b_min)
        np.testing.assert_array_equal(a_max, b_max)


def test_zigzag_visits_min_and_max_of_every_bucket():
    envelope = PeakEnvelope.from_array(np.array([0, 1, -1, 0.5] * 64, dtype=np.float32), 64)
    view = envelope.view(0, envelope.duration, 4)
    x, y = zigzag(view)
    assert x.shape == y.shape == (2 * view.times.shape[0],)
    assert set(np.round(y, 3)) == {-1.0, 1.0}
    np.testing.assert_allclose(x[0::2], view.times + view.step / 2)


def test_empty_and_out_of_range_views():
    envelope = PeakEnvelope.from_array(np.zeros(1000, np.float32), 1000)
    assert envelope.view(2.0, 3.0, 100).times.shape == (0,)
    assert envelope.view(0.5, 0.5, 100).times.shape == (0,)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_at_once_by_the_readers_of_the_preview(tmp_path):
    """Issue 32 case 12: the envelope thread and the player opened files with libsndfile,
    which waits forever on a FIFO without a writer (and the window's close then waits on it)."""
    from core.errors import AudioLoadError
    from desktop.mixer import FileTrack
    from tests.conftest import FifoWatchdog

    fifo = tmp_path / "stem.wav"
    os.mkfifo(fifo)
    watchdog = FifoWatchdog(fifo)
    try:
        for reader in (PeakEnvelope.from_file, FileTrack):
            with pytest.raises(AudioLoadError, match="is a named pipe"):
                reader(fifo)
    finally:
        watchdog.stop()
    assert not watchdog.fired
