"""The tiny configuration trains all three stages through the commands, exports a
bundle, and the bundle separates a file with every preset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from core.bundle import load_model
from core.cli import run_command
from core.jobs import SeparationOptions, separate_file
from core.training import command, export

RATE = 22050
CLASSES = (("Bass", False), ("Drums", True), ("Guitar", False), ("Piano", False))


def write_track(folder: Path, seconds: float, seed: int) -> None:
    """One Slakh-layout track: metadata.yaml + stems/S0N.flac (16-bit mono) + mix.flac."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    stems = [
        0.25 * np.sin(2 * np.pi * rng.uniform(50, 120) * t),
        0.2 * rng.standard_normal(t.size) * (np.sin(2 * np.pi * 6 * t) > 0.6),
        0.15 * np.sin(2 * np.pi * rng.uniform(300, 600) * t),
        0.15 * np.sin(2 * np.pi * rng.uniform(1500, 3000) * t) * np.exp(-4 * (t % 0.5)),
    ]
    (folder / "stems").mkdir(parents=True)
    metadata = {"audio_dir": "stems", "stems": {}}
    for number, ((inst_class, is_drum), stem) in enumerate(zip(CLASSES, stems, strict=True)):
        sf.write(folder / "stems" / f"S{number:02d}.flac", stem, RATE, subtype="PCM_16")
        metadata["stems"][f"S{number:02d}"] = {
            "inst_class": inst_class, "is_drum": is_drum, "audio_rendered": True,
        }
    sf.write(folder / "mix.flac", sum(stems), RATE, subtype="PCM_16")
    (folder / "metadata.yaml").write_text(yaml.safe_dump(metadata))


@pytest.fixture
def tiny_slakh(tmp_path) -> Path:
    """Two training tracks and one validation track of 1 s each."""
    root = tmp_path / "slakh"
    write_track(root / "train" / "Track00001", 1.0, seed=1)
    write_track(root / "train" / "Track00002", 1.0, seed=2)
    write_track(root / "validation" / "Track00003", 1.0, seed=3)
    return root


def parse(add_arguments, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


def train(stage: str, data: Path, out: Path, *extra) -> int:
    common = ["--data", data, "--out", out, "--steps", 3, "--batch", 2,
              "--segment-seconds", 0.02, "--device", "cpu", "--log-every", 1, "--validate-every", 3,
              "--threads", 1]
    return run_command(command.run, parse(command.add_arguments, [stage, *common, *extra]))


def test_train_three_stages_export_and_separate(tiny_slakh, tmp_path, make_audio, capsys):
    runs = tmp_path / "runs"
    assert train("extractor", tiny_slakh, runs / "extractor", "--config", "tiny") == 0
    assert train("diffusion", tiny_slakh, runs / "diffusion", "--extractor", runs / "extractor") == 0
    assert train("distill", tiny_slakh, runs / "distill", "--extractor", runs / "extractor",
                 "--teacher", runs / "diffusion", "--k-max", 2) == 0

    for stage in ("extractor", "diffusion", "distill"):
        stored = json.loads((runs / stage / "config.json").read_text())
        assert stored["stage"] == stage and stored["config"]["net"] == "tiny"
        assert stored["config"]["steps"] == 3 and stored["config"]["minutes"] is None
        log = [json.loads(line) for line in (runs / stage / "log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in log if r["event"] == "train"] == [1, 2, 3]
        assert any(r["event"] == "validation" and np.isfinite(r["val_si_sdri"]) for r in log)

    bundle = tmp_path / "bundle"
    assert run_command(export.run, parse(export.add_arguments, [
        "--extractor", runs / "extractor", "--student", runs / "distill",
        "--teacher", runs / "diffusion", "--out", bundle, "--id", "tiny-test"])) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["metrics"]["presets_tuned"] is False
    assert manifest["training_data"]["stages"]["student"]["steps"] == 3
    assert manifest["presets"]["fast"] == {"steps": 1, "sigma_max": 0.0124, "sampler": "consistency", "mask": True}

    alone = tmp_path / "extractor-only"
    assert run_command(export.run, parse(export.add_arguments, [
        "--extractor", runs / "extractor", "--out", alone, "--id", "tiny-extractor"])) == 0
    only = json.loads((alone / "manifest.json").read_text())
    assert only["networks"] == ["extractor"] and list(only["presets"]) == ["draft", "fast"]
    assert only["presets"]["fast"]["steps"] == 0 and only["presets"]["fast"]["views"] == 2
    assert load_model(alone, "cpu") is not None

    model = load_model(bundle, "cpu")
    song = make_audio("song.wav", seconds=0.3, samplerate=44100, channels=2)
    frames = sf.info(song).frames
    for preset in ("draft", "fast", "balanced", "best"):
        options = SeparationOptions(out_dir=tmp_path / "stems" / preset, preset=preset, device="cpu")
        result = separate_file(song, model, options)
        assert result.status == "done", result.message
        for path in result.outputs.values():
            assert sf.info(path).frames == frames


def test_rerunning_the_command_resumes_and_extends_the_run(tiny_slakh, tmp_path, capsys):
    out = tmp_path / "run"
    assert train("extractor", tiny_slakh, out, "--config", "tiny") == 0
    args = ["extractor", "--data", tiny_slakh, "--out", out, "--steps", 5, "--batch", 2,
            "--segment-seconds", 0.02, "--device", "cpu"]
    assert run_command(command.run, parse(command.add_arguments, args)) == 0
    assert "resuming" in capsys.readouterr().err
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert records[-1] == {**records[-1], "event": "end", "step": 5}


def test_bad_options_are_one_line_errors(tiny_slakh, tmp_path, capsys):
    assert train("extractor", tmp_path / "missing", tmp_path / "a", "--config", "tiny") == 2
    assert train("extractor", tiny_slakh, tmp_path / "b", "--config", "huge") == 2
    assert train("diffusion", tiny_slakh, tmp_path / "c", "--extractor", tmp_path / "nothing") == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("stemforge: error: ") for line in errors)
    assert "huge" in errors[1]


def test_refiners_refuse_another_architecture(tiny_slakh, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert train("extractor", tiny_slakh, runs / "extractor", "--config", "tiny") == 0
    capsys.readouterr()
    code = train("diffusion", tiny_slakh, runs / "diffusion", "--extractor", runs / "extractor",
                 "--config", "lite")
    assert code == 2
    assert "does not match the extractor run" in capsys.readouterr().err
