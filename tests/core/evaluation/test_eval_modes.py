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


def test_teacher_sigma_max_prefers_the_request_then_the_bundle():
    model = FilterBankModel()
    assert teacher_sigma_max(model, 0.3) == 0.3
    assert teacher_sigma_max(model, None) == FALLBACK_TEACHER_SIGMA_MAX
    model.presets["reference"] = Preset("reference", 8, 0.004, sampler="teacher")
    assert teacher_sigma_max(model, None) == 0.004
