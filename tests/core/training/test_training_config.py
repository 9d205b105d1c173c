"""Training configuration: defaults from core/METHOD.md, validation, resolution, resumability."""

from __future__ import annotations

import dataclasses
import json

import pytest

from core.errors import ConfigError
from core.nn.config import CONFIGS
from core.training.config import ExtractorConfig
from core.training.refiner_config import DiffusionConfig, DistillConfig
from core.training.resolved import mean_teacher_steps, resolve, segment_samples
from core.training.runs import check_resumable, read_run_config, write_run_config


def test_defaults_follow_the_method():
    extractor = ExtractorConfig(data="d")
    assert (extractor.optimizer, extractor.lr, extractor.betas) == ("adam", 1e-4, (0.9, 0.99))
    diffusion = DiffusionConfig(data="d", extractor="e")
    assert (diffusion.optimizer, diffusion.lr) == ("adam", 1e-4)
    assert (diffusion.p_mean, diffusion.p_std) == (-3.0, 1.0)
    # the refiners denoise the extractor's error (core/METHOD.md section 4a), on the noise
    # levels sampling uses; the paper's anchor keeps the paper's scale
    assert (diffusion.anchor, diffusion.data_scale, diffusion.sigma_train_range) == ("x_det", 0.05, (0.002, 0.5))
    assert diffusion.warm_start
    assert DiffusionConfig(data="d", extractor="e", anchor="zero").data_scale == 0.2
    distill = DistillConfig(data="d", extractor="e", teacher="t")
    assert distill.optimizer == "radam" and distill.ema_decay == 0.999 and not distill.ema_warmup
    assert (distill.num_sigmas, distill.sigma_max, distill.sigma_min, distill.rho) == (18, 0.5, 1e-4, 9.0)
    assert distill.predictive_weight == 1.0
    assert 1 <= distill.k_max < distill.num_sigmas - 1  # fewer teacher steps than the paper on CPU
    assert distill.consistency_weight == distill.denoising_weight == 1.0
    for config in (extractor, diffusion, distill):
        assert config.steps is None and config.minutes == 60.0 and config.ema_decay == 0.999


@pytest.mark.parametrize("name", ["tiny", "lite", "paper"])
def test_segments_are_rounded_to_a_multiple_of_the_hop(name):
    hop = CONFIGS[name].hop
    for seconds in (0.001, 1.0, 3.0, 11.9):
        samples = segment_samples(seconds, hop)
        assert samples % hop == 0 and samples >= hop
        assert abs(samples - seconds * 22050) <= hop / 2 or samples == hop
    assert resolve(ExtractorConfig(data="d", net="lite")).segment_samples == 65536


@pytest.mark.parametrize("changes, message", [
    ({"net": "huge"}, "unknown net"),
    ({"batch": 0}, "batch"),
    ({"optimizer": "sgd"}, "optimizer"),
    ({"steps": None, "minutes": None}, "steps or minutes"),
    ({"ema_decay": 1.0}, "ema_decay"),
])
def test_invalid_settings_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        ExtractorConfig(data="d", **changes)


def test_distill_k_max_must_fit_the_grid():
    with pytest.raises(ConfigError, match="k_max"):
        DistillConfig(data="d", extractor="e", teacher="t", k_max=18)
    assert DistillConfig(data="d", extractor="e", teacher="t", k_max=17).k_max == 17
    assert mean_teacher_steps(17) == pytest.approx(sum(k * k for k in range(1, 18)) / sum(range(1, 18)))


def test_batch_must_split_evenly_between_processes():
    with pytest.raises(ConfigError, match="multiple of the number of processes"):
        resolve(ExtractorConfig(data="d", batch=3), world_size=2)


def test_run_config_round_trip(tmp_path):
    resolved = resolve(DistillConfig(data="d", extractor="e", teacher="t", net="tiny", k_max=3))
    path = write_run_config(tmp_path, resolved)
    stored = json.loads(path.read_text())
    assert stored["stage"] == "distill" and stored["config"]["k_max"] == 3
    assert stored["net"] == CONFIGS["tiny"].to_dict()
    assert read_run_config(tmp_path) == resolved


def test_only_budget_and_bookkeeping_may_change_on_resume():
    stored = resolve(ExtractorConfig(data="d", net="tiny", steps=10))
    allowed = dataclasses.replace(stored.config, steps=20, minutes=5.0, data="elsewhere",
                                  device="cpu", workers=2, validate_every=7)
    check_resumable(stored, resolve(allowed))
    for changes in ({"lr": 1e-3}, {"batch": 4}, {"seed": 1}, {"segment_seconds": 1.0}):
        with pytest.raises(ConfigError, match=next(iter(changes))):
            check_resumable(stored, resolve(dataclasses.replace(stored.config, **changes)))


def test_read_run_config_errors_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="not a training run"):
        read_run_config(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        read_run_config(tmp_path)
