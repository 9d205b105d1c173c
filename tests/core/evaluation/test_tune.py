"""Tuning sigma_max on validation and writing it into a bundle's presets."""

import argparse
import json

import pytest
import torch

from core.bundle import load_bundle, read_manifest, save_bundle, sha256_file
from core.cli import run_command
from core.errors import ConfigError
from core.evaluation import tune_command
from core.evaluation.models import PAPER_PRESETS, random_model
from core.evaluation.tune import apply_choices, check_tuning_split, tune_presets, write_manifest
from tests.core.evaluation.chunks import SMALL, small_chunk


@pytest.fixture
def bundle(tmp_path):
    model = random_model("tiny", segment_samples=4096)
    return save_bundle(tmp_path / "tiny-bundle", bundle_id="tiny-test", config=model.config,
                       extractor=model.extractor, student=model.student, presets=PAPER_PRESETS,
                       segment_samples=4096, dtype=torch.float32)


@pytest.mark.parametrize("split", ["test", "Test", " test", "test-hard"])
def test_test_splits_are_refused(split):
    with pytest.raises(ConfigError, match="validation"):
        check_tuning_split(split)
    check_tuning_split("validation")


def test_tune_writes_presets_and_keeps_the_weights(bundle):
    manifest = read_manifest(bundle)
    weights_before = sha256_file(bundle / "weights.safetensors")
    model = load_bundle(bundle, "cpu")
    grid = [0.001, 0.3]
    choices, sweep = tune_presets(model, manifest, [small_chunk(0)], grid, SMALL)
    assert set(choices) == {"fast", "balanced", "best"}
    assert sweep.steps == [1, 2, 4] and list(sweep.curves) == ["consistency"]
    for name, choice in choices.items():
        assert choice["steps"] == PAPER_PRESETS[name].steps
        assert choice["sigma_max"] in grid
        best = max(sweep.curves["consistency"][choice["steps"]])
        assert choice["si_sdri_validation"] == pytest.approx(best, abs=1e-4)

    write_manifest(bundle, apply_choices(manifest, choices, sweep, "validation", "data/synth"))
    updated = read_manifest(bundle)
    draft = updated["presets"]["draft"]
    assert {k: draft[k] for k in manifest["presets"]["draft"]} == manifest["presets"]["draft"]
    assert draft["gain_db"] == 0.0 and draft["si_sdri_validation"] == pytest.approx(sweep.extractor, abs=1e-4)
    for name, choice in choices.items():
        row = updated["presets"][name]
        assert row["tuned"] is True
        assert row["sigma_max"] == choice["sigma_max"]
        assert row["si_sdri_validation"] == choice["si_sdri_validation"]
        assert row["gain_db"] == pytest.approx(choice["si_sdri_validation"] - sweep.extractor, abs=1e-3)
    assert updated["metrics"]["sigma_max_tuning"]["split"] == "validation"
    assert updated["metrics"]["sigma_max_tuning"]["grid"] == grid
    assert sha256_file(bundle / "weights.safetensors") == weights_before == updated["files"]["weights.safetensors"]
    reloaded = load_bundle(bundle, "cpu")
    assert reloaded.presets["best"].sigma_max == choices["best"]["sigma_max"]
    assert reloaded.presets["best"].gain_db == updated["presets"]["best"]["gain_db"]


def test_an_extractor_only_bundle_s_two_view_preset_is_measured_against_draft(tmp_path):
    from core.evaluation.protocol import evaluate
    from core.training.export import EXTRACTOR_ONLY_PRESETS

    model = random_model("tiny", segment_samples=4096)
    folder = save_bundle(tmp_path / "alone", bundle_id="tiny-alone", config=model.config,
                         extractor=model.extractor, student=None, presets=EXTRACTOR_ONLY_PRESETS,
                         segment_samples=4096, dtype=torch.float32)
    manifest = read_manifest(folder)
    assert manifest["presets"]["fast"]["views"] == 2
    loaded = load_bundle(folder, "cpu")
    chunks = [small_chunk(0), small_chunk(1)]
    choices, sweep = tune_presets(loaded, manifest, chunks, [0.001, 0.3], SMALL)
    assert set(choices) == {"fast"} and sweep.curves == {}
    expected = evaluate(loaded, chunks, [loaded.presets["draft"], loaded.presets["fast"]], SMALL).table("active")
    assert choices["fast"]["si_sdri_validation"] == pytest.approx(expected["fast"]["All"], abs=1e-4)
    gain = expected["fast"]["All"] - expected["draft"]["All"]
    assert choices["fast"]["gain_db"] == pytest.approx(gain, abs=1e-4) and gain != 0
    write_manifest(folder, apply_choices(manifest, choices, sweep, "validation", "data/synth"))
    reloaded = load_bundle(folder, "cpu")
    assert reloaded.presets["fast"].views == 2 and reloaded.presets["fast"].gain_db == choices["fast"]["gain_db"]
    assert reloaded.presets["draft"].gain_db == 0.0
    assert read_manifest(folder)["presets"]["draft"]["si_sdri_validation"] == pytest.approx(expected["draft"]["All"], abs=1e-4)


def test_write_manifest_refuses_a_bundle_whose_weights_changed(bundle):
    from core.errors import ModelLoadError

    manifest = read_manifest(bundle)
    with open(bundle / "weights.safetensors", "ab") as handle:
        handle.write(b"tampered")
    before = (bundle / "manifest.json").read_text()
    with pytest.raises(ModelLoadError, match="checksum"):
        write_manifest(bundle, manifest)
    assert (bundle / "manifest.json").read_text() == before


def test_tune_command_refuses_the_test_split(bundle, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    tune_command.add_arguments(parser)
    args = parser.parse_args(["--model", str(bundle), "--data", str(tmp_path), "--split", "test"])
    before = (bundle / "manifest.json").read_text()
    assert run_command(tune_command.run, args) == 2
    assert "refusing to tune on the 'test' split" in capsys.readouterr().err
    assert (bundle / "manifest.json").read_text() == before
    assert json.loads(before)["presets"]["fast"].get("tuned") is None
