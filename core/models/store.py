"""The user's model folder, and the manifest of each model installed in it (no torch).

``stemforge models add`` and ``stemforge models get`` install into it, ``stemforge models``
lists it and ``stemforge models remove`` empties it, all through this module; nothing here
opens a model's weights, so listing never runs a third-party file.

The folder (:func:`models_folder`): the first folder of ``$STEMFORGE_MODELS`` (an
``os.pathsep``-separated list; every folder of it is searched, the first is written), else
the platform's data folder: ``$XDG_DATA_HOME/stemforge/models`` (by default
``~/.local/share/stemforge/models``) on Linux, ``~/Library/Application Support/Stemforge/models``
on macOS, ``%APPDATA%\\Stemforge\\models`` on Windows. Stemforge's own bundles installed there
(a folder with ``manifest.json``, :mod:`core.bundle`) sit beside the imported models.

One imported model per subfolder, named by its id::

    <models folder>/<id>/stemforge-model.json    the manifest below
    <models folder>/<id>/<its files>             as the family names them (e.g. 955717e8-8726e21a.th)

Manifest (``format`` 1)::

    {
      "format": 1,
      "id": "htdemucs_ft",
      "family": "demucs",
      "entry": "htdemucs_ft.yaml",                 # the file the family loads first
      "files": {"htdemucs_ft.yaml": "<sha256>", "f7e0c4bc-ba3fe64a.th": "<sha256>", ...},
      "stems": ["drums", "bass", "other", "vocals"],
      "sample_rate": 44100,
      "channels": 2,
      "segment_samples": 343980,
      "presets": {"draft": {"steps": 0, "sigma_max": 0.0}, "fast": {..., "measure_first": true}},
      "origin": "added from /home/me/Downloads/htdemucs_ft.yaml",
      "licence": "one or two sentences: what is known of the weights' licence",
      "added": "2026-12-05T10:00:00+00:00"
    }

Installing (:func:`install`) copies (or moves) the files into a hidden staging folder
beside the destination, checks each copy's sha256 against the manifest, writes the manifest
and renames the staging folder into place: a model is registered whole or not at all, and a
failure (a full disk, a changed file, an existing id) leaves nothing behind.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from core.errors import ConfigError, ModelLoadError
from core.fileio import sha256_file, write_text_atomic

MANIFEST_NAME = "stemforge-model.json"
"""The manifest file of an imported model, in its folder."""
FORMAT = 1
MODEL_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
"""Ids are file names on every platform: letters, digits, ``._+-``, at most 64 characters."""
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_STAGING_PREFIX = ".staging-"
_REMOVING_PREFIX = ".removing-"


# -- where --------------------------------------------------------------------------------


def platform_data_folder() -> Path:
    """The platform's folder for an application's data, ``.../stemforge/models`` under it."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
        return base / "Stemforge" / "models"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Stemforge" / "models"
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "stemforge" / "models"


def override_folders() -> list[Path]:
    """The folders of ``$STEMFORGE_MODELS``, in order (empty when unset)."""
    return [Path(p).expanduser() for p in os.environ.get("STEMFORGE_MODELS", "").split(os.pathsep) if p]


def models_folder() -> Path:
    """The folder models are installed into (module docstring); it may not exist yet."""
    overrides = override_folders()
    return overrides[0] if overrides else platform_data_folder()


def user_folders() -> list[Path]:
    """Every folder searched for installed models: ``$STEMFORGE_MODELS``'s, then the
    platform's data folder."""
    folders = override_folders()
    if platform_data_folder() not in folders:
        folders.append(platform_data_folder())
    return folders


def check_model_id(model_id: str) -> str:
    """``model_id`` when it can name a model (:data:`MODEL_ID_PATTERN`), else :class:`ConfigError`."""
    if not isinstance(model_id, str) or not MODEL_ID_PATTERN.match(model_id):
        raise ConfigError(f"{model_id!r} cannot be a model id: use letters, digits and ._+- "
                          "(at most 64 characters, starting with a letter or digit)")
    return model_id


