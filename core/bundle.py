"""Model bundles: a folder with ``manifest.json`` + ``weights.safetensors``.

Loading never unpickles anything: the manifest is JSON, the weights are safetensors,
and every file is checked against the sha256 the manifest records. Any problem (missing,
corrupted, truncated, mismatched, unknown format) raises :class:`ModelLoadError` naming
the file and what to do.

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

Before anything is allocated, the manifest's own checksum, the bounds of every number
and the parameter count against the weights' size and the machine's memory are checked
(:mod:`core.manifest_checks`).

Tensors in ``weights.safetensors`` are named ``extractor.*``, ``student.*`` and optionally
``teacher.*`` (each network's state dict under its prefix), stored in fp16 or fp32.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

import core
from core.devices import resolve_device
from core.diffusion.constants import ANCHOR_PAPER, ANCHORS, RHO, SIGMA_DATA, SIGMA_MIN
from core.errors import ConfigError, ModelLoadError, OutputExistsError, UnknownModelError
from core.fileio import save_atomic, sha256_file, write_text_atomic
from core.hybrid import HybridModel
from core.instruments import INSTRUMENTS, MODEL_SAMPLE_RATE
from core.manifest_checks import check_bounds, check_cost, seal, verify_checksum
from core.model import PRESET_ORDER, Preset
from core.nn.architectures import Architecture
from core.nn.bandsplit_config import BandSplitConfig
from core.nn.config import UNetConfig
from core.nn.extractors import build_extractor, build_refiner
from core.nn.unet import count_parameters

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
NETWORKS = ("extractor", "student", "teacher")
DEFAULT_BUNDLE_ID = "stemforge-lite"
"""Bundle picked when no model is named (else the first installed bundle)."""

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


HOW_TO_GET_ONE = (
    "install a bundle folder (manifest.json + weights.safetensors) under "
    "resources/models/, ~/.local/share/stemforge/models/ or $STEMFORGE_MODELS, "
    "or train one with 'stemforge train ...' and 'stemforge export', "
    "or pass --model PATH_TO_BUNDLE"
)


# -- where bundles live ----------------------------------------------------------------


def model_search_paths() -> list[Path]:
    """Folders searched for bundles, in priority order.

    ``$STEMFORGE_MODELS`` (os.pathsep-separated), ``~/.local/share/stemforge/models``,
    ``<repo>/resources/models``, and ``sys._MEIPASS/resources/models`` in a PyInstaller app.
    """
    paths = [Path(p).expanduser() for p in os.environ.get("STEMFORGE_MODELS", "").split(os.pathsep) if p]
    paths.append(Path.home() / ".local" / "share" / "stemforge" / "models")
    paths.append(Path(core.__file__).resolve().parent.parent / "resources" / "models")
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        paths.append(Path(frozen) / "resources" / "models")
    return paths


def installed_bundles() -> list[Path]:
    """Bundle folders (those holding a manifest.json) in the search paths, deduplicated."""
    found: list[Path] = []
    seen: set[Path] = set()
    for root in model_search_paths():
        if not root.is_dir():
            continue
        for manifest in sorted(root.glob(f"*/{MANIFEST}")):
            folder = manifest.parent.resolve()
            if folder not in seen:
                seen.add(folder)
                found.append(folder)
    return found


def find_bundle(spec: str | Path | None) -> Path:
    """Resolve a bundle spec to its folder.

    ``spec`` is a folder (or its manifest.json), a bundle id among the installed bundles,
    or None for the default (id :data:`DEFAULT_BUNDLE_ID`, else the first installed).
    """
    if spec is not None:
        path = Path(spec).expanduser()
        if path.name == MANIFEST and path.is_file():
            return path.parent
        if path.is_dir():
            if not (path / MANIFEST).is_file():
                raise ModelLoadError(f"{path}: not a model bundle (no {MANIFEST} inside)")
            return path
    ids: dict[str, Path] = {}
    broken: list[ModelLoadError] = []
    for folder in installed_bundles():
        try:
            ids.setdefault(read_manifest(folder)["id"], folder)
        except ModelLoadError as error:
            broken.append(error)
    if spec is None:
        if DEFAULT_BUNDLE_ID in ids:
            return ids[DEFAULT_BUNDLE_ID]
        if ids:
            return next(iter(ids.values()))
        if broken:  # say why the installed bundle cannot be used, not that there is none
            raise broken[0]
        raise ModelLoadError(f"no model installed: {HOW_TO_GET_ONE}")
    if str(spec) in ids:
        return ids[str(spec)]
    known = ", ".join(ids) if ids else "none"
    raise UnknownModelError(
        f"no model bundle {str(spec)!r}: not a folder and not an installed bundle id "
        f"(installed: {known}); {HOW_TO_GET_ONE}"
    )


# -- manifest ----------------------------------------------------------------------------


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
        )
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


# -- saving ------------------------------------------------------------------------------


def save_bundle(
    folder: str | Path,
    *,
    bundle_id: str,
    config: Architecture,
    extractor: torch.nn.Module,
    student: torch.nn.Module | None,
    presets: Mapping[str, Preset | Mapping],
    teacher: torch.nn.Module | None = None,
    config_name: str | None = None,
    sample_rate: int = MODEL_SAMPLE_RATE,
    segment_samples: int | None = None,
    instruments: tuple[str, ...] = INSTRUMENTS,
    diffusion: Mapping | None = None,
    metrics: Mapping | None = None,
    training_data: Mapping | str | None = None,
    dtype: torch.dtype = torch.float16,
    overwrite: bool = False,
) -> Path:
    """Write a bundle folder and return it.

    Args:
        folder: destination (created; must be empty or absent unless ``overwrite``).
        bundle_id: short name (``stemforge models`` lists it; ``--model ID`` selects it).
        config: the architecture: a U-Net all networks share, or a band-split extractor
            whose configuration names the refiners' U-Net.
        extractor, student, teacher: the networks (``student``/``teacher`` may be None).
        presets: name -> Preset or ``{"steps", "sigma_max", "sampler"}``; the four product
            presets draft/fast/balanced/best are expected (draft only without a student).
        config_name: name of the configuration in :data:`core.nn.config.CONFIGS`, if any.
        diffusion: overrides of the diffusion constants (sigma_data, sigma_min, rho, s_churn...).
        metrics, training_data: free-form JSON for the model card.
        dtype: storage precision of floating-point tensors (fp16 halves the size).

    Raises:
        OutputExistsError: ``folder`` holds files and ``overwrite`` is False.
        ModelLoadError: the manifest would not load (e.g. a preset needs a missing
            network); nothing is written.
        ValueError: a weight does not fit in ``dtype`` (fp16 overflow).
    """
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise OutputExistsError(f"{folder} exists and is not empty; choose another folder or overwrite")
    nets = {"extractor": extractor, "student": student, "teacher": teacher}
    presets_table = {}
    for name in sorted(presets, key=lambda n: (PRESET_ORDER.index(n) if n in PRESET_ORDER else 99, n)):
        row = presets[name]
        if isinstance(row, Preset):
            row = {"steps": row.steps, "sigma_max": row.sigma_max, "sampler": row.sampler}
        presets_table[name] = {
            "steps": int(row["steps"]),
            "sigma_max": float(row.get("sigma_max", 0.0)),
            "sampler": str(row.get("sampler", "consistency")),
        }
    constants = {**DEFAULT_DIFFUSION, **(diffusion or {})}
    manifest = {
        "format_version": FORMAT_VERSION,
        "id": bundle_id,
        "architecture": architecture_entry(config, config_name),
        "sample_rate": sample_rate,
        "segment_samples": segment_samples or config.segment_samples,
        "instruments": list(instruments),
        "networks": [name for name, net in nets.items() if net is not None],
        "presets": presets_table,
        "diffusion": {k: (None if v == math.inf else v) for k, v in constants.items()},
        "metrics": dict(metrics or {}),
        "training_data": training_data if isinstance(training_data, str) else dict(training_data or {}),
        "stemforge_version": core.__version__,
        "files": {WEIGHTS: "to be computed"},
    }
    validate_manifest(manifest, folder / MANIFEST, sealed=False)  # refuse to write a bundle we could not load

    tensors = {}
    for name, net in nets.items():
        if net is None:
            continue
        for key, value in net.state_dict().items():
            value = value.detach().to("cpu")
            if value.is_floating_point():
                stored = value.to(dtype)
                if not torch.equal(stored.isfinite(), value.isfinite()):
                    raise ValueError(f"{name}.{key} overflows {dtype}; save it in a wider dtype")
                value = stored
            tensors[f"{name}.{key}"] = value.contiguous()
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS
    save_atomic(weights, lambda temporary: save_file(
        tensors, str(temporary), metadata={"format": "pt", "bundle_id": bundle_id}))
    manifest["files"][WEIGHTS] = sha256_file(weights)
    write_text_atomic(folder / MANIFEST, json.dumps(seal(manifest), indent=2) + "\n")
    return folder


# -- loading -----------------------------------------------------------------------------


def verify_files(folder: Path, manifest: Mapping) -> None:
    """Check every file the manifest lists against its sha256."""
    for name, expected in manifest["files"].items():
        file = folder / name
        if not file.is_file():
            raise ModelLoadError(f"{file}: missing from the bundle; reinstall it")
        actual = sha256_file(file)
        if actual != expected:
            raise ModelLoadError(
                f"{file}: checksum mismatch (expected {expected[:12]}..., got {actual[:12]}...): "
                "the file is corrupted, truncated or was modified; reinstall the bundle"
            )


def _read_tensors(file: Path, before_reading: Callable[[], None] = lambda: None) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file; ``before_reading`` runs once its header has been
    read and before any tensor is (the cost check)."""
    try:
        tensors = {}
        with safe_open(str(file), framework="pt", device="cpu") as handle:
            keys = list(handle.keys())
            before_reading()
            for key in keys:
                tensors[key] = handle.get_tensor(key)
        return tensors
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelLoadError(f"{file}: not a readable safetensors file ({error}); reinstall the bundle") from None


