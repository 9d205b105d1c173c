"""What the app shows about the model, read through core.bundle (faked here)."""

import sys
import types
from pathlib import Path

import pytest

from core.bundle import HOW_TO_GET_ONE
from desktop.model_info import ModelInfo, describe, find_model_card
from tests.fakes import FilterBankModel


@pytest.fixture
def fake_bundle_module(monkeypatch, tmp_path):
    bundle = tmp_path / "models" / "stemforge-small"
    bundle.mkdir(parents=True)
    (bundle / "MODEL_CARD.md").write_text("# Stemforge small\n\nTrained on Slakh2100.\n")
    module = types.ModuleType("core.bundle")
    state = {"bundles": [bundle]}
    module.HOW_TO_GET_ONE = HOW_TO_GET_ONE
    module.installed_bundles = lambda: list(state["bundles"])
    module.find_bundle = lambda spec: Path(spec) if spec is not None else state["bundles"][0]
    module.describe_bundle = lambda path: {"id": "stemforge-small", "path": str(path), "sample_rate": 22050,
                                           "parameters": 1_200_000, "sha256": "ab" * 32,
                                           "presets": {"draft": {"steps": 0}}}
    module.read_manifest = lambda path: {"presets": {
        "draft": {"steps": 0, "sigma_max": 0.0, "rtf": 0.02, "si_sdri": 7.9},
        "fast": {"steps": 1, "sigma_max": 0.0124},
        "balanced": {"steps": 2, "sigma_max": 0.25},
        "best": {"steps": 4, "sigma_max": 0.25, "rtf": 0.3},
    }, "metrics": {"si_sdri_all": 9.1}}
    monkeypatch.setitem(sys.modules, "core.bundle", module)
    return state


def test_describe_the_installed_bundle(fake_bundle_module):
    info = describe()
    assert info.installed and info.model_id == "stemforge-small"
    assert info.spec.endswith("stemforge-small")
    assert info.preset_names() == ["draft", "fast", "balanced", "best"]
    assert info.preset_summary("draft") == "extractor only · 0.02× realtime · +7.9 dB SI-SDRi"
    assert info.preset_summary("fast") == "1 step · σmax 0.0124"
    assert info.metrics == {"si_sdri_all": 9.1}
    assert info.card_markdown().startswith("# Stemforge small")


def test_no_bundle_installed_is_a_reason_not_an_error(fake_bundle_module):
    fake_bundle_module["bundles"] = []
    info = describe()
    assert not info.installed and "resources/models" in info.missing
    assert "No model installed" in info.card_markdown()


def test_a_broken_bundle_is_reported(fake_bundle_module):
    def broken(path):
        raise ValueError("manifest.json: not JSON")

    sys.modules["core.bundle"].describe_bundle = broken
    info = describe()
    assert not info.installed and "not JSON" in info.missing


def test_card_assembled_from_figures_when_no_markdown():
    info = ModelInfo.from_model(FilterBankModel())
    card = info.card_markdown()
    assert "filterbank-test" in card and "| balanced | 2 steps · σmax 0.05 |" in card


def test_model_card_next_to_a_file_bundle(tmp_path):
    bundle = tmp_path / "model.safetensors"
    bundle.write_bytes(b"")
    assert find_model_card(bundle) == ""
    (tmp_path / "model.md").write_text("card")
    assert find_model_card(bundle) == "card"
    assert find_model_card(Path(tmp_path / "absent")) == ""


def test_about_box_shows_the_model_card(qtbot):
    from desktop.about import AboutDialog

    info = ModelInfo(model_id="m", card="# Stemforge small\n\n| preset | SI-SDRi |\n|---|---|\n| best | 9.9 dB |\n")
    dialog = AboutDialog(info, log_file="/tmp/stemforge.log")
    qtbot.addWidget(dialog)
    text = dialog.card.toPlainText()
    assert "Stemforge small" in text and "9.9 dB" in text


def test_a_two_view_preset_says_so_and_shows_its_measured_gain():
    info = ModelInfo(model_id="m", presets={"draft": {"steps": 0, "sigma_max": 0.0, "gain_db": 0.0},
                                            "fast": {"steps": 0, "sigma_max": 0.0, "views": 2, "gain_db": 0.33}})
    assert info.preset_summary("draft") == "extractor only"
    assert info.preset_summary("fast") == "extractor · 2 views (the mix and its polarity inverse) · +0.33 dB over draft"
    assert info.withheld_presets() == {}


def test_a_masked_preset_says_so():
    info = ModelInfo(model_id="m", presets={"draft": {"steps": 0, "sigma_max": 0.0, "gain_db": 0.0, "mask": True},
                                            "fast": {"steps": 0, "sigma_max": 0.0, "views": 2, "mask": True,
                                                     "gain_db": 0.2}})
    assert info.preset_summary("draft") == "extractor · ratio mask"
    assert info.preset_summary("fast") == ("extractor · 2 views (the mix and its polarity inverse) · ratio mask"
                                           " · +0.20 dB over draft")
