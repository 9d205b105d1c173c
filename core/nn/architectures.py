"""Every named extractor architecture, and what the refiners take from it.

An architecture is a :class:`core.nn.config.UNetConfig` (the paper's waveform U-Net:
extractor, teacher and student share it) or a
:class:`core.nn.bandsplit_config.BandSplitConfig` (a band-split extractor whose
refiners are the U-Net of its ``refiner`` field). Training configurations, run folders
and bundles name or store one of them; this module turns names and dicts back into
configurations and says which U-Net the refiners use. It does not import torch.
"""

from __future__ import annotations

from core.errors import ConfigError
from core.nn.bandsplit_config import BANDSPLIT_CONFIGS, KIND, BandSplitConfig
from core.nn.config import CONFIGS, UNetConfig

Architecture = UNetConfig | BandSplitConfig

ARCHITECTURES: dict[str, Architecture] = {**CONFIGS, **BANDSPLIT_CONFIGS}
"""Every named architecture: the U-Nets (``paper``, ``lite``, ``tiny``) and the band-split
extractors (``bandsplit-lite``, ``bandsplit-tiny``)."""


def get_architecture(name: str) -> Architecture:
    """The named architecture (raises :class:`ConfigError` for unknown names)."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ConfigError(
            f"unknown model configuration {name!r}; choose from {', '.join(ARCHITECTURES)}"
        ) from None


def architecture_from_dict(data: dict) -> Architecture:
    """Inverse of ``to_dict`` of either kind (a band-split dict has ``"kind": "bandsplit"``)."""
    if not isinstance(data, dict):
        raise ConfigError(f"an architecture must be a JSON object, got {type(data).__name__}")
    if data.get("kind") == KIND:
        return BandSplitConfig.from_dict(data)
    return UNetConfig.from_dict(data)


def refiner_config(architecture: Architecture) -> UNetConfig:
    """The U-Net of the diffusion teacher and the consistency student."""
    if isinstance(architecture, BandSplitConfig):
        return architecture.refiner
    return architecture
