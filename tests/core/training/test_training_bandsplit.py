"""A band-split extractor through the three stages: its refiners build and learn, and
the commands train, export and separate with ``--config bandsplit-tiny``."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
import torch
from test_training_end_to_end import parse, write_track
from test_training_stages import losses_on_fixed_batch

from core.bundle import load_model
from core.cli import run_command
from core.jobs import SeparationOptions, separate_file
from core.nn.architectures import get_architecture
from core.nn.bandsplit import BandSplitNet
from core.nn.extractors import build_extractor, build_refiner
from core.training import command, export
from core.training.config import ExtractorConfig
from core.training.diffusion import DiffusionStage
from core.training.distill import DistillStage
from core.training.extractor import ExtractorStage
from core.training.refiner_config import DiffusionConfig, DistillConfig
from core.training.resolved import resolve

CPU = torch.device("cpu")
BANDSPLIT = "bandsplit-tiny"


@pytest.mark.parametrize("stage_name", ["extractor", "diffusion", "distill"])
def test_every_stage_builds_on_a_band_split_extractor_and_learns(stage_name, toy_batch):
    base = dict(data="-", net=BANDSPLIT, segment_seconds=256 / 22050, batch=4, steps=4, lr=1e-3)
    torch.manual_seed(0)
    architecture = get_architecture(BANDSPLIT)
    if stage_name == "extractor":
        resolved = resolve(ExtractorConfig(loss="l1_stft", **base))
        stage = ExtractorStage(resolved, CPU)
        assert isinstance(stage.network, BandSplitNet)
    else:
        extractor = build_extractor(architecture)
        for parameter in extractor.parameters():  # a fresh band-split net outputs silence
            parameter.data.normal_(0, 0.1)
        if stage_name == "diffusion":
            resolved = resolve(DiffusionConfig(extractor="-", **base))
            stage = DiffusionStage(resolved, extractor, CPU)
        else:
            resolved = resolve(DistillConfig(extractor="-", teacher="-", k_max=2, **base))
            stage = DistillStage(resolved, extractor, build_refiner(architecture), CPU)
        assert stage.network.net.config == architecture.refiner
    losses = losses_on_fixed_batch(stage, resolved, toy_batch, steps=4)
    assert all(after < before for before, after in zip(losses, losses[1:], strict=False)), losses


@pytest.fixture
def small_slakh(tmp_path):
    root = tmp_path / "slakh"
    write_track(root / "train" / "Track00001", 1.0, seed=1)
    write_track(root / "validation" / "Track00002", 1.0, seed=2)
    return root


def test_the_commands_train_export_and_separate_with_a_band_split_extractor(
    small_slakh, tmp_path, make_audio
):
    runs = tmp_path / "runs"
    common = ["--data", small_slakh, "--steps", 2, "--batch", 2, "--segment-seconds", 0.05,
              "--device", "cpu", "--validate-every", 2, "--threads", 1]

    def train(stage, out, *extra):
        return run_command(command.run, parse(command.add_arguments, [stage, "--out", runs / out, *common, *extra]))

    assert train("extractor", "extractor", "--config", BANDSPLIT, "--loss", "l1_stft") == 0
    assert train("diffusion", "diffusion", "--extractor", runs / "extractor") == 0
    assert train("distill", "distill", "--extractor", runs / "extractor",
                 "--teacher", runs / "diffusion", "--k-max", 2) == 0
    stored = json.loads((runs / "distill" / "config.json").read_text())
    assert stored["config"]["net"] == BANDSPLIT and stored["net"]["kind"] == "bandsplit"

    bundle = tmp_path / "bundle"
    assert run_command(export.run, parse(export.add_arguments, [
        "--extractor", runs / "extractor", "--student", runs / "distill",
        "--teacher", runs / "diffusion", "--out", bundle, "--id", "bandsplit-test"])) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["architecture"]["name"] == BANDSPLIT
    assert manifest["architecture"]["unet"] == get_architecture(BANDSPLIT).refiner.to_dict()

    model = load_model(bundle, "cpu")
    assert isinstance(model.extractor, BandSplitNet)
    song = make_audio("song.wav", seconds=0.3, samplerate=44100, channels=2)
    frames = sf.info(song).frames
    for preset in ("draft", "fast", "reference"):
        options = SeparationOptions(out_dir=tmp_path / "stems" / preset, preset=preset, device="cpu")
        result = separate_file(song, model, options)
        assert result.status == "done", result.message
        assert all(sf.info(path).frames == frames for path in result.outputs.values())
