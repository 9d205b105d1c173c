"""Kept for the imports that predate :mod:`core.models`: the model interface lives in
:mod:`core.models.interface`, the presets in :mod:`core.models.presets`."""

from core.models.interface import StemModel
from core.models.presets import (
    DEFAULT_PRESET,
    MIN_PRESET_GAIN_DB,
    PRESET_ORDER,
    Preset,
    default_preset,
    steps_label,
    withheld_presets,
)

__all__ = ["DEFAULT_PRESET", "MIN_PRESET_GAIN_DB", "PRESET_ORDER", "Preset", "StemModel", "default_preset",
           "steps_label", "withheld_presets"]
