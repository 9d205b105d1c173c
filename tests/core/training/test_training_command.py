"""``stemforge train``'s options come from the configuration dataclasses."""

from __future__ import annotations

from dataclasses import fields

from test_training_end_to_end import parse

from core.training import command
from core.training.resolved import CONFIG_CLASSES


def test_every_option_names_a_configuration_field():
    known = {f.name for cls in CONFIG_CLASSES.values() for f in fields(cls)}
    assert set(command.OPTIONS) <= known, set(command.OPTIONS) - known


def test_options_become_the_stage_configuration(tmp_path):
    args = parse(command.add_arguments, [
        "extractor", "--data", tmp_path, "--out", tmp_path / "run", "--config", "bandsplit-tiny",
        "--loss", "l1_stft", "--stft-sizes", 256, 512, "--l1snr-weight", 0.5, "--steps", 3,
        "--batch", 2, "--workers", 1,
    ])
    config, resume = command.build_config(args)
    assert not resume and config.stage == "extractor"
    assert (config.net, config.loss, config.stft_sizes, config.l1snr_weight) == (
        "bandsplit-tiny", "l1_stft", (256, 512), 0.5)
    assert (config.steps, config.minutes, config.batch, config.workers) == (3, None, 2, 1)
    assert config.data == str(tmp_path.resolve())
    # options left out keep the dataclass defaults
    assert (config.lr, config.seed, config.stft_complex_weight) == (1e-4, 0, 0.0)


def test_each_stage_gets_only_its_own_fields(tmp_path):
    names = {stage: {name for name, _, _ in command.stage_options(stage)} for stage in CONFIG_CLASSES}
    assert "loss" in names["extractor"] and "loss" not in names["diffusion"]
    assert "k_max" in names["distill"] and "k_max" not in names["extractor"]
    assert "teacher" in names["distill"] and "teacher" not in names["diffusion"]
