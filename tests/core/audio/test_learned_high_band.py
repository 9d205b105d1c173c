"""Learned high-band masks: shapes and shares, causality and streaming, hidden slots,
the frequency grid at other rates, weights round trip, slots."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from core.audio.high_band import DEFAULT_SETTINGS, HighBandAssigner
from core.audio.learned_high_band import (
    SOURCES,
    FrequencyGrid,
    HighBandNet,
    LearnedHighBandMasks,
    find_weights,
    hide_slots,
    instrument_slots,
    learned_masks_maker,
    load_network,
    save_network,
)
from core.errors import ConfigError

RATE = 44100
pytestmark = pytest.mark.usefixtures("single_thread")


def random_network(seed=0, sharpness=1.0):
    torch.manual_seed(seed)
    network = HighBandNet((4, 5, 6), sharpness)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0, 0.3)
    return network.eval()


def masks(network, slots=range(4), rate=RATE):
    size = DEFAULT_SETTINGS.frame_samples(rate)
    return LearnedHighBandMasks(network, slots, np.fft.rfftfreq(size, 1 / rate), 11025.0, DEFAULT_SETTINGS,
                                size / 2 / rate)


def spectra(rng, channels, stems, frames, rate=RATE):
    bins = DEFAULT_SETTINGS.frame_samples(rate) // 2 + 1
    shape = (channels, stems, frames, bins)
    stem = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    return stem, stem.sum(1) + 0.1 * rng.standard_normal((channels, frames, bins))


def test_masks_are_shares_over_the_high_bins():
    learned = masks(random_network())
    stems, mix = spectra(np.random.default_rng(0), 2, 4, 9)
    assert learned.inputs(stems, mix).shape == (2, SOURCES + 1, 9, learned.grid.grid.size)
    values = learned(stems, mix)
    assert values.shape == (2, 4, 9, learned.high.size)
    assert values.min() >= 0 and values.sum(1).max() < 1  # `other` keeps a share
    assert np.isfinite(values).all()


def test_a_frame_s_masks_depend_on_its_history_and_nothing_later():
    network = random_network(1)
    stems, mix = spectra(np.random.default_rng(1), 1, 4, 40)
    reference = masks(network)(stems, mix)
    later = stems.copy()
    later[:, :, 30:] *= 3.0
    changed = masks(network)(later, mix)
    np.testing.assert_array_equal(changed[:, :, :30], reference[:, :, :30])  # causal
    assert not np.allclose(changed[:, :, 30:], reference[:, :, 30:])
    earlier = stems.copy()
    earlier[:, :, : 39 - network.history] *= 3.0
    np.testing.assert_allclose(masks(network)(earlier, mix)[:, :, 39], reference[:, :, 39], atol=1e-6)


def test_masks_stream_like_one_call():
    """Blocks, some shorter than the network's history, give the one-call masks."""
    stems, mix = spectra(np.random.default_rng(2), 1, 4, 40)
    network = random_network(2)
    expected = masks(network)(stems, mix)
    split = masks(network)
    edges = [0, 5, 7, 30, 40]
    pieces = [split(stems[:, :, a:b], mix[:, a:b]) for a, b in zip(edges, edges[1:], strict=False)]
    np.testing.assert_allclose(np.concatenate(pieces, axis=2), expected, atol=1e-6)
    split.reset()
    np.testing.assert_allclose(split(stems, mix), expected, atol=1e-6)


def test_a_stem_not_extracted_is_a_zero_slot_and_training_hides_it_alike():
    """Two stems in slots 1 and 3 give the masks of all four with slots 0 and 2 silent;
    hide_slots on the four-slot inputs gives the inputs of that run."""
    network = random_network(3)
    stems, mix = spectra(np.random.default_rng(3), 1, 4, 6)
    full_masks = masks(network)
    zeroed = stems.copy()
    zeroed[:, [0, 2]] = 0
    subset = masks(network, instrument_slots(["drums", "piano"]))
    np.testing.assert_allclose(subset(stems[:, [1, 3]], mix), full_masks(zeroed, mix)[:, [1, 3]], atol=1e-6)
    hidden = hide_slots(torch.from_numpy(full_masks.inputs(stems, mix)[0]), torch.tensor([True, False, True, False]))
    torch.testing.assert_close(hidden, torch.from_numpy(subset.inputs(stems[:, [1, 3]], mix)[0]), atol=1e-5, rtol=0)
    with pytest.raises(ConfigError, match="vocals"):
        instrument_slots(["drums", "vocals"])


