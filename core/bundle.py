"""Model bundles: a folder with ``manifest.json`` + ``weights.safetensors``.

Loading never unpickles anything: the manifest is JSON, the weights are safetensors,
and every file is checked against the sha256 the manifest records. Any problem (missing,
corrupted, truncated, mismatched, unknown format) raises :class:`ModelLoadError` naming
the file and what to do.

The manifest's format, reading and validation live in :mod:`core.manifest`.

Before anything is allocated, the manifest's own checksum, the bounds of every number
and the parameter count against the weights' size and the machine's memory are checked
(:mod:`core.manifest_checks`).

Tensors in ``weights.safetensors`` are named ``extractor.*``, ``student.*`` and optionally
``teacher.*`` (each network's state dict under its prefix), stored in fp16 or fp32.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

import core
from core.devices import resolve_device
from core.errors import ModelLoadError, OutputExistsError, UnknownModelError
from core.fileio import save_atomic, sha256_file, write_text_atomic
from core.hybrid import HybridModel
from core.instruments import INSTRUMENTS, MODEL_SAMPLE_RATE
from core.manifest import (
    DEFAULT_DIFFUSION,
    FORMAT_VERSION,
    MANIFEST,
    WEIGHTS,
    architecture_entry,
    architecture_from_manifest,
    presets_from_manifest,
    read_manifest,
    validate_manifest,
)
from core.manifest_checks import check_cost, seal
from core.model import PRESET_ORDER, Preset
from core.nn.architectures import Architecture
from core.nn.extractors import build_extractor, build_refiner
from core.nn.unet import count_parameters

DEFAULT_BUNDLE_ID = "stemforge-lite"
"""Bundle picked when no model is named (else the first installed bundle)."""



HOW_TO_GET_ONE = (
    "install a bundle folder (manifest.json + weights.safetensors) under "
    "resources/models/, ~/.local/share/stemforge/models/ or $STEMFORGE_MODELS, "
    "or train one with 'stemforge train ...' and 'stemforge export', "
    "or pass --model PATH_TO_BUNDLE"
)


# -- where bundles live ----------------------------------------------------------------


def model_search_paths() -> list[Path]:
    """Folders searched for bundles, in priority order.

    The user's model folders (:func:`core.models.store.user_folders`: ``$STEMFORGE_MODELS``,
    os.pathsep-separated, then the platform's data folder, ``~/.local/share/stemforge/models``
    on Linux), ``<repo>/resources/models``, and ``sys._MEIPASS/resources/models`` in a
    PyInstaller app.
    """
    from core.models.store import user_folders

    paths = user_folders()
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
        presets: name -> Preset or ``{"steps", "sigma_max", "sampler"[, "views", "mask"]}``; the four
            product presets draft/fast/balanced/best are expected (draft and its two-view
            fast without a student).
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
            row = {"steps": row.steps, "sigma_max": row.sigma_max, "sampler": row.sampler, "views": row.views,
                   "mask": row.mask}
        presets_table[name] = {
            "steps": int(row["steps"]),
            "sigma_max": float(row.get("sigma_max", 0.0)),
            "sampler": str(row.get("sampler", "consistency")),
        }
        if int(row.get("views", 1)) != 1:  # written only when it differs from one view
            presets_table[name]["views"] = int(row["views"])
        if row.get("mask"):  # written only when the ratio mask is on
            presets_table[name]["mask"] = True
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
        files=dict(manifest["files"]),
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
    (total over the stored networks), presets (name -> {steps, sigma_max, sampler[, views, mask]}),
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
