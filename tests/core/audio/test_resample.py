import numpy as np
import pytest

from core.audio.resample import StreamResampler


@pytest.mark.parametrize("rate", [8000, 44100, 48000, 96000])
def test_stream_is_aligned_and_about_the_expected_length(rate):
    frames = rate  # one second, a click in the middle
    signal = np.zeros((frames, 1), np.float32)
    signal[frames // 2] = 1.0
    stream = StreamResampler(rate, 22050, 1)
    out = np.concatenate([stream.push(signal[i : i + 777]) for i in range(0, frames, 777)]
                         + [stream.flush()])
    assert abs(out.shape[0] - 22050) <= 1
    assert abs(int(np.argmax(np.abs(out[:, 0]))) - 11025) <= 1


def test_same_rate_passes_through():
    block = np.random.default_rng(0).standard_normal((100, 2)).astype(np.float32)
    stream = StreamResampler(22050, 22050, 2)
    np.testing.assert_array_equal(stream.push(block), block)
    assert stream.flush().shape == (0, 2)
