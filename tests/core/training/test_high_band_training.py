"""Training the learned high-band mask on a tiny synthetic set: drums are broadband noise,
the other stems low tones; the "model's stems" are the true stems without their high
band (what the pipeline hands the mask). A few steps must learn to give the drums the
high band, deterministically."""

import dataclasses
import math

import numpy as np
import soxr
import torch

from core.audio.learned_high_band import FEATURES
from core.evaluation.full_band import FullBandChunk
from core.training.high_band import make_example, train_network, window_loss

RATE = 44100


def chunk(seed, seconds=1.0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    stems = np.stack([
        0.3 * np.sin(2 * math.pi * 55 * t),
        0.1 * rng.standard_normal(t.size) * (1 + np.sin(2 * math.pi * 2 * t)),
        0.2 * np.sin(2 * math.pi * 330 * t),
        0.2 * np.sin(2 * math.pi * 523 * t),
    ]).astype(np.float32)
    empty = np.zeros((4, 1), np.float32)
    return FullBandChunk(stems.sum(0), stems, empty[0], empty, RATE, f"T{seed}", 0)


def model_view(stems):
    low = soxr.resample(stems.T, RATE, 22050)
    return soxr.resample(low, 22050, RATE)[: stems.shape[1]].T.astype(np.float32)


def high_band_error_db(network, example):
    """Drums' error on the bins above the edge with the trained masks, relative to their energy."""
    from core.training.high_band import masks_for

    masks = masks_for(RATE, network=network)
    features = masks.features(example.raw, example.smoothed, example.tiles, example.tiles_smoothed)[0]
    with torch.no_grad():
        shares = torch.softmax(network(torch.from_numpy(features)), -1)[..., 1].numpy()
    above = masks.position >= 0
    error = np.abs(shares * example.mix - example.truth[1])[:, above] ** 2
    return 10 * np.log10(error.sum() / (np.abs(example.truth[1][:, above]) ** 2).sum())


def test_training_learns_to_give_the_drums_the_high_band_deterministically():
    examples = []
    for seed in (1, 2):
        source = chunk(seed)
        examples.append(make_example(source, model_view(source.stems)))
    assert examples[0].raw.shape[:2] == (1, 10) and examples[0].truth.shape[0] == 4
    first = train_network(examples, RATE, steps=40, seed=5, hidden=8, learning_rate=1e-2)
    again = train_network(examples, RATE, steps=40, seed=5, hidden=8, learning_rate=1e-2)
    for a, b in zip(first.network.parameters(), again.network.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert first.network.layers[0].in_features == FEATURES
    assert np.mean(first.losses[-10:]) < np.mean(first.losses[:10]) - 3
    untrained = train_network(examples, RATE, steps=0, seed=5, hidden=8)
    assert high_band_error_db(first.network, examples[0]) < -10
    assert high_band_error_db(first.network, examples[0]) < high_band_error_db(untrained.network, examples[0]) - 5


def test_window_loss_is_minus_the_sdr_per_window():
    target = torch.ones(1, 4, 3, dtype=torch.complex64)
    output = target * 0.9  # error energy 1 % of the reference: -20 dB
    mix = torch.zeros(4, 3, dtype=torch.complex64)
    assert abs(float(window_loss(output, target, mix, frames=2)) + 20.0) < 1e-3


def test_source_weights_make_a_weighted_mean_of_the_sources_ratios():
    generator = torch.Generator().manual_seed(0)
    targets = torch.randn(3, 8, 5, dtype=torch.complex64, generator=generator)
    outputs = targets + 0.1 * torch.randn(3, 8, 5, dtype=torch.complex64, generator=generator)
    outputs[1] = 0  # the second source is missed entirely: about 0 dB against ~-20 for the others
    mix = targets.sum(0)
    plain = window_loss(outputs, targets, mix, 4)
    assert torch.isclose(window_loss(outputs, targets, mix, 4, torch.full((3,), 2.0)), plain)
    heavy = window_loss(outputs, targets, mix, 4, torch.tensor([1.0, 4.0, 1.0]))
    light = window_loss(outputs, targets, mix, 4, torch.tensor([1.0, 0.0, 1.0]))
    assert float(light) < float(plain) < float(heavy)


def test_bad_source_weights_are_refused():
    import pytest

    with pytest.raises(ValueError, match="source_weights"):
        train_network([], RATE, 1, 0, source_weights=(1.0, 1.0))


def test_cached_stems_are_keyed_by_the_samples_not_only_the_song_name(tmp_path):
    """Two sets may both have a Track00001 chunk 0: each gets its own model stems."""
    from core.training.high_band import model_stems_for
    from tests.fakes import FilterBankModel

    model = FilterBankModel(segment_samples=8192)
    preset = model.presets["draft"]
    first, second = chunk(1), dataclasses.replace(chunk(2), track=chunk(1).track)
    cached = [model_stems_for(model, c, preset, 0, tmp_path) for c in (first, second)]
    assert len(list(tmp_path.glob("*.npy"))) == 2
    assert not np.allclose(cached[0], cached[1])
    np.testing.assert_array_equal(model_stems_for(model, second, preset, 0, tmp_path), cached[1])
