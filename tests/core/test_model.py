"""The presets' rules that need no model: which ones are offered."""

from __future__ import annotations

from core.model import MIN_PRESET_GAIN_DB, withheld_presets


def test_every_preset_is_offered_when_each_beats_the_faster_ones():
    assert withheld_presets({"draft": 0.0, "fast": 0.3, "balanced": 0.45, "best": 0.7}) == {}


def test_a_preset_no_better_than_a_faster_one_is_withheld_with_the_figures():
    withheld = withheld_presets({"draft": 0.0, "fast": 0.02, "balanced": 0.5, "best": 0.55})
    assert set(withheld) == {"fast", "best"}
    assert "+0.02 dB over draft" in withheld["fast"] and "draft (+0.00 dB)" in withheld["fast"]
    assert "balanced (+0.50 dB)" in withheld["best"]


def test_a_withheld_preset_does_not_lower_the_bar_for_slower_ones():
    # fast loses to draft; balanced must beat draft (the best faster one), not fast
    withheld = withheld_presets({"draft": 0.0, "fast": -1.0, "balanced": 0.05, "best": 0.2})
    assert set(withheld) == {"fast", "balanced"}


def test_the_margin_is_the_documented_one_and_unmeasured_presets_stay():
    just = {"draft": 0.0, "fast": MIN_PRESET_GAIN_DB, "balanced": None}
    assert withheld_presets(just) == {}
    assert "fast" in withheld_presets({"fast": MIN_PRESET_GAIN_DB - 0.01})


def presets_with_gains(**gains):
    from core.model import PRESET_ORDER, Preset

    steps = dict(zip(PRESET_ORDER, (0, 1, 2, 4), strict=True))
    return {name: Preset(name, steps[name], 0.0 if name == "draft" else 0.01, gain_db=gains.get(name))
            for name in ("draft", *gains)}


def test_the_default_preset_is_balanced_when_the_model_offers_it():
    from core.model import default_preset

    assert default_preset(presets_with_gains(fast=0.5, balanced=0.8, best=1.2)) == "balanced"
    assert default_preset(presets_with_gains(fast=None, balanced=None, best=None)) == "balanced"


def test_the_default_falls_back_to_the_slowest_offered_faster_preset():
    from core.model import default_preset

    assert default_preset(presets_with_gains(fast=0.5, balanced=0.55, best=0.9)) == "fast"
    assert default_preset(presets_with_gains(fast=-0.08, balanced=-0.09, best=-0.06)) == "draft"
    assert default_preset(presets_with_gains()) == "draft"  # a draft-only model
