"""The bundle manifest: its format, and reading and validating it (no torch).

A bundle is a folder with ``manifest.json`` + ``weights.safetensors`` (:mod:`core.bundle`
saves and loads them).

Manifest (``format_version`` 1)::

    {
      "format_version": 1,
      "id": "stemforge-lite",
      "architecture": {"name": "lite", "unet": {...UNetConfig.to_dict()...}},
                      # a band-split extractor adds "bandsplit": {...BandSplitConfig
                      # fields but the refiner...}; "unet" is then the refiners' U-Net
      "sample_rate": 22050,
      "segment_samples": 131072,
      "instruments": ["bass", "drums", "guitar", "piano"],
      "networks": ["extractor", "student"],            # "teacher" optional
      "presets": {"draft": {"steps": 0, "sigma_max": 0.0, "sampler": "consistency"},
                  "fast": {...}, "balanced": {...}, "best": {...}},
      "diffusion": {"sigma_data": 0.2, "sigma_min": 0.0001, "rho": 9.0,
                    "s_churn": 0.0, "s_tmin": 0.0, "s_tmax": null, "s_noise": 1.0},
      "metrics": {...}, "training_data": {...},
      "stemforge_version": "0.1.0",
      "files": {"weights.safetensors": "<sha256>"},
      "manifest_sha256": "<sha256 of this manifest without this key>"
    }

Reading checks the manifest's own checksum and the bounds of every number
(:mod:`core.manifest_checks`), the presets table and the diffusion constants, before
:mod:`core.bundle` allocates anything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

from core.diffusion.constants import ANCHOR_PAPER, ANCHORS, RHO, SIGMA_DATA, SIGMA_MIN
from core.errors import ConfigError, ModelLoadError
from core.manifest_checks import check_bounds, verify_checksum
from core.model import Preset
from core.nn.architectures import Architecture
from core.nn.bandsplit_config import BandSplitConfig
from core.nn.config import UNetConfig

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
NETWORKS = ("extractor", "student", "teacher")
DEFAULT_DIFFUSION = {  # diffusion constants of core/METHOD.md, overridable per bundle
    "sigma_data": SIGMA_DATA,
    "sigma_min": SIGMA_MIN,
    "rho": RHO,
    "s_churn": 0.0,
    "s_tmin": 0.0,
    "s_tmax": math.inf,
    "s_noise": 1.0,
    "anchor": ANCHOR_PAPER,
}


def read_manifest(path: str | Path) -> dict:
    """Read and validate a bundle's manifest (``path`` = the folder or the manifest file)."""
    path = Path(path)
    file = path if path.name == MANIFEST else path / MANIFEST
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"{file}: missing; {path} is not a model bundle") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{file}: unreadable manifest ({error}); reinstall the bundle") from None
    validate_manifest(manifest, file)
    return manifest


