"""The pedalboard production chain and the mix bus."""

from __future__ import annotations

import random

import numpy as np

from core.data.synth.production import (
    apply_bus,
    apply_chain,
    bus_gain,
    draw_bus_chain,
    draw_stem_chain,
)

RATE = 22050


def _has(chain, name):
    return any(effect.name == name for effect in chain)


def test_chains_are_a_function_of_the_generator():
    a = draw_stem_chain(random.Random(4), "guitar", "rock")
    b = draw_stem_chain(random.Random(4), "guitar", "rock")
    assert a == b and [e.describe() for e in a] == [e.describe() for e in b]


def test_rock_guitars_are_mostly_distorted_and_clean_sources_never_are():
    rng = random.Random(0)
    rock = np.mean([_has(draw_stem_chain(rng, "guitar", "rock"), "Distortion") for _ in range(400)])
    pop = np.mean([_has(draw_stem_chain(rng, "guitar", "pop"), "Distortion") for _ in range(400)])
    assert rock > 0.65 and pop < 0.4
    assert not any(
        _has(draw_stem_chain(rng, "guitar", "rock", clean_only=True), "Distortion")
        for _ in range(200)
    )
    bass = [draw_stem_chain(rng, "bass", "pop") for _ in range(400)]
    assert np.mean([_has(c, "Compressor") for c in bass]) > 0.6
    assert np.mean([_has(c, "Reverb") for c in bass]) > 0.5


def test_a_distorted_chain_changes_the_sound_and_an_empty_one_does_not():
    t = np.arange(RATE) / RATE
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    assert apply_chain(x, [], RATE) is x
    rng = random.Random(1)
    chain = next(c for c in (draw_stem_chain(rng, "guitar", "rock") for _ in range(50))
                 if _has(c, "Distortion"))
    y = apply_chain(x, chain, RATE)
    assert y.shape == x.shape and y.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(y))
    harmonics = spectrum[3 * 220 - 2 : 3 * 220 + 3].max() / spectrum[218:223].max()
    assert harmonics > 0.05  # a pure sine gained odd harmonics


def test_the_bus_applies_one_gain_to_every_stem_and_tames_a_loud_burst():
    rng = np.random.default_rng(0)
    stems = (0.05 * rng.standard_normal((3, 2 * RATE))).astype(np.float32)
    stems[:, RATE : RATE + 2000] *= 12.0  # a burst in the middle
    chain = [e for e in (draw_bus_chain(random.Random(s)) for s in range(50)) if len(e) >= 2][0]
    out = apply_bus(stems, chain, RATE)
    gain = bus_gain(stems.sum(axis=0), chain, RATE)
    assert np.allclose(out, stems * gain[None, :])
    assert np.allclose(out.sum(axis=0), stems.sum(axis=0) * gain, atol=1e-5)
    assert gain[RATE + 1000] < 0.7 * np.median(gain[: RATE // 2])
    assert np.array_equal(apply_bus(stems, [], RATE), stems)
