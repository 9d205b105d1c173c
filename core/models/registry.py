"""Model id or path -> description and loader, over every family.

What ``--model`` takes, everywhere (CLI, app, eval, bench):

- an id: a Stemforge bundle in the search folders (:func:`core.bundle.model_search_paths`:
  the user's model folders, then the shipped ``resources/models``), or a model imported
  into a user model folder (:mod:`core.models.store`); the first of an id wins, bundles
  first;
- a path: a bundle folder (or its ``manifest.json``), an installed model's folder, or a
  Demucs ``.th`` / bag ``.yaml`` the user chose (loaded in place, nothing installed);
- nothing: the default bundle (:data:`core.bundle.DEFAULT_BUNDLE_ID`), else the first
  installed model.

Each family is a module with ``FAMILY``, ``accepts(path)``, ``describe(path, source)`` and
``load(description, device)`` (:data:`FAMILIES`); imported families add
``inspect(paths, model_id)``, which ``stemforge models add`` installs through
:func:`core.models.store.install`, and ``description_from_manifest(installed)``, which lists
an installed one from its manifest alone. A family's modules are imported only when one of its
models is used, so a missing optional package (``demucs``) only affects its own models.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from core.errors import ConfigError, ModelLoadError, StemforgeError, UnknownModelError
from core.models import store
from core.models.interface import ModelDescription, StemModel

FAMILIES: dict[str, str] = {
    "stemforge": "core.models.hybrid_family",
    "demucs": "core.models.demucs_model",
}
"""Family name -> the module implementing it."""

IMPORTED_SUFFIXES = (".th", ".yaml", ".yml")
"""Files of imported families a path may name (Demucs ``.th`` and bag YAML)."""

HOW_TO_ADD = ("add one with 'stemforge models add FILE.th' (Demucs) or a bundle folder, or pass "
              "--model PATH")


def family_module(name: str):
    """The module of the family ``name`` (:class:`ModelLoadError` for an unknown one)."""
    if name not in FAMILIES:
        raise ModelLoadError(f"unknown model family {name!r}; this version knows {', '.join(FAMILIES)}")
    return importlib.import_module(FAMILIES[name])


def installed_models() -> tuple[list[ModelDescription], list[StemforgeError]]:
    """Every model found (bundles first, then imported models; first of an id wins) and one
    error per model that cannot be described (listing never stops on one)."""
    from core.bundle import installed_bundles

    found: dict[str, ModelDescription] = {}
    problems: list[StemforgeError] = []
    hybrid = family_module("stemforge")
    for folder in installed_bundles():
        try:
            description = hybrid.describe(folder)
        except StemforgeError as error:
            problems.append(error)
            continue
        found.setdefault(description.id, description)
    imported, broken = store.list_installed()
    problems.extend(broken)
    for model in imported:
        if model.family not in FAMILIES or model.family == "stemforge":
            problems.append(ModelLoadError(f"{model.folder}: model {model.id} is of family {model.family!r}, "
                                           "which this version cannot import"))
            continue
        found.setdefault(model.id, family_module(model.family).description_from_manifest(model))
    return list(found.values()), problems


def describe_path(path: Path) -> ModelDescription:
    """The description of a model given by path (module docstring)."""
    if (path / store.MANIFEST_NAME).is_file():
        return family_module(store.read_installed(path).family).describe(path, source="installed")
    hybrid = family_module("stemforge")
    if hybrid.accepts(path):
        return hybrid.describe(path)
    if path.is_file() and path.suffix.lower() in IMPORTED_SUFFIXES:
        return family_module("demucs").describe(path, source="file")
    if path.is_dir():
        raise ModelLoadError(f"{path}: not a model (no manifest.json or {store.MANIFEST_NAME} inside)")
    raise ModelLoadError(f"{path}: not a model file (a bundle folder, a Demucs .th or bag .yaml)")


def find_model(spec: str | Path | None) -> ModelDescription:
    """Resolve ``--model`` (module docstring) to a description, loading nothing but what a
    chosen file needs to be described.

    Raises:
        UnknownModelError: no model has that id (the message lists the installed ones).
        ModelLoadError: the path is not a usable model, or nothing is installed.
    """
    from core.bundle import DEFAULT_BUNDLE_ID

    if spec is not None:
        path = Path(spec).expanduser()
        if path.is_dir() or path.is_file():
            return describe_path(path)
    models, problems = installed_models()
    ids = {model.id: model for model in models}
    if spec is None:
        if DEFAULT_BUNDLE_ID in ids:
            return ids[DEFAULT_BUNDLE_ID]
        if models:
            return models[0]
        if problems:  # say why the installed model cannot be used, not that there is none
            raise problems[0]
        from core.bundle import HOW_TO_GET_ONE

        raise ModelLoadError(f"no model installed: {HOW_TO_GET_ONE}; or {HOW_TO_ADD}")
    if str(spec) in ids:
        return ids[str(spec)]
    known = ", ".join(ids) if ids else "none"
    raise UnknownModelError(f"no model {str(spec)!r}: not a model file or folder and not an installed model id "
                            f"(installed: {known}); {HOW_TO_ADD}")


def load_described(description: ModelDescription, device: str = "auto") -> StemModel:
    """Load a described model on ``device``."""
    return family_module(description.family).load(description, device)


def load_model(spec: str | Path | None, device: str = "auto") -> StemModel:
    """Find a model (:func:`find_model`) and load it on ``device``."""
    return load_described(find_model(spec), device)


def add_model(paths: list[Path], model_id: str | None = None) -> ModelDescription:
    """Install what ``stemforge models add`` was given: a Stemforge bundle folder, or a
    Demucs model (one ``.th``; several files with their bag YAML; a folder). Everything is
    checked (files read, networks built) before anything is written; the model is
    registered whole or not at all (:func:`core.models.store.install`).

    Raises:
        ModelLoadError: a file is unusable (one line naming it and the reason).
        ConfigError: the id is taken or not a valid id.
    """
    paths = [Path(p).expanduser() for p in paths]
    if not paths:
        raise ConfigError("name the model's files or folder")
    hybrid = family_module("stemforge")
    if len(paths) == 1 and hybrid.accepts(paths[0]):
        if model_id is not None:
            raise ConfigError("a Stemforge bundle keeps the id its manifest gives; --id is for imported models")
        _refuse_taken(_bundle_id(paths[0]))
        return hybrid.describe(hybrid.install_bundle(paths[0], store.models_folder()), source="installed")
    if model_id is not None:
        store.check_model_id(model_id)
    family = family_module("demucs")  # the one importable family so far; the next one picks by file type here
    manifest, sources = family.inspect(paths, model_id)
    store.check_model_id(manifest.id)
    _refuse_taken(manifest.id)
    installed = store.install(manifest, sources)
    return family.description_from_manifest(installed)


def remove_model(model_id: str) -> Path:
    """Remove an installed model (imported, or a bundle in a user model folder) by id;
    returns the folder it occupied. Built-in models cannot be removed."""
    models, _ = installed_models()
    for model in models:
        if model.id == model_id:
            if model.source != "installed":
                raise ConfigError(f"model {model_id} is built into Stemforge ({model.path}); it cannot be removed")
            store.remove_folder(model.path)
            return model.path
    known = ", ".join(m.id for m in models if m.source == "installed") or "none"
    raise UnknownModelError(f"no installed model {model_id!r} (removable: {known})")


def _bundle_id(path: Path) -> str:
    from core.bundle import read_manifest

    return read_manifest(path.parent if path.is_file() else path)["id"]


def _refuse_taken(model_id: str) -> None:
    models, _ = installed_models()
    for model in models:
        if model.id == model_id:
            raise ConfigError(f"a model with the id {model_id!r} is already installed ({model.path}); "
                              "choose another with --id, or remove it first ('stemforge models remove')")