def test_sharpness_scales_the_logits():
    stems, mix = spectra(np.random.default_rng(4), 1, 4, 5)
    soft, sharp = random_network(4), random_network(4, sharpness=3.0)
    learned = masks(soft)
    logits = soft(torch.from_numpy(learned.inputs(stems, mix)), learned.grid.places)[..., learned.grid.high_on_grid]
    expected = torch.softmax(3.0 * logits, dim=1)[:, :4].detach().numpy()
    np.testing.assert_allclose(masks(sharp)(stems, mix), expected, atol=1e-6)


def test_the_grid_is_the_frames_at_44_1_khz_and_interpolated_at_48():
    for rate, exact in ((44100, True), (88200, True), (48000, False)):
        size = DEFAULT_SETTINGS.frame_samples(rate)
        freqs = np.fft.rfftfreq(size, 1 / rate)
        high = np.flatnonzero(freqs >= 0.9 * 11025)
        grid = FrequencyGrid(freqs, 11025.0, high)
        assert grid.exact == exact
        ramp = grid.to_grid(np.stack([freqs[grid.input], 2 * freqs[grid.input]]))
        inside = grid.grid <= freqs[-1]  # the grid's last point may pass the top bin: held there
        assert grid.grid[-1] >= freqs[-1] and inside.sum() >= grid.grid.size - 1
        np.testing.assert_allclose(ramp[:, inside], np.stack([grid.grid, 2 * grid.grid])[:, inside], rtol=1e-9)
        back = grid.to_high_bins(grid.grid[None] / 1000.0)
        np.testing.assert_allclose(back[0], freqs[high] / 1000.0, rtol=1e-9)
    assert DEFAULT_SETTINGS.frame_samples(48000) == DEFAULT_SETTINGS.frame_samples(44100) == 2048


@pytest.mark.parametrize("rate", [44100, 48000])
def test_assigner_with_learned_masks_streams_exactly(rate):
    rng = np.random.default_rng(5)
    frames = 9001
    mix = rng.standard_normal((frames, 2))
    stems = rng.standard_normal((frames, 2, 4))
    network = random_network(5)

    def run(block):
        assigner = HighBandAssigner(rate, 2, 4, make_masks=lambda *a: LearnedHighBandMasks(network, range(4), *a))
        outs = [assigner.push(mix[i : i + block], stems[i : i + block])[1] for i in range(0, frames, block)]
        return np.concatenate(outs + [assigner.finish()[1]])

    whole, blocked = run(frames), run(700)
    assert whole.shape == stems.shape
    np.testing.assert_allclose(blocked, whole, atol=1e-5)


def test_weights_round_trip_and_bad_files_are_one_clear_error(tmp_path):
    network = random_network(6, sharpness=2.5)
    path = tmp_path / "mask.safetensors"
    save_network(network, path, {"seed": 6})
    loaded = load_network(path)
    assert loaded.widths == network.widths and loaded.sharpness == 2.5
    inputs, places = torch.randn(1, SOURCES + 1, 7, 33), torch.linspace(-1, 1, 33)
    torch.testing.assert_close(loaded(inputs, places), network(inputs, places))
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ConfigError, match="broken.safetensors"):
        load_network(broken)
    older = tmp_path / "older.safetensors"  # the per-tile perceptron of earlier versions
    save_file({"layers.0.weight": torch.zeros(32, 18)}, str(older), metadata={"hidden": "32", "features": "18"})
    with pytest.raises(ConfigError, match="older.safetensors.*an older network"):
        load_network(older)
    maker = learned_masks_maker(["drums"], "x", path)
    size = DEFAULT_SETTINGS.frame_samples(RATE)
    made = maker(np.fft.rfftfreq(size, 1 / RATE), 11025.0, DEFAULT_SETTINGS, size / 2 / RATE)
    assert made.slots == [1]


def test_a_model_s_own_mask_is_found_first(tmp_path, monkeypatch):
    monkeypatch.setenv("STEMFORGE_MODELS", str(tmp_path))
    shipped = find_weights("no-such-model")
    assert shipped.name == "high-band.safetensors" and shipped.is_file()  # the one in resources/models
    assert load_network(shipped).parameter_count() > 0
    own = tmp_path / "my-model.high-band.safetensors"
    save_network(random_network(), own, {})
    assert find_weights("my-model") == own
