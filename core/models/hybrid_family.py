"""The Stemforge family: the hybrid U-Net extractor + refiners, stored as bundles.

A bundle is a folder with ``manifest.json`` + ``weights.safetensors`` (:mod:`core.bundle`,
:mod:`core.manifest`); its model is a :class:`core.hybrid.HybridModel`, mono at 22 050 Hz.
This module is the registry's view of them: which paths are bundles, their description,
loading, and copying a bundle folder into the user's model folder (``stemforge models add``).
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

import core
from core.errors import ConfigError
from core.manifest import MANIFEST
from core.models.interface import ModelDescription, StemModel

FAMILY = "stemforge"


def accepts(path: Path) -> bool:
    """Whether ``path`` is a bundle folder (or its manifest.json)."""
    return (path.is_dir() and (path / MANIFEST).is_file()) or (path.name == MANIFEST and path.is_file())


def bundle_folder(path: Path) -> Path:
    return path.parent if path.name == MANIFEST else path


def built_in_folders() -> list[Path]:
    """Where the shipped bundles lie: the repository's and the frozen app's resources."""
    folders = [Path(core.__file__).resolve().parent.parent / "resources" / "models"]
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        folders.append(Path(frozen) / "resources" / "models")
    return folders


def describe(path: Path, source: str | None = None) -> ModelDescription:
    """A bundle's description, from its manifest (no weights read)."""
    from core.bundle import describe_bundle

    folder = bundle_folder(path)
    info = describe_bundle(folder)
    if source is None:
        shipped = any(folder.resolve().parent == root.resolve() for root in built_in_folders())
        source = "built-in" if shipped else "installed"
    details = {key: info[key] for key in ("segment_samples", "networks", "size_bytes", "metrics", "training_data")}
    return ModelDescription(
        id=info["id"], family=FAMILY, path=folder, stems=tuple(info["instruments"]),
        sample_rate=int(info["sample_rate"]), channels=1, presets={k: dict(v) for k, v in info["presets"].items()},
        files={"weights.safetensors": info["sha256"]}, origin="Stemforge bundle",
        licence="Stemforge's own weights (see the bundle's model card)", source=source,
        parameters=int(info["parameters"]), details=details,
    )


def load(description: ModelDescription, device: str = "auto") -> StemModel:
    """Load the bundle, with torch's CPU threads fitted to its size
    (:func:`core.devices.threads_for_network`)."""
    import torch

    from core.bundle import load_bundle
    from core.devices import threads_for_network

    threads = threads_for_network(description.parameters or 0, device)
    if threads:
        torch.set_num_threads(threads)
    return load_bundle(description.path, device)


def install_bundle(folder: Path, root: Path) -> Path:
    """Copy a bundle folder into the models folder ``root`` under its id, whole or not at
    all: it is loaded first (checksums, architecture), copied to a hidden name, checked
    again and renamed into place."""
    from core.bundle import load_bundle, read_manifest, verify_files

    folder = bundle_folder(folder)
    manifest = read_manifest(folder)
    load_bundle(folder, "cpu")  # refuses a bundle that would not load
    from core.models.store import check_model_id

    destination = root / check_model_id(manifest["id"])
    if destination.exists():
        raise ConfigError(f"a model with the id {manifest['id']!r} is already installed ({destination}); "
                          "remove it first")
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging-{manifest['id']}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        shutil.copytree(folder, staging)
        verify_files(staging, read_manifest(staging))
        os.rename(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination
