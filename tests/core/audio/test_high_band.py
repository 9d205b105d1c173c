"""High-band assignment: exact lengths, streaming, stems untouched below the crossover,
the high band going to the stem whose content reaches the edge."""

import numpy as np
import pytest
import soxr

from core.audio.high_band import (
    DEFAULT_SETTINGS,
    HighBandAssigner,
    HighBandMasks,
    crossover_weights,
    has_high_band,
)

RATE = 44100


def run(assigner, mix, stems, block):
    mixes, outs = [], []
    for start in range(0, mix.shape[0], block):
        m, s = assigner.push(mix[start : start + block], stems[start : start + block])
        mixes.append(m)
        outs.append(s)
    m, s = assigner.finish()
    return np.concatenate(mixes + [m]), np.concatenate(outs + [s])


def high_pass(x, rate=RATE, edge=11025.0):
    spectrum = np.fft.rfft(x, axis=0)
    spectrum[np.fft.rfftfreq(x.shape[0], 1 / rate) < edge] = 0
    return np.fft.irfft(spectrum, n=x.shape[0], axis=0)


def band_limited(noise):
    """The model's view: ``noise`` through 22.05 kHz and back (nothing above 11 kHz)."""
    down = soxr.resample(noise, RATE, 22050)
    return soxr.resample(down, 22050, RATE)[: noise.shape[0]]


def test_only_rates_above_the_model_band_have_a_high_band():
    assert has_high_band(44100) and has_high_band(48000)
    assert not has_high_band(22050) and not has_high_band(16000)
    with pytest.raises(ValueError):
        HighBandAssigner(22050, 1, 4)


def test_crossover_is_zero_below_start_and_one_from_the_edge():
    weights = crossover_weights(np.array([0.0, 9000.0, 9922.5, 10500.0, 11025.0, 20000.0]), 11025.0, 0.9)
    assert weights[0] == weights[1] == weights[2] == 0.0
    assert 0.0 < weights[3] < 1.0
    assert weights[4] == weights[5] == 1.0


@pytest.mark.parametrize("frames,block", [(30011, 30011), (30011, 777), (5, 5), (1, 1), (4000, 64)])
def test_lengths_are_exact_and_streaming_matches_one_block(frames, block):
    rng = np.random.default_rng(frames)
    mix = rng.standard_normal((frames, 2))
    stems = rng.standard_normal((frames, 2, 3))
    whole_mix, whole = run(HighBandAssigner(RATE, 2, 3), mix, stems, frames)
    blocked_mix, blocked = run(HighBandAssigner(RATE, 2, 3), mix, stems, block)
    assert whole.shape == blocked.shape == stems.shape
    np.testing.assert_array_equal(whole_mix, mix)  # the input is passed through, untouched
    np.testing.assert_array_equal(blocked_mix, mix)
    np.testing.assert_allclose(blocked, whole, atol=1e-5)


def test_stems_are_unchanged_when_there_is_no_high_band():
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((20000, 2)) * 0.5
    stems = soxr.resample(soxr.resample(noise, RATE, 16000), 16000, RATE)[:20000, None, :]  # below 8 kHz
    mix = stems.sum(-1)
    _, out = run(HighBandAssigner(RATE, 1, 2), mix, stems, 4096)
    inner = slice(2048, -2048)  # the abrupt start and end do have a high band
    np.testing.assert_allclose(out[inner], stems[inner], atol=1e-5)


def test_the_high_band_goes_to_the_stem_that_reaches_the_edge():
    """Stem 0 is broadband (cymbal-like noise), stem 1 stops at 4 kHz: stem 0 gets the
    input's high band, stem 1 almost none of it, and nothing is invented."""
    rng = np.random.default_rng(2)
    frames = 3 * RATE
    bright = rng.standard_normal(frames) * 0.2
    dull = soxr.resample(soxr.resample(rng.standard_normal(frames), RATE, 8000), 8000, RATE)[:frames]
    mix = (bright + dull)[:, None]
    stems = np.stack([band_limited(bright), band_limited(dull)], axis=-1)[:, None, :]  # what the model returns
    _, out = run(HighBandAssigner(RATE, 1, 2), mix, stems, 8192)
    inner = slice(RATE // 4, -RATE // 4)
    target = high_pass(bright)[inner]
    got_bright, got_dull = high_pass(out[:, 0, 0])[inner], high_pass(out[:, 0, 1])[inner]
    error_db = 10 * np.log10(np.sum((got_bright - target) ** 2) / np.sum(target**2))
    assert error_db < -15
    assert np.sum(got_dull**2) < 1e-3 * np.sum(target**2)
    before = np.sum(stems[inner, 0, 0] ** 2)
    assert np.sum(out[inner, 0, 0] ** 2) > before  # it gained the high band
    assert np.sum(high_pass(out[:, 0].sum(-1))[inner] ** 2) <= 1.01 * np.sum(high_pass(mix[:, 0])[inner] ** 2)


def test_masks_are_shares_and_silence_claims_nothing():
    size = DEFAULT_SETTINGS.frame_samples(RATE)
    masks = HighBandMasks(np.fft.rfftfreq(size, 1 / RATE), 11025.0, DEFAULT_SETTINGS, size / 2 / RATE)
    rng = np.random.default_rng(3)
    bins = size // 2 + 1
    stems = (rng.standard_normal((2, 4, 7, bins)) + 1j * rng.standard_normal((2, 4, 7, bins))).astype(np.complex64)
    stems[:, 2] = 0  # a silent stem
    mix = stems.sum(1) + 0.1 * rng.standard_normal((2, 7, bins))
    values = masks(stems, mix)
    assert values.shape == (2, 4, 7, masks.high.size)
    assert values.min() >= 0 and values.sum(1).max() <= 1 + 1e-6
    assert values[:, 2].max() < 1e-6


def test_a_float_input_far_beyond_full_scale_gets_finite_shares():
    """Issue 32 case 3: at a peak of 7e18 the float32 squares of the reference powers
    overflowed and every stem came out NaN. The shares do not depend on the level."""
    rng = np.random.default_rng(4)
    mix = rng.standard_normal((20000, 2))
    stems = np.stack([band_limited(mix) * 0.7, band_limited(mix) * 0.3], axis=-1)
    _, unit = run(HighBandAssigner(RATE, 2, 2), mix, stems, 4096)
    with np.errstate(over="raise", invalid="raise"):
        _, huge = run(HighBandAssigner(RATE, 2, 2), mix * 7e18, stems * 7e18, 4096)
    assert np.isfinite(huge).all()
    np.testing.assert_allclose(huge / 7e18, unit, rtol=1e-3, atol=1e-6)
