"""The rows ``stemforge eval`` scores (core.evaluation.modes)."""

import pytest

from core.errors import ConfigError
from core.evaluation.modes import FALLBACK_TEACHER_SIGMA_MAX, parse_modes, teacher_sigma_max
from core.model import Preset
from tests.fakes import FilterBankModel


def test_parse_modes():
    model = FilterBankModel()
    modes = parse_modes("draft, best,teacher:3", model, teacher_sigma_max=0.005)
    assert [m.name for m in modes] == ["draft", "best", "teacher:3"]
    assert modes[2] == Preset("teacher:3", 3, 0.005, sampler="teacher")
    for bad in ("teacher:0", "teacher:x", "turbo", "draft,draft", ""):
        with pytest.raises(ConfigError):
            parse_modes(bad, model, 0.01)


def test_a_preset_without_its_ratio_mask():
    model = FilterBankModel()
    model.presets["draft"] = Preset("draft", 0, 0.0, gain_db=0.0, mask=True)
    modes = parse_modes("draft:nomask,draft", model, 0.01)
    assert modes[0] == Preset("draft:nomask", 0, 0.0, mask=False) and modes[1].mask
    with pytest.raises(ConfigError, match="no ratio mask"):
        parse_modes("best:nomask", model, 0.01)  # the fake's best has none
    with pytest.raises(ConfigError, match="unknown mode"):
        parse_modes("turbo:nomask", model, 0.01)


def test_teacher_sigma_max_prefers_the_request_then_the_bundle():
    model = FilterBankModel()
    assert teacher_sigma_max(model, 0.3) == 0.3
    assert teacher_sigma_max(model, None) == FALLBACK_TEACHER_SIGMA_MAX
    model.presets["reference"] = Preset("reference", 8, 0.004, sampler="teacher")
    assert teacher_sigma_max(model, None) == 0.004