# -- the manifest ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InstalledModel:
    """An imported model's manifest (module docstring), and where it lies.

    Attributes:
        files: file name (in the model's folder, no path) -> full sha256.
        entry: the file among ``files`` the family loads first (a ``.th``, a bag's YAML).
        presets: preset name -> row as the family writes it (``steps``, ``sigma_max``,
            ``shifts``, ``mask``, ``measure_first``, and once tuned ``gain_db``).
        folder: the model's folder once installed (None before).
    """

    id: str
    family: str
    entry: str
    files: dict[str, str]
    stems: tuple[str, ...]
    sample_rate: int
    channels: int
    segment_samples: int
    presets: dict[str, dict] = field(default_factory=dict)
    origin: str = ""
    licence: str = ""
    added: str = ""
    folder: Path | None = None

    def path(self, name: str | None = None) -> Path:
        """The installed file ``name`` (default: the entry)."""
        if self.folder is None:
            raise ValueError(f"model {self.id} is not installed")
        return self.folder / (name or self.entry)

    def to_json(self) -> dict:
        return {
            "format": FORMAT, "id": self.id, "family": self.family, "entry": self.entry,
            "files": dict(self.files), "stems": list(self.stems), "sample_rate": self.sample_rate,
            "channels": self.channels, "segment_samples": self.segment_samples,
            "presets": {name: dict(row) for name, row in self.presets.items()},
            "origin": self.origin, "licence": self.licence, "added": self.added,
        }

    @classmethod
    def from_json(cls, data: object, where: Path | str) -> InstalledModel:
        """Validate a manifest read from ``where``; :class:`ModelLoadError` naming it otherwise."""
        try:
            return cls._parse(data)
        except (KeyError, TypeError, ValueError) as error:
            reason = f"missing {error}" if isinstance(error, KeyError) else str(error)
            raise ModelLoadError(f"{where}: not a usable model manifest ({reason}); "
                                 "remove the model and add it again") from None

    @classmethod
    def _parse(cls, data: object) -> InstalledModel:
        if not isinstance(data, Mapping):
            raise TypeError("not a JSON object")
        if data["format"] != FORMAT:
            raise ValueError(f"format {data['format']!r}, this version reads {FORMAT}")
        check_model_id(data["id"])
        files = data["files"]
        if not isinstance(files, Mapping) or not files:
            raise ValueError("files must list at least one file")
        for name, digest in files.items():
            if not isinstance(name, str) or Path(name).name != name or name.startswith("."):
                raise ValueError(f"file name {name!r} is not a plain file name")
            if not isinstance(digest, str) or not _SHA256.match(digest):
                raise ValueError(f"{name}: sha256 must be 64 lowercase hex digits")
        if data["entry"] not in files:
            raise ValueError("entry must be one of the files")
        stems = data["stems"]
        if not isinstance(stems, list) or not stems or not all(isinstance(s, str) and s for s in stems):
            raise ValueError("stems must be a list of names")
        if len(set(stems)) != len(stems):
            raise ValueError("stems must be distinct")
        numbers = {key: data[key] for key in ("sample_rate", "channels", "segment_samples")}
        for key, value in numbers.items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{key} must be a positive integer")
        if numbers["channels"] not in (1, 2):
            raise ValueError("channels must be 1 or 2")
        presets = data.get("presets", {})
        if not isinstance(presets, Mapping) or not all(isinstance(row, Mapping) for row in presets.values()):
            raise ValueError("presets must map names to objects")
        for name, row in presets.items():
            gain = row.get("gain_db")
            if gain is not None and (not isinstance(gain, (int, float)) or not math.isfinite(gain)):
                raise ValueError(f"preset {name!r}: gain_db must be a finite number")
        return cls(id=data["id"], family=str(data["family"]), entry=data["entry"], files=dict(files),
                   stems=tuple(stems), presets={name: dict(row) for name, row in presets.items()},
                   origin=str(data.get("origin", "")), licence=str(data.get("licence", "")),
                   added=str(data.get("added", "")), **numbers)


def read_installed(folder: str | Path) -> InstalledModel:
    """The model installed in ``folder`` (its manifest, validated; files not opened)."""
    folder = Path(folder)
    file = folder / MANIFEST_NAME
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"{folder}: no {MANIFEST_NAME}; not an installed model") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ModelLoadError(f"{file}: unreadable manifest ({error}); remove the model and add it again") from None
    model = InstalledModel.from_json(data, file)
    if model.id != folder.name:
        raise ModelLoadError(f"{file}: names model {model.id!r} but lies in folder {folder.name!r}; "
                             "remove it and add it again")
    return replace(model, folder=folder)


