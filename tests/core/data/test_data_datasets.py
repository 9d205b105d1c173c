"""RandomCropDataset (training) and ChunkDataset (evaluation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data.datasets import ChunkDataset, RandomCropDataset
from core.data.silence import is_silent
from core.errors import ConfigError
from tests.core.data.slakh_fixtures import tone, write_preprocessed_track

RATE = 22050


def _noise(samples: int, amplitude: float, seed: int) -> np.ndarray:
    return (amplitude * np.random.default_rng(seed).standard_normal(samples)).astype(np.float32)


@pytest.fixture
def crops_root(tmp_path):
    """A long track (3 s) and a short one (0.5 s): four distinct stems each."""
    for name, seconds in (("Long", 3.0), ("Short", 0.5)):
        n = int(seconds * RATE)
        write_preprocessed_track(
            tmp_path / "train",
            name,
            {
                "bass": tone(seconds, RATE, 55)[:, 0],
                "drums": _noise(n, 0.1, 1),
                "guitar": tone(seconds, RATE, 330)[:, 0],
                "piano": tone(seconds, RATE, 523)[:, 0],
            },
        )
    return tmp_path


def test_items_are_a_function_of_seed_and_index(crops_root):
    a = RandomCropDataset(crops_root, "train", 4096, seed=3, length=50)
    b = RandomCropDataset(crops_root, "train", 4096, seed=3, length=50)
    c = RandomCropDataset(crops_root, "train", 4096, seed=4, length=50)
    for index in (0, 7, 49, 23):  # any order: no hidden state
        mixture, target, label = a[index]
        again = b[index]
        assert (
            torch.equal(mixture, again[0]) and torch.equal(target, again[1]) and label == again[2]
        )
    assert [a.crop(i) for i in range(50)] != [c.crop(i) for i in range(50)]
    assert len(a) == 50
    with pytest.raises(IndexError):
        a[50]


def test_items_have_the_stated_shapes_and_match_the_cached_audio(crops_root):
    dataset = RandomCropDataset(crops_root, "train", 4096, seed=0, length=200)
    labels = set()
    for index in range(200):
        mixture, target, label = dataset[index]
        assert mixture.shape == (4096,) and target.shape == (4096,)
        assert mixture.dtype == torch.float32 and target.dtype == torch.float32
        assert isinstance(label, int) and 0 <= label < 4
        labels.add(label)
        track, offset, same_label = dataset.crop(index)
        assert same_label == label
        audio = dataset.tracks[track].audio()
        assert 0 <= offset <= audio.shape[1] - 4096
        assert np.array_equal(target.numpy(), audio[1 + label, offset : offset + 4096])
        assert np.array_equal(mixture.numpy(), audio[0, offset : offset + 4096])
    assert labels == {0, 1, 2, 3}


def test_tracks_are_drawn_in_proportion_to_their_crop_positions(crops_root):
    dataset = RandomCropDataset(crops_root, "train", 4096, seed=1, length=3000)
    long_index = [t.name for t in dataset.tracks].index("Long")
    chosen = np.array([dataset.crop(i)[0] for i in range(3000)])
    positions = np.array([max(t.num_samples - 4096, 0) + 1 for t in dataset.tracks])
    expected = positions[long_index] / positions.sum()
    assert abs((chosen == long_index).mean() - expected) < 0.03


def test_tracks_shorter_than_a_segment_are_zero_padded(tmp_path):
    write_preprocessed_track(tmp_path / "train", "Short", {"piano": tone(0.5, RATE, 523)[:, 0]})
    dataset = RandomCropDataset(tmp_path, "train", 2 * RATE, seed=0, length=10)
    assert {dataset.crop(i)[:2] for i in range(10)} == {(0, 0)}
    mixture, target, _ = dataset[0]
    assert mixture.shape == (2 * RATE,)
    assert torch.all(mixture[int(0.5 * RATE) :] == 0)
    assert mixture[: int(0.5 * RATE)].abs().max() > 0


def test_empty_split_is_a_config_error(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(ConfigError):
        RandomCropDataset(tmp_path, "train", 1024)


def test_chunk_dataset_applies_the_drop_rules(tmp_path):
    chunk = 4096
    n = 5 * chunk + 1000  # five full chunks and a partial one
    loud = {
        "bass": tone(n / RATE, RATE, 55, 0.3)[:, 0],
        "drums": _noise(n, 0.2, 2),
        "guitar": tone(n / RATE, RATE, 330, 0.3)[:, 0],
        "piano": tone(n / RATE, RATE, 523, 0.3)[:, 0],
    }

    def silence(name, chunks):
        for c in chunks:
            loud[name][c * chunk : (c + 1) * chunk] = 0.0

    silence("bass", [1, 2, 3])
    silence("drums", [2, 3])
    silence("guitar", [3, 4])
    # chunk 0: no silent stem; 1: one; 2: two (kept); 3: three (dropped); 4: one
    write_preprocessed_track(tmp_path / "test", "T", loud)
    write_preprocessed_track(
        tmp_path / "test", "Quiet", {"bass": np.full(3 * chunk, 1e-6, np.float32)}
    )
    dataset = ChunkDataset(tmp_path, "test", chunk_samples=chunk)
    assert [(dataset.tracks[t].name, c) for t, c in dataset.chunks] == [
        ("T", 0),
        ("T", 1),
        ("T", 2),
        ("T", 4),
    ]
    mixture, stems, name, index = dataset[2]
    assert (name, index) == ("T", 2)
    assert mixture.shape == (chunk,) and stems.shape == (4, chunk)
    assert mixture.dtype == torch.float32 and stems.dtype == torch.float32
    assert is_silent(stems.numpy()).tolist() == [True, True, False, False]
    expected = loud["guitar"][2 * chunk : 3 * chunk]
    assert np.abs(stems[2].numpy() - expected).max() <= 2.0**-16  # int16 cache: half an LSB
    assert torch.allclose(mixture, stems.sum(0), atol=1e-6)


def test_silence_rule_is_norm_over_length():
    n = 10_000
    threshold = 1.5e-5
    just_below = np.full(n, threshold * n / np.sqrt(n) * 0.99)  # ||x|| / n = 0.99 threshold
    just_above = np.full(n, threshold * n / np.sqrt(n) * 1.01)
    assert is_silent(just_below) and not is_silent(just_above)
    assert is_silent(np.zeros((3, 0))).tolist() == [True, True, True]


def test_datasets_read_the_generated_set(tiny_synth):
    crops = RandomCropDataset(tiny_synth, "train", 8192, seed=0, length=20)
    mixture, target, label = crops[0]
    assert mixture.shape == (8192,) and 0 <= label < 4
    chunks = ChunkDataset(tiny_synth, "test", chunk_samples=16384)
    assert len(chunks) <= 4  # 3 s hold four 16384-sample chunks


def test_the_cache_stores_int16_and_is_lossless_for_16_bit_sources(tmp_path):
    pcm = (np.random.default_rng(0).integers(-8000, 8000, (4, 2048))).astype(np.int16)
    stems = dict(zip(("bass", "drums", "guitar", "piano"), pcm.astype(np.float32) / 32768, strict=True))
    write_preprocessed_track(tmp_path / "train", "T", stems)
    dataset = RandomCropDataset(tmp_path, "train", 1024, seed=0, length=4)
    (track,) = dataset.tracks
    assert track.pcm().dtype == np.int16 and track.pcm().shape == (4, 2048)
    audio = track.audio()
    assert np.array_equal(audio[1:], pcm.astype(np.float32) / 32768)
    assert np.array_equal(audio[0], pcm.astype(np.int32).sum(axis=0) / np.float32(32768))


def _remix_root(tmp_path, tracks=5):
    """Tracks whose every stem is a distinct constant, so a crop names its source."""
    for t in range(tracks):
        stems = {
            name: np.full(8192, (t + 1) * 0.01 + c * 0.1, np.float32)
            for c, name in enumerate(("bass", "drums", "guitar", "piano"))
        }
        write_preprocessed_track(tmp_path / "train", f"T{t}", stems)
    return tmp_path


def test_remixed_items_sum_four_stems_of_different_tracks_with_gain_and_polarity(tmp_path):
    root = _remix_root(tmp_path)
    dataset = RandomCropDataset(root, "train", 1024, seed=2, length=400, remix=1.0)
    levels = np.array([[(t + 1) * 0.01 + c * 0.1 for c in range(4)] for t in range(5)])
    signs = set()
    for index in range(40):
        mixture, target, label = dataset[index]
        again = dataset[index]  # a pure function of (seed, index)
        assert torch.equal(mixture, again[0]) and torch.equal(target, again[1])
        stems = dataset.remixed(index, label)
        assert stems is not None
        assert np.allclose(mixture.numpy(), stems[0]) and np.allclose(target.numpy(), stems[1])
        # the target is the label's stem of some track, times a gain in [0.25, 1.25]
        value = float(target[0])
        ratios = np.abs(value) / levels[:, label]
        assert np.any((ratios >= 0.25 - 1e-3) & (ratios <= 1.25 + 1e-3))
        signs.add(np.sign(value))
    assert signs == {-1.0, 1.0}


def test_remix_probability_zero_leaves_items_unchanged_and_half_remixes_about_half(tmp_path):
    root = _remix_root(tmp_path)
    plain = RandomCropDataset(root, "train", 1024, seed=5, length=400)
    never = RandomCropDataset(root, "train", 1024, seed=5, length=400, remix=0.0)
    half = RandomCropDataset(root, "train", 1024, seed=5, length=400, remix=0.5)
    for index in range(20):
        assert torch.equal(plain[index][0], never[index][0])
    remixed = [half.remixed(i, 0) is not None for i in range(400)]
    assert 0.4 < np.mean(remixed) < 0.6
    for index in (i for i in range(20) if not remixed[i]):
        assert torch.equal(plain[index][0], half[index][0])
    with pytest.raises(ValueError):
        RandomCropDataset(root, "train", 1024, remix=1.5)


def test_remix_with_other_adds_the_non_target_parts_of_another_song(tiny_synth):
    from core.data.datasets import RandomCropDataset

    plain = RandomCropDataset(tiny_synth, "train", 22050, seed=3, remix=1.0)
    whole = RandomCropDataset(tiny_synth, "train", 22050, seed=3, remix=1.0, include_other=True)
    assert whole.tracks[0].has_other and not plain.tracks[0].has_other
    differs = 0
    for index in range(6):
        (m_plain, t_plain, l_plain), (m_whole, t_whole, l_whole) = plain[index], whole[index]
        assert l_plain == l_whole and torch.equal(t_plain, t_whole)  # same targets
        extra = (m_whole - m_plain).numpy()
        other = whole.tracks[0].read_other()
        if np.any(extra):
            differs += 1
            # a gained crop of the one training track's other part: |g| in REMIX_GAIN
            assert np.max(np.abs(extra)) <= 1.25 * np.max(np.abs(other)) + 1e-6
    assert differs >= 1


@pytest.mark.parametrize("remix", [0.0, 1.0])
def test_other_probability_leaves_the_non_target_parts_out_of_the_other_items(tiny_synth, remix):
    four = RandomCropDataset(tiny_synth, "train", 22050, seed=3, remix=remix)
    whole = RandomCropDataset(tiny_synth, "train", 22050, seed=3, remix=remix, include_other=True)
    half = RandomCropDataset(tiny_synth, "train", 22050, seed=3, remix=remix, include_other=True,
                             other_probability=0.5)
    kept = [half.keeps_other(i) for i in range(400)]
    assert 0.4 < np.mean(kept) < 0.6
    assert all(whole.keeps_other(i) for i in range(20)) and not any(four.keeps_other(i) for i in range(20))
    left_out = 0
    for index in range(12):
        (m_half, t_half, l_half), (m_whole, t_whole, _), (m_four, _, _) = half[index], whole[index], four[index]
        assert torch.equal(t_half, t_whole)  # the targets never change
        same = m_whole if kept[index] else m_four
        assert torch.allclose(m_half, same, atol=1e-6)
        if not kept[index]:
            left_out += 1
            assert not torch.allclose(m_half, m_whole, atol=1e-4)  # the other part was audible
    assert left_out >= 1
    with pytest.raises(ValueError):
        RandomCropDataset(tiny_synth, "train", 22050, include_other=True, other_probability=1.5)
