"""``stemforge eval --full-band`` on a tiny 44.1 kHz set: drums are broadband noise, the
other stems low tones, so the drums own the high band and ``assign`` must hand it to them."""

import argparse
import json
import math

import numpy as np
import pytest
import soundfile as sf

from core.cli import run_command
from core.errors import ConfigError
from core.evaluation import command as eval_command
from core.evaluation.full_band import FullBandSource, evaluate_full_band, full_band_json
from core.instruments import INSTRUMENTS
from tests.fakes import TEST_PRESETS, FilterBankModel

RATE = 44100
CHUNK = 4 * 22050  # one 4 s window per chunk at the model's rate


def write_set(root, rate, seconds=4.2):
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    folder = root / "test" / "Track00001"
    folder.mkdir(parents=True)
    for index, name in enumerate(INSTRUMENTS):
        if name == "drums":
            audio = 0.05 * rng.standard_normal(t.size)
        else:
            audio = 0.2 * np.sin(2 * math.pi * (60 + 300 * index) * t)
        sf.write(str(folder / f"{name}.wav"), audio.astype(np.float32), rate, subtype="FLOAT")
    return root


def test_chunks_are_read_at_the_set_rate_and_at_the_model_rate(tmp_path):
    source = FullBandSource(write_set(tmp_path / "data", RATE), ["test"], CHUNK)
    (chunk,) = list(source)
    assert chunk.rate == RATE
    assert chunk.stems.shape == (4, 2 * CHUNK) and chunk.stems_model.shape == (4, CHUNK)
    np.testing.assert_allclose(chunk.mixture, chunk.stems.sum(0), atol=1e-6)


def test_a_set_at_the_model_rate_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no band above"):
        FullBandSource(write_set(tmp_path / "data", 22050), ["test"], CHUNK)


def test_assign_gives_the_drums_their_high_band(tmp_path):
    source = FullBandSource(write_set(tmp_path / "data", RATE), ["test"], CHUNK)
    model = FilterBankModel(segment_samples=8192)
    result = evaluate_full_band(model, list(source), [TEST_PRESETS["draft"]])
    report = full_band_json(result, {"data": "x", "split": "test", "seed": 0})
    high = {row["name"]: row["active"] for row in report["bands"]["high band"]}
    full = {row["name"]: row["active"] for row in report["bands"]["full band"]}
    assert set(high) == {"mixture", "draft/assign", "draft/learned", "draft/residual", "oracle high-band mask"}
    assert high["mixture"]["drums"] == 0.0
    assert high["draft/residual"]["drums"] < -20  # an empty high band
    assert high["draft/assign"]["drums"] > high["draft/residual"]["drums"] + 20
    assert full["draft/assign"]["drums"] > full["draft/residual"]["drums"]
    assert report["rate"] == RATE and report["windows_kept"] == 1


def test_command_writes_the_full_band_report(tmp_path, monkeypatch):
    monkeypatch.setattr(eval_command, "resolve_model", lambda spec, device: FilterBankModel(segment_samples=8192))
    parser = argparse.ArgumentParser()
    eval_command.add_arguments(parser)
    args = parser.parse_args(["--data", str(write_set(tmp_path / "data", RATE)), "--full-band", "--modes", "draft",
                              "--chunk-samples", str(CHUNK), "--out", str(tmp_path / "report"), "--quiet"])
    assert run_command(eval_command.run, args) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["kind"] == "full-band" and set(report["bands"]) == {"model band", "full band", "high band"}
    assert "## high band" in (tmp_path / "report" / "report.md").read_text()
    from core.audio.learned_high_band import find_weights

    mask = report["learned_mask"]  # which learned mask the `learned` rows used (the shipped one here)
    assert mask["path"] == str(find_weights(FilterBankModel(segment_samples=8192).model_id))
    assert len(mask["sha256"]) == 64 and mask["sha256"][:16] in (tmp_path / "report" / "report.md").read_text()


@pytest.mark.parametrize("high_band", ["assign", "learned"])
def test_the_high_band_stage_on_residual_stems_is_the_pipeline_s_output(tmp_path, high_band):
    """The evaluation runs the model once and applies each mode's stage to those stems:
    that must be what the pipeline writes for the mode."""
    from core.evaluation.full_band import pipeline_estimates, with_high_band

    (chunk,) = list(FullBandSource(write_set(tmp_path / "data", RATE), ["test"], CHUNK))
    model, preset = FilterBankModel(segment_samples=8192), TEST_PRESETS["draft"]
    residual = pipeline_estimates(model, chunk.mixture, RATE, preset, 3, "residual")
    direct = pipeline_estimates(model, chunk.mixture, RATE, preset, 3, high_band)
    staged = with_high_band(residual, chunk.mixture, RATE, high_band, model)
    assert not np.allclose(direct, residual)
    np.testing.assert_allclose(staged, direct, atol=1e-6)


def test_per_track_keeps_each_song_s_first_chunks_as_copies(tmp_path):
    data = write_set(tmp_path / "data", RATE, seconds=12.5)  # three chunks
    every = list(FullBandSource(data, ["test"], CHUNK))
    first = list(FullBandSource(data, ["test"], CHUNK, per_track=1))
    assert len(every) == 3 and [c.index for c in first] == [0]
    np.testing.assert_array_equal(first[0].stems, every[0].stems)
    assert first[0].stems.base is None and first[0].stems_model.base is None  # not views of the song