def list_installed(folders: list[Path] | None = None) -> tuple[list[InstalledModel], list[ModelLoadError]]:
    """Every imported model in ``folders`` (default :func:`user_folders`), first of an id
    wins; and one error per manifest that cannot be read (listing never stops on one)."""
    found: dict[str, InstalledModel] = {}
    broken: list[ModelLoadError] = []
    for root in folders if folders is not None else user_folders():
        if not root.is_dir():
            continue
        for manifest in sorted(root.glob(f"*/{MANIFEST_NAME}")):
            if manifest.parent.name.startswith("."):
                continue  # staging or removing
            try:
                model = read_installed(manifest.parent)
            except ModelLoadError as error:
                broken.append(error)
                continue
            found.setdefault(model.id, model)
    return list(found.values()), broken


def find_installed(model_id: str, folders: list[Path] | None = None) -> InstalledModel | None:
    """The imported model with this id, or None."""
    return next((model for model in list_installed(folders)[0] if model.id == model_id), None)


def verify_files(model: InstalledModel) -> None:
    """Check every file of an installed model against its sha256 (:class:`ModelLoadError`
    naming the first missing or changed one)."""
    for name, expected in model.files.items():
        file = model.path(name)
        if not file.is_file():
            raise ModelLoadError(f"{file}: missing from model {model.id}; remove it and add it again")
        actual = sha256_file(file)
        if actual != expected:
            raise ModelLoadError(f"{file}: checksum mismatch (expected {expected[:12]}..., got {actual[:12]}...): "
                                 f"the file changed since model {model.id} was added; remove it and add it again")


# -- changing the folder ----------------------------------------------------------------------


def install(model: InstalledModel, sources: Mapping[str, str | Path], move: bool = False,
            root: Path | None = None) -> InstalledModel:
    """Install ``model`` with its files, whole or not at all (module docstring).

    Args:
        model: the manifest to write (its ``folder`` is ignored); ``added`` is filled in
            when empty.
        sources: for each name of ``model.files``, the file to copy (or move).
        move: move the sources instead of copying them (a finished download).
        root: the models folder (default :func:`models_folder`).

    Returns:
        The installed model (with its ``folder``).

    Raises:
        ConfigError: the id is taken, or ``sources`` does not match ``model.files``.
        ModelLoadError: a copied file's sha256 differs from the manifest's.
        OSError: the folder cannot be written (a full disk...): nothing is left behind.
    """
    check_model_id(model.id)
    if set(sources) != set(model.files):
        raise ConfigError(f"model {model.id}: files {sorted(sources)} do not match its manifest {sorted(model.files)}")
    root = Path(root) if root is not None else models_folder()
    destination = root / model.id
    if destination.exists():
        raise ConfigError(f"a model with the id {model.id!r} is already installed ({destination}); "
                          "remove it first ('stemforge models remove') or choose another id")
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f"{_STAGING_PREFIX}{model.id}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        for name, source in sources.items():
            target = staging / name
            if move:
                shutil.move(str(source), target)
            else:
                shutil.copyfile(source, target)
            actual = sha256_file(target)
            if actual != model.files[name]:
                raise ModelLoadError(f"{source}: changed while it was being installed (sha256 {actual[:12]}..., "
                                     f"expected {model.files[name][:12]}...); try again")
        stamped = replace(model, folder=None,
                          added=model.added or datetime.now(timezone.utc).isoformat(timespec="seconds"))
        write_text_atomic(staging / MANIFEST_NAME, json.dumps(stamped.to_json(), indent=2) + "\n")
        os.rename(staging, destination)  # fails if the id appeared meanwhile: nothing replaced
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return replace(stamped, folder=destination)


def update_presets(model: InstalledModel, presets: Mapping[str, Mapping]) -> InstalledModel:
    """Rewrite an installed model's presets table (``stemforge tune`` records its gains)."""
    updated = replace(model, presets={name: dict(row) for name, row in presets.items()})
    write_text_atomic(model.path(MANIFEST_NAME), json.dumps(updated.to_json(), indent=2) + "\n")
    return updated


def remove_folder(folder: Path) -> None:
    """Delete an installed model's folder: first renamed to a hidden name (the model
    disappears at once, whole), then deleted. Only folders inside a user model folder that
    hold a model (an imported model's manifest or a bundle's ``manifest.json``) are removed."""
    folder = Path(folder)
    roots = [root.resolve() for root in user_folders() if root.exists()]
    if folder.resolve().parent not in roots:
        raise ConfigError(f"{folder}: not in a user model folder ({', '.join(map(str, user_folders()))}); "
                          "built-in models cannot be removed")
    if not (folder / MANIFEST_NAME).is_file() and not (folder / "manifest.json").is_file():
        raise ConfigError(f"{folder}: holds no model manifest; not removed")
    doomed = folder.with_name(f"{_REMOVING_PREFIX}{folder.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.rename(folder, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
