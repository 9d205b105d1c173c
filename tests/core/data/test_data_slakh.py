"""The Slakh reader: both layouts, class mapping, resampling, bad tracks, the cache."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from core.data import slakh
from core.data.slakh import SkippedTrackWarning, default_cache_dir, load_split
from core.errors import ConfigError
from tests.core.data.slakh_fixtures import (
    stem_info,
    tone,
    write_preprocessed_track,
    write_slakh_track,
)


def _original_track(split_dir, name="Track00001", rate=44100, seconds=1.0):
    """Bass + two guitars + drums (by is_drum) + an organ + an unrendered piano, stereo."""
    stems = {
        "S00": (stem_info("Bass"), tone(seconds, rate, 55, 0.2, 2)),
        "S01": (stem_info("Guitar"), tone(seconds, rate, 330, 0.1, 2)),
        "S02": (stem_info("Guitar"), tone(seconds, rate, 440, 0.1, 2)),
        "S03": (stem_info("Drums", is_drum=True), tone(seconds, rate, 1000, 0.05, 2)),
        "S04": (stem_info("Organ"), tone(seconds, rate, 600, 0.1, 2)),
        "S05": (stem_info("Piano", rendered=False), None),
    }
    return write_slakh_track(split_dir, name, stems, rate)


def test_original_layout_sums_classes_downmixes_and_resamples(tmp_path):
    _original_track(tmp_path / "train")
    (track,) = load_split(tmp_path, "train")
    audio = track.audio()
    assert audio.shape == (5, 22050) and audio.dtype == np.float32
    assert track.num_samples == 22050
    bass, drums, guitar, piano = audio[1:]
    assert np.all(piano == 0)  # the only piano stem was not rendered
    middle = slice(2000, 20000)  # away from the resampler's edges
    t = np.arange(22050) / 22050
    # stereo sines with phases 0 and 1 average to amplitude cos(0.5) at phase 0.5
    expected_guitar = (
        0.1 * np.cos(0.5) * (np.sin(2 * np.pi * 330 * t + 0.5) + np.sin(2 * np.pi * 440 * t + 0.5))
    )
    assert np.allclose(guitar[middle], expected_guitar[middle], atol=2e-3)
    assert np.abs(bass[middle]).max() == pytest.approx(0.2 * np.cos(0.5), rel=0.02)
    assert np.abs(drums[middle]).max() > 0.03
    assert np.allclose(audio[0], audio[1:].sum(axis=0), atol=1e-6)  # organ dropped


def test_other_instruments_can_be_kept_in_the_mixture(tmp_path):
    _original_track(tmp_path / "train")
    (track,) = load_split(tmp_path, "train", include_other=True)
    audio = track.audio()
    residual = audio[0] - audio[1:].sum(axis=0)
    assert np.abs(residual[2000:20000]).max() == pytest.approx(0.1 * np.cos(0.5), rel=0.05)


def test_preprocessed_layout_with_an_absent_stem(tmp_path):
    write_preprocessed_track(
        tmp_path / "test",
        "Track01500",
        {
            "bass": tone(2, 22050, 50)[:, 0],
            "drums": tone(2, 22050, 900)[:, 0],
            "piano": tone(2, 22050, 262)[:, 0],
        },
    )
    (track,) = load_split(tmp_path, "test")
    audio = track.audio()
    assert audio.shape == (5, 44100)
    assert np.all(audio[3] == 0)  # guitar.wav absent: silent target
    expected = tone(2, 22050, 50)[:, 0]
    # the cache stores int16: float sources come back within half an LSB
    assert np.abs(audio[1] - expected).max() <= 2.0**-16
    assert np.allclose(audio[0], audio[1] + audio[2] + audio[4])


@pytest.mark.parametrize(
    "damage, reason",
    [
        ("missing", "missing stem file"),
        ("length", "mismatched stems"),
        ("yaml", "unreadable metadata.yaml"),
        ("no_stems", "no 'stems' mapping"),
        ("corrupt_audio", "unreadable S01.flac"),
        ("only_other", "no bass, drums, guitar or piano stem"),
    ],
)
def test_bad_tracks_are_skipped_with_a_warning_naming_them(tmp_path, damage, reason):
    split = tmp_path / "train"
    write_slakh_track(split, "Track00001", {"S00": (stem_info("Bass"), tone(1, 22050, 60))})
    bad = {
        "missing": {
            "S00": (stem_info("Bass"), tone(1, 22050, 60)),
            "S01": (stem_info("Piano"), None),
        },
        "length": {
            "S00": (stem_info("Bass"), tone(1, 22050, 60)),
            "S01": (stem_info("Piano"), tone(0.9, 22050, 300)),
        },
        "yaml": {"S00": (stem_info("Bass"), tone(1, 22050, 60))},
        "no_stems": {"S00": (stem_info("Bass"), tone(1, 22050, 60))},
        "corrupt_audio": {
            "S00": (stem_info("Bass"), tone(1, 22050, 60)),
            "S01": (stem_info("Piano"), tone(1, 22050, 300)),
        },
        "only_other": {"S00": (stem_info("Strings"), tone(1, 22050, 60))},
    }[damage]
    directory = write_slakh_track(split, "Track00002", bad)
    if damage == "yaml":
        (directory / "metadata.yaml").write_text("stems: [unclosed\n  - : :")
    if damage == "no_stems":
        (directory / "metadata.yaml").write_text("audio_dir: stems\n")
    if damage == "corrupt_audio":
        (directory / "stems" / "S01.flac").write_bytes(b"not a flac file at all")
    with pytest.warns(SkippedTrackWarning) as caught:
        tracks = load_split(tmp_path, "train")
    assert [t.name for t in tracks] == ["Track00001"]
    messages = [str(w.message) for w in caught]
    assert any("Track00002" in m and reason in m for m in messages), messages


def test_missing_split_is_a_config_error_naming_the_present_ones(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(ConfigError, match="validation.*train"):
        load_split(tmp_path, "validation")


def test_cache_is_reused_and_refreshed_when_a_file_changes(tmp_path, monkeypatch):
    split = tmp_path / "train"
    directory = write_preprocessed_track(split, "T1", {"bass": tone(1, 22050, 60)[:, 0]})
    first = load_split(tmp_path, "train")
    assert (tmp_path / ".stemforge-cache").is_dir()
    calls = []
    original = slakh.decode_track
    monkeypatch.setattr(slakh, "decode_track", lambda *a, **k: calls.append(1) or original(*a, **k))
    again = load_split(tmp_path, "train")
    assert calls == [] and again == first
    sf.write(directory / "bass.wav", tone(1.5, 22050, 60)[:, 0], 22050, subtype="FLOAT")
    os.utime(directory / "bass.wav", ns=(1, 1))  # make sure the signature changes
    (track,) = load_split(tmp_path, "train")
    assert calls == [1] and track.num_samples == int(1.5 * 22050)


def test_cache_goes_to_the_user_cache_when_the_dataset_is_not_writable(tmp_path, monkeypatch):
    root = tmp_path / "dataset"
    root.mkdir()
    (root / ".stemforge-cache").write_text("a file blocks the cache folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = default_cache_dir(root)
    assert cache.parent == tmp_path / "xdg" / "stemforge" / "datasets"
    write_preprocessed_track(root / "train", "T1", {"drums": tone(1, 22050, 900)[:, 0]})
    (track,) = load_split(root, "train")
    assert str(track.path).startswith(str(cache))


def test_reads_the_generated_dataset(tiny_synth):
    for split in ("train", "validation", "test"):
        folder = next((tiny_synth / split).glob("Track*"))
        mix, _ = sf.read(folder / "mix.flac", dtype="float32")
        other, _ = sf.read(folder / "other.wav", dtype="float32")
        (whole,) = load_split(tiny_synth, split, include_other=True)
        audio = whole.audio()
        assert audio.shape == (5, 3 * 22050)
        assert np.array_equal(audio[0], mix)  # exact: 16-bit stems sum to the 16-bit mix
        assert np.array_equal(whole.read_other(), other)
        (four,) = load_split(tiny_synth, split)  # the non-target parts left out of the mix
        assert np.array_equal(four.audio()[0], mix - other)
        assert np.array_equal(four.audio()[1:], audio[1:])
        assert not four.has_other and not np.any(four.read_other(10, 20))


def test_parallel_decoding_gives_the_same_cache_and_warnings(tmp_path):
    for root in (tmp_path / "serial", tmp_path / "parallel"):
        for name, frequency in (("T1", 60), ("T2", 90)):
            write_preprocessed_track(
                root / "train", name, {"bass": tone(1, 22050, frequency)[:, 0]}
            )
        write_slakh_track(root / "train", "T3", {"S00": (stem_info("Bass"), None)})
    with pytest.warns(SkippedTrackWarning, match="T3.*missing stem file"):
        serial = load_split(tmp_path / "serial", "train")
    with pytest.warns(SkippedTrackWarning, match="T3.*missing stem file"):
        parallel = load_split(tmp_path / "parallel", "train", jobs=2)
    assert [t.name for t in serial] == [t.name for t in parallel] == ["T1", "T2"]
    for a, b in zip(serial, parallel, strict=True):
        assert np.array_equal(a.audio(), b.audio())