def _build_network(
    name: str, config: Architecture, tensors: Mapping[str, torch.Tensor], file: Path
) -> torch.nn.Module:
    net = build_extractor(config) if name == "extractor" else build_refiner(config)
    expected = net.state_dict()
    prefix = name + "."
    given = {key[len(prefix):]: value for key, value in tensors.items() if key.startswith(prefix)}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    if missing or unexpected:
        details = []
        if missing:
            details.append(f"missing {len(missing)} tensors (e.g. {prefix}{missing[0]})")
        if unexpected:
            details.append(f"{len(unexpected)} unexpected tensors (e.g. {prefix}{unexpected[0]})")
        raise ModelLoadError(
            f"{file}: the {name} weights do not match the manifest's architecture: "
            + "; ".join(details)
        )
    for key, value in given.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ModelLoadError(
                f"{file}: tensor {prefix}{key} has shape {tuple(value.shape)}, "
                f"the architecture needs {tuple(expected[key].shape)}"
            )
    net.load_state_dict({key: value.to(expected[key].dtype) for key, value in given.items()})
    return net.eval()


def load_bundle(folder: str | Path, device: str | torch.device = "cpu") -> HybridModel:
    """Load a bundle folder into a :class:`HybridModel` on ``device`` (a torch device or
    name; "auto" picks CUDA, then MPS, then the CPU). Weights are used in float32."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    verify_files(folder, manifest)
    file = folder / WEIGHTS
    config = architecture_from_manifest(manifest)
    tensors = _read_tensors(file, lambda: check_cost(
        count_values(config, manifest["networks"]), len(manifest["networks"]), file.stat().st_size, file))
    try:
        nets = {name: _build_network(name, config, tensors, file) for name in manifest["networks"]}
    except (RuntimeError, MemoryError) as error:
        raise ModelLoadError(f"{file}: cannot build the networks ({type(error).__name__}: "
                             f"{str(error).splitlines()[0] if str(error) else ''})") from None
    stray = sorted({key.split(".", 1)[0] for key in tensors} - set(nets))
    if stray:
        raise ModelLoadError(f"{file}: holds tensors for networks the manifest does not list: {stray}")
    constants = dict(DEFAULT_DIFFUSION)
    constants.update({k: v for k, v in manifest.get("diffusion", {}).items() if k in DEFAULT_DIFFUSION})
    if constants["s_tmax"] is None:
        constants["s_tmax"] = math.inf
    model = HybridModel(
        nets["extractor"],
        nets.get("student"),
        presets_from_manifest(manifest),
        teacher=nets.get("teacher"),
        model_id=manifest["id"],
        sha256=manifest["files"][WEIGHTS],
        sample_rate=int(manifest["sample_rate"]),
        segment_samples=int(manifest["segment_samples"]),
        instruments=tuple(manifest["instruments"]),
        anchor=constants.pop("anchor"),
        **{k: float(v) for k, v in constants.items()},
    )
    if isinstance(device, str):
        device = resolve_device(device)
    return model.to(device)


def count_values(config: Architecture, networks: list[str]) -> int:
    """Values (parameters and buffers) of the listed networks, counted on the ``meta``
    device: shapes only, nothing allocated."""
    with torch.device("meta"):
        return sum(
            sum(t.numel() for t in (build_extractor(config) if name == "extractor"
                                    else build_refiner(config)).state_dict().values())
            for name in networks
        )


def load_model(spec: str | Path | None, device: str | torch.device = "auto") -> HybridModel:
    """Find a bundle (folder path, installed id, or None for the default) and load it."""
    return load_bundle(find_bundle(spec), device)


def describe_bundle(path: str | Path) -> dict:
    """Summary of a bundle for ``stemforge models``, without loading the weights.

    Keys: id, path, sample_rate, segment_samples, instruments, networks, parameters
    (total over the stored networks), presets (name -> {steps, sigma_max, sampler}),
    sha256 (of the weights, as recorded), size_bytes, metrics, training_data.
    """
    folder = Path(path)
    if folder.name == MANIFEST:
        folder = folder.parent
    manifest = read_manifest(folder)
    file = folder / WEIGHTS
    if not file.is_file():
        raise ModelLoadError(f"{file}: missing from the bundle; reinstall it")
    config = architecture_from_manifest(manifest)
    with torch.device("meta"):
        parameters = sum(
            count_parameters(build_extractor(config) if name == "extractor" else build_refiner(config))
            for name in manifest["networks"]
        )
    return {
        "id": manifest["id"],
        "path": str(folder),
        "sample_rate": manifest["sample_rate"],
        "segment_samples": manifest["segment_samples"],
        "instruments": list(manifest["instruments"]),
        "networks": list(manifest["networks"]),
        "parameters": parameters,
        "presets": manifest["presets"],
        "sha256": manifest["files"][WEIGHTS],
        "size_bytes": file.stat().st_size,
        "metrics": manifest.get("metrics", {}),
        "training_data": manifest.get("training_data", {}),
    }