def validate_manifest(manifest: object, file: Path, sealed: bool = True) -> None:
    """Raise :class:`ModelLoadError` (naming ``file``) unless ``manifest`` is a usable
    format-1 manifest (with its checksum unless ``sealed`` is False: before saving)."""
    if not isinstance(manifest, dict):
        raise ModelLoadError(f"{file}: the manifest must be a JSON object")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelLoadError(
            f"{file}: bundle format version {version!r} is not supported by this version of "
            f"Stemforge (it reads version {FORMAT_VERSION}); use a matching Stemforge or re-export the bundle"
        )
    required = ("id", "architecture", "sample_rate", "segment_samples", "instruments",
                "networks", "presets", "files")
    if sealed:
        verify_checksum(manifest, file)
    missing = [key for key in required if key not in manifest]
    if missing:
        raise ModelLoadError(f"{file}: manifest lacks {', '.join(missing)}")
    try:
        check_bounds(manifest)
        _check_diffusion(manifest.get("diffusion", {}))
        if not isinstance(manifest["networks"], list) or not all(isinstance(n, str) for n in manifest["networks"]):
            raise ValueError("networks must be a list of names")
        config = architecture_from_manifest(manifest)
        presets = presets_from_manifest(manifest)
        if int(manifest["segment_samples"]) % config.hop:
            raise ValueError(f"segment_samples is not a multiple of the hop {config.hop}")
        if not manifest["instruments"] or len(manifest["instruments"]) != config.num_labels:
            raise ValueError(f"needs {config.num_labels} instruments, one per label")
    except (ConfigError, KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        raise ModelLoadError(f"{file}: invalid manifest ({error})") from None
    unknown = set(manifest["networks"]) - set(NETWORKS)
    if unknown or "extractor" not in manifest["networks"]:
        raise ModelLoadError(
            f"{file}: networks must include 'extractor' and may add 'student' and 'teacher', "
            f"got {manifest['networks']}"
        )
    for preset in presets.values():
        needs = "teacher" if preset.sampler == "teacher" else "student"
        if preset.steps > 0 and needs not in manifest["networks"]:
            raise ModelLoadError(f"{file}: preset {preset.name!r} needs the {needs}, which the bundle lacks")
    files = manifest["files"]
    if not isinstance(files, dict) or WEIGHTS not in files or not all(
            isinstance(name, str) and isinstance(digest, str) and "/" not in name and "\\" not in name
            and name not in ("", ".", "..") for name, digest in files.items()):
        raise ModelLoadError(f"{file}: the manifest does not list {WEIGHTS} with its sha256")


PRESET_VIEWS = (1, 2)
"""A preset's test-time views (:attr:`core.model.Preset.views`): the mixture, or it and its polarity inverse."""
MAX_PRESET_STEPS = 64
"""Most refinement steps a preset may ask for (the product presets use 0 to 4)."""


def _check_diffusion(diffusion: object) -> None:
    """Raise ValueError unless the diffusion constants are finite numbers (s_tmax may be
    null for infinity) and sigma_data, sigma_min, rho are positive."""
    if not isinstance(diffusion, Mapping):
        raise ValueError("diffusion must be an object")
    for key, value in diffusion.items():
        if key not in DEFAULT_DIFFUSION:
            continue
        if value is None and key == "s_tmax":
            continue
        if key == "anchor":
            if value not in ANCHORS:
                raise ValueError(f"diffusion.anchor must be one of {', '.join(ANCHORS)}, got {value!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"diffusion.{key} must be a finite number, got {value!r}")
        if key in ("sigma_data", "sigma_min", "rho") and not value > 0:
            raise ValueError(f"diffusion.{key} must be > 0, got {value!r}")


def architecture_from_manifest(manifest: Mapping) -> Architecture:
    """The extractor architecture a manifest records: ``architecture.unet`` is the U-Net
    of the refiners, and of the extractor too unless ``architecture.bandsplit`` describes
    a band-split extractor (whose refiner is then ``architecture.unet``)."""
    entry = manifest["architecture"]
    if "bandsplit" in entry:
        if not isinstance(entry["bandsplit"], Mapping):
            raise ValueError("architecture.bandsplit must be an object")
        return BandSplitConfig.from_dict({**entry["bandsplit"], "refiner": entry["unet"]})
    return UNetConfig.from_dict(entry["unet"])


def architecture_entry(config: Architecture, name: str | None) -> dict:
    """The manifest's ``architecture`` object for ``config`` (inverse of
    :func:`architecture_from_manifest`)."""
    if isinstance(config, BandSplitConfig):
        extractor = {key: value for key, value in config.to_dict().items() if key != "refiner"}
        return {"name": name, "unet": config.refiner.to_dict(), "bandsplit": extractor}
    return {"name": name, "unet": config.to_dict()}


def presets_from_manifest(manifest: Mapping) -> dict[str, Preset]:
    """The presets table as :class:`Preset` objects, in the manifest's order."""
    presets = {}
    for name, row in manifest["presets"].items():
        preset = Preset(
            name=name,
            steps=int(row["steps"]),
            sigma_max=float(row.get("sigma_max", 0.0)),
            sampler=str(row.get("sampler", "consistency")),
            gain_db=None if row.get("gain_db") is None else float(row["gain_db"]),
            views=int(row.get("views", 1)),
            mask=row.get("mask", False),
        )
        if not isinstance(preset.mask, bool):
            raise ValueError(f"preset {name!r}: mask must be true or false")
        if preset.views not in PRESET_VIEWS:
            raise ValueError(f"preset {name!r}: views must be one of {', '.join(map(str, PRESET_VIEWS))}")
        if preset.gain_db is not None and not math.isfinite(preset.gain_db):
            raise ValueError(f"preset {name!r}: gain_db must be a finite number")
        if not 0 <= preset.steps <= MAX_PRESET_STEPS or preset.sampler not in ("consistency", "teacher"):
            raise ValueError(f"preset {name!r}: bad steps (0 to {MAX_PRESET_STEPS}) or sampler")
        if not math.isfinite(preset.sigma_max) or preset.sigma_max < 0:
            raise ValueError(f"preset {name!r}: sigma_max must be a finite number >= 0")
        if preset.steps > 0 and not preset.sigma_max > 0:
            raise ValueError(f"preset {name!r}: sigma_max must be > 0 when steps > 0")
        presets[name] = preset
    return presets
