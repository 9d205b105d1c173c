"""Learned high-band masks: shapes and shares, streaming, weights round trip, slots."""

import numpy as np
import pytest
import torch

from core.audio.high_band import DEFAULT_SETTINGS, HighBandAssigner
from core.audio.learned_high_band import (
    FEATURES,
    LearnedHighBandMasks,
    MaskNetwork,
    find_weights,
    instrument_slots,
    learned_masks_maker,
    load_network,
    save_network,
)
from core.errors import ConfigError

RATE = 44100
pytestmark = pytest.mark.usefixtures("single_thread")


def random_network(seed=0):
    torch.manual_seed(seed)
    network = MaskNetwork(hidden=6)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0, 1)
    return network.eval()


def masks(network, slots=range(4)):
    size = DEFAULT_SETTINGS.frame_samples(RATE)
    return LearnedHighBandMasks(network, slots, np.fft.rfftfreq(size, 1 / RATE), 11025.0, DEFAULT_SETTINGS,
                                size / 2 / RATE)


def spectra(rng, channels, stems, frames):
    bins = DEFAULT_SETTINGS.frame_samples(RATE) // 2 + 1
    shape = (channels, stems, frames, bins)
    stem = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    return stem, stem.sum(1) + 0.1 * rng.standard_normal((channels, frames, bins))


def test_masks_are_shares_over_the_high_bins():
    learned = masks(random_network())
    stems, mix = spectra(np.random.default_rng(0), 2, 4, 9)
    raw, tiles = learned.frame_powers(stems, mix)
    assert raw.shape == (2, 10, 9) and tiles.shape == (2, 9, learned.high.size)
    smoothed, tiles_smoothed = learned.smooth(raw, tiles)
    assert learned.features(raw, smoothed, tiles, tiles_smoothed).shape == (2, 9, learned.high.size, FEATURES)
    learned.reset()
    values = learned(stems, mix)
    assert values.shape == (2, 4, 9, learned.high.size)
    assert values.min() >= 0 and values.sum(1).max() < 1  # `other` keeps a share
    assert np.isfinite(values).all()


def test_features_stream_like_one_call():
    """Smoothing carries over between calls: two halves give the one-call features."""
    stems, mix = spectra(np.random.default_rng(1), 1, 4, 12)
    whole = masks(random_network())
    expected = whole(stems, mix)
    split = masks(random_network())
    halves = np.concatenate([split(stems[:, :, :5], mix[:, :5]), split(stems[:, :, 5:], mix[:, 5:])], axis=2)
    np.testing.assert_allclose(halves, expected, atol=1e-6)


def test_a_stem_not_extracted_is_a_zero_slot():
    """Two stems in slots 1 and 3 give the masks of all four with slots 0 and 2 silent."""
    network = random_network(2)
    stems, mix = spectra(np.random.default_rng(2), 1, 4, 6)
    stems[:, [0, 2]] = 0
    full = masks(network)(stems, mix)
    subset = masks(network, instrument_slots(["drums", "piano"]))(stems[:, [1, 3]], mix)
    np.testing.assert_allclose(subset, full[:, [1, 3]], atol=1e-6)
    with pytest.raises(ConfigError, match="vocals"):
        instrument_slots(["drums", "vocals"])


def test_assigner_with_learned_masks_streams_exactly():
    rng = np.random.default_rng(3)
    frames = 9001
    mix = rng.standard_normal((frames, 2))
    stems = rng.standard_normal((frames, 2, 4))
    network = random_network(3)

    def run(block):
        assigner = HighBandAssigner(RATE, 2, 4, make_masks=lambda *a: LearnedHighBandMasks(network, range(4), *a))
        outs = [assigner.push(mix[i : i + block], stems[i : i + block])[1] for i in range(0, frames, block)]
        return np.concatenate(outs + [assigner.finish()[1]])

    whole, blocked = run(frames), run(700)
    assert whole.shape == stems.shape
    np.testing.assert_allclose(blocked, whole, atol=1e-5)


def test_weights_round_trip_and_bad_files_are_one_clear_error(tmp_path):
    network = random_network(4)
    path = tmp_path / "mask.safetensors"
    save_network(network, path, {"seed": 4})
    loaded = load_network(path)
    features = torch.randn(5, FEATURES)
    torch.testing.assert_close(loaded(features), network(features))
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ConfigError, match="broken.safetensors"):
        load_network(broken)
    maker = learned_masks_maker(["drums"], "x", path)
    size = DEFAULT_SETTINGS.frame_samples(RATE)
    made = maker(np.fft.rfftfreq(size, 1 / RATE), 11025.0, DEFAULT_SETTINGS, size / 2 / RATE)
    assert made.slots == [1]


def test_a_model_s_own_mask_is_found_first(tmp_path, monkeypatch):
    monkeypatch.setenv("STEMFORGE_MODELS", str(tmp_path))
    shipped = find_weights("no-such-model")
    assert shipped.name == "high-band.safetensors" and shipped.is_file()  # the one in resources/models
    own = tmp_path / "my-model.high-band.safetensors"
    save_network(random_network(), own, {})
    assert find_weights("my-model") == own
