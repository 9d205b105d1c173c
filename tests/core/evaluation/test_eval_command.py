"""``stemforge eval``, ``sweep`` and ``tune`` in tiny configurations (what CI runs)."""

import argparse
import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from core.bundle import read_manifest, save_bundle
from core.cli import run_command
from core.evaluation import command as eval_command
from core.evaluation import sweep_command, tune_command
from core.evaluation.models import PAPER_PRESETS, random_model
from core.instruments import INSTRUMENTS
from tests.fakes import FilterBankModel

SECOND = 22050
TINY_MODEL = "random:tiny:8192"
CHUNK = 4 * SECOND  # one 4 s window per chunk: the smallest chunk the protocol scores


@pytest.fixture
def dataset(tmp_path):
    """MSDM layout: {split}/TrackXXXXX/{bass,drums,guitar,piano}.wav, one chunk per track."""
    root = tmp_path / "data"
    t = np.arange(CHUNK + 500) / SECOND
    for split, seed in (("validation", 1), ("test", 2)):
        rng = np.random.default_rng(seed)
        folder = root / split / f"Track0000{seed}"
        folder.mkdir(parents=True)
        for index, name in enumerate(INSTRUMENTS):
            audio = 0.2 * np.sin(2 * math.pi * (60 + 500 * index) * t) + 0.01 * rng.standard_normal(t.size)
            sf.write(str(folder / f"{name}.wav"), audio.astype(np.float32), SECOND, subtype="FLOAT")
    return root


@pytest.fixture
def filter_bank(monkeypatch):
    """Commands load the fast stand-in model instead of a network (the plumbing is under test)."""
    model = FilterBankModel()
    monkeypatch.setattr(eval_command, "resolve_model", lambda spec, device: model)
    monkeypatch.setattr(sweep_command, "resolve_model", lambda spec, device: model)
    monkeypatch.setattr("core.bundle.load_bundle", lambda folder, device: model)
    return model


def parse(module_add, argv):
    parser = argparse.ArgumentParser()
    module_add(parser)
    return parser.parse_args(argv)


def test_eval_command_on_a_random_tiny_network(dataset, tmp_path, capsys):
    out = tmp_path / "report"
    args = parse(eval_command.add_arguments, [
        "--model", TINY_MODEL, "--data", str(dataset), "--modes", "draft",
        "--max-chunks", "2", "--chunk-samples", str(CHUNK), "--out", str(out), "--quiet"])
    assert args.split == "test"
    assert run_command(eval_command.run, args) == 0
    assert capsys.readouterr().out.count("| draft (extractor) |") == 2
    data = json.loads((out / "report.json").read_text())
    assert [row["name"] for row in data["rows"]] == ["mixture", "oracle IRM", "draft"]
    assert data["chunks"] == 1 and data["windows_kept"] == 1 and data["split"] == "test"
    assert (out / "report.md").read_text().startswith("# Stemforge evaluation: random-tiny")


def test_eval_command_prints_and_writes_the_tables(dataset, tmp_path, capsys, filter_bank):
    out = tmp_path / "report"
    args = parse(eval_command.add_arguments, [
        "--data", str(dataset), "--modes", "draft,best,teacher:2", "--chunk-samples", str(CHUNK),
        "--out", str(out), "--quiet"])
    assert run_command(eval_command.run, args) == 0
    printed = capsys.readouterr().out
    assert printed.count("| SI-SDRi (dB) | bass | drums | guitar | piano | All |") == 2
    assert printed.count("| teacher:2 (teacher Euler, 2 steps, sigma_max 0.01) |") == 2
    data = json.loads((out / "report.json").read_text())
    assert [row["name"] for row in data["rows"]] == ["mixture", "oracle IRM", "draft", "best", "teacher:2"]
    assert data["rows"][0]["paper"]["All"] == 0.0
    assert data["rows"][1]["active"]["All"] > 10.0  # the oracle is far above the mixture
    assert data["model"]["id"] == "filterbank-test"


@pytest.mark.parametrize("argv, message", [
    (["--modes", "turbo"], "unknown mode"),
    (["--split", "nope"], "no split 'nope'"),
    (["--chunk-samples", "4096"], "shorter than one 4 s window"),
])
def test_eval_command_usage_errors(dataset, tmp_path, capsys, argv, message):
    args = parse(eval_command.add_arguments, ["--model", TINY_MODEL, "--data", str(dataset),
                                              "--out", str(tmp_path / "r"), "--quiet", *argv])
    assert run_command(eval_command.run, args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_sweep_command_writes_plot_json_and_markdown(dataset, tmp_path, capsys, filter_bank):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sweep"
    args = parse(sweep_command.add_arguments, [
        "--data", str(dataset), "--grid", "0.001:1:4", "--steps", "1,3", "--chunk-samples", str(CHUNK),
        "--max-chunks", "1", "--out", str(out), "--quiet"])
    assert args.split == "validation"
    assert run_command(sweep_command.run, args) == 0
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((out / "sweep.json").read_text())
    assert data["grid"] == pytest.approx([0.001, 0.01, 0.1, 1.0]) and list(data["curves"]) == ["consistency", "teacher"]
    assert len(data["curves"]["teacher"]["3"]) == 4 and data["split"] == "validation"
    # the stand-in adds sigma_max * z per step: more noise, lower scores
    assert data["curves"]["consistency"]["1"] == sorted(data["curves"]["consistency"]["1"], reverse=True)
    assert "### consistency student" in capsys.readouterr().out


def test_tune_command_rewrites_the_bundle_presets(dataset, tmp_path, capsys, filter_bank):
    model = random_model("tiny", segment_samples=8192)
    bundle = save_bundle(tmp_path / "bundle", bundle_id="tiny-test", config=model.config,
                         extractor=model.extractor, student=model.student, presets=PAPER_PRESETS,
                         segment_samples=8192, dtype=torch.float32)
    argv = ["--model", str(bundle), "--data", str(dataset), "--grid", "0.001,0.5",
            "--chunk-samples", str(CHUNK), "--quiet"]
    assert run_command(tune_command.run, parse(tune_command.add_arguments, [*argv, "--dry-run"])) == 0
    assert "tuned" not in read_manifest(bundle)["presets"]["fast"]
    assert run_command(tune_command.run, parse(tune_command.add_arguments, argv)) == 0
    presets = read_manifest(bundle)["presets"]
    for name in ("fast", "balanced", "best"):
        # the stand-in only adds noise when refining, so the smallest sigma_max wins
        assert presets[name]["tuned"] is True and presets[name]["sigma_max"] == 0.001
        assert math.isfinite(presets[name]["si_sdri_validation"])
    assert "tuned" not in presets["draft"]
    printed = capsys.readouterr().out
    assert "| fast | 1 | 0.0124 | 0.001 |" in printed and "wrote the tuned presets" in printed
