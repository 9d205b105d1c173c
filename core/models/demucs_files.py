"""Demucs model files: single ``.th`` files and bags of them described by YAML.

Formats (as the ``demucs`` package 4.1.0 writes and reads them, ``demucs/states.py`` and
``demucs/repo.py``):

- a ``.th`` file is ``torch.save`` of ``{"klass": the model class, "args": [...],
  "kwargs": {...}, "state": state dict, ...}``; the state may be stored in fp16, or
  quantized by DiffQ (``state["__quantized"]``, the ``*_q`` models), which needs the
  ``diffq`` package;
- a file named ``<sig>-<sha8>.th`` carries the first 8 hex digits of its own sha256;
- a bag is a YAML file ``{"models": [sig, ...], "weights": [[one per stem] per model]
  (optional), "segment": seconds (optional)}`` beside its models' ``<sig>.th`` or
  ``<sig>-<sha8>.th`` files; each stem is the weighted average of the models' estimates.

**A .th file is a pickle, and unpickling can run code.** Stemforge opens it with torch's
weights-only unpickler and allows nothing but the Demucs model classes, ``fractions.Fraction``
and numpy's scalar types (:func:`allowed_globals`): a file that names anything else is
refused before any of it runs. Even so, load only files you chose from a source you trust
(``stemforge models add``, ``--model PATH``) or downloads whose full sha256 is pinned in
Stemforge's code (``stemforge models get``).

Only HTDemucs (Demucs v4: ``htdemucs``, ``htdemucs_ft``, ``htdemucs_6s``) runs here: its
segment is fixed, which the streaming pipeline needs (:mod:`core.models.demucs_model`).
Every problem raises :class:`~core.errors.ModelLoadError` naming the file and the reason.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from core.errors import ModelLoadError
from core.fileio import sha256_file

TH_SUFFIX = ".th"
BAG_SUFFIXES = (".yaml", ".yml")
INSTALL_HINT = 'pip install "stemforge[demucs]" (the official demucs package, 4.1.0)'
LICENCE_NOTE = ("Demucs (Meta Platforms) is MIT-licensed code; its README states no separate licence for "
                "the released weights, which were trained on MUSDB18-HQ plus other data. Check the "
                "terms that apply to your use before publishing stems made with them.")
"""The licence situation of Demucs weights, shown with every Demucs model (and before a download)."""
_SIGNED_NAME = re.compile(r"^(?P<sig>.+)-(?P<sha8>[0-9a-f]{8})$")


def demucs_modules():
    """The ``demucs`` package's model classes ``(Demucs, HDemucs, HTDemucs)``, or
    :class:`ModelLoadError` saying how to install it."""
    try:
        from demucs.demucs import Demucs
        from demucs.hdemucs import HDemucs
        from demucs.htdemucs import HTDemucs
    except ImportError as error:
        raise ModelLoadError(f"Demucs models need the demucs package ({error}); install it with: "
                             f"{INSTALL_HINT}") from None
    return Demucs, HDemucs, HTDemucs


def allowed_globals() -> list:
    """What a Demucs ``.th`` may name: the model classes, ``Fraction`` (segments) and
    numpy's scalars and dtypes (numbers in training arguments), under their current and
    numpy-1 names. Torch's tensors are allowed by the weights-only unpickler itself."""
    import numpy as np

    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    dtypes = {type(np.dtype(name)) for name in ("float16", "float32", "float64", "int32", "int64", "bool")}
    return [*demucs_modules(), Fraction, np.dtype, *dtypes, scalar, (scalar, "numpy.core.multiarray.scalar")]


def _allowed_names(allowed: list) -> set[str]:
    names = set()
    for item in allowed:
        if isinstance(item, tuple):
            names.add(item[1])
        else:
            names.add(f"{item.__module__}.{item.__qualname__}")
    return names


def split_signature(path: Path) -> tuple[str, str | None]:
    """``(signature, sha8 or None)`` of a ``.th`` file's name (``<sig>-<sha8>.th``)."""
    match = _SIGNED_NAME.match(path.stem)
    return (match["sig"], match["sha8"]) if match else (path.stem, None)


def check_signed_name(path: Path, sha256: str) -> None:
    """A ``<sig>-<sha8>.th`` file's sha256 must start with its ``sha8``."""
    _, sha8 = split_signature(path)
    if sha8 is not None and not sha256.startswith(sha8):
        raise ModelLoadError(f"{path}: its name says its sha256 starts with {sha8}, but it starts with "
                             f"{sha256[:8]}: the file is corrupted, truncated or not the one that name belongs to")


def read_package(path: Path) -> dict:
    """The dictionary a ``.th`` file holds, unpickled with only :func:`allowed_globals`.

    Raises:
        ModelLoadError: not a torch file (truncated, corrupted), it names a global outside the
            allow-list (anything but a Demucs model), or it lacks ``klass``/``args``/``kwargs``/``state``.
    """
    import torch

    allowed = allowed_globals()
    try:
        named = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception as error:  # zip, pickle and EOF errors of a damaged file
        raise ModelLoadError(f"{path}: not a readable Demucs .th file (truncated or corrupted: "
                             f"{_first_line(error)})") from None
    foreign = sorted(set(named) - _allowed_names(allowed))
    if foreign:
        raise ModelLoadError(f"{path}: names {', '.join(foreign)}, which is not a Demucs model class; refused "
                             "without running it (a .th file is a pickle and could run code)")
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(allowed):
            warnings.simplefilter("ignore")
            package = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:
        raise ModelLoadError(f"{path}: not a readable Demucs .th file ({_first_line(error)})") from None
    if not isinstance(package, dict) or not {"klass", "args", "kwargs", "state"} <= set(package):
        raise ModelLoadError(f"{path}: not a Demucs model file (it holds no klass, args, kwargs and state; "
                             "a training checkpoint or a bare state dict cannot be used)")
    return package


def build_network(path: Path, package: dict):
    """The HTDemucs network a package describes, with its weights, in eval mode (float32).

    Raises:
        ModelLoadError: another class, a quantized state without diffq, weights that do not
            fit the class's arguments.
    """
    Demucs, HDemucs, HTDemucs = demucs_modules()
    klass, args, kwargs, state = package["klass"], package["args"], package["kwargs"], package["state"]
    if not isinstance(klass, type) or not issubclass(klass, HTDemucs):
        name = getattr(klass, "__name__", repr(klass))
        older = isinstance(klass, type) and issubclass(klass, (Demucs, HDemucs))
        raise ModelLoadError(f"{path}: a {name} model" + (" (Demucs v2/v3)" if older else "")
                             + "; Stemforge runs HTDemucs (Demucs v4) models only")
    if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict) or not isinstance(state, dict):
        raise ModelLoadError(f"{path}: not a Demucs model file (args, kwargs or state of the wrong type)")
    if state.get("__quantized"):
        try:
            import diffq  # noqa: F401
        except ImportError:
            raise ModelLoadError(f"{path}: a quantized (DiffQ, '_q') model: it needs the diffq package, "
                                 "which is not installed (pip install diffq), or use the unquantized model") from None
    from demucs.states import load_model

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not state.get("__quantized"):
                _check_shapes(path, klass, args, kwargs, state)
            network = load_model({"klass": klass, "args": list(args), "kwargs": dict(kwargs), "state": state})
    except ModelLoadError:
        raise
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError, MemoryError) as error:
        raise ModelLoadError(f"{path}: its weights do not fit a {klass.__name__}({_first_line(error)})") from None
    network = network.float().eval()
    if not getattr(network, "use_train_segment", True):
        raise ModelLoadError(f"{path}: an HTDemucs without a fixed segment (use_train_segment off) cannot stream")
    if int(network.audio_channels) not in (1, 2):
        raise ModelLoadError(f"{path}: {network.audio_channels} audio channels; 1 or 2 are supported")
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network


def _check_shapes(path: Path, klass, args, kwargs: dict, state: dict) -> None:
    """Build the class on the meta device (nothing allocated) and compare its tensors with
    the state's, so a file claiming a huge architecture fails before any memory is taken."""
    import inspect

    import torch

    accepted = inspect.signature(klass).parameters
    with torch.device("meta"):
        skeleton = klass(*args, **{key: value for key, value in kwargs.items() if key in accepted})
    expected = {key: tuple(value.shape) for key, value in skeleton.state_dict().items()}
    given = {key: tuple(value.shape) for key, value in state.items() if isinstance(value, torch.Tensor)}
    missing, unexpected = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
    wrong = sorted(key for key in set(expected) & set(given) if expected[key] != given[key])
    if missing or unexpected or wrong:
        detail = (f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}" if unexpected
                  else f"{wrong[0]} is {given[wrong[0]]}, the class needs {expected[wrong[0]]}")
        raise ModelLoadError(f"{path}: its weights do not fit its {klass.__name__} arguments ({detail})")


@dataclass(frozen=True)
class BagFile:
    """A bag's YAML, read: its models' files in order, their weights and its segment."""

    path: Path
    models: tuple[Path, ...]
    weights: tuple[tuple[float, ...], ...] | None
    segment: float | None


def read_bag(path: Path) -> BagFile:
    """Read a bag YAML and find its models' files beside it.

    Raises:
        ModelLoadError: not YAML, no ``models`` list, bad ``weights``/``segment``, or a
            named model with no file (or several) beside it.
    """
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ModelLoadError(f"{path}: not a readable bag YAML ({_first_line(error)})") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list) or not models or not all(isinstance(m, str) and m for m in models):
        raise ModelLoadError(f"{path}: not a Demucs bag (no 'models' list of model signatures)")
    files = tuple(_find_signature(path, signature) for signature in models)
    weights = data.get("weights")
    if weights is not None:
        if (not isinstance(weights, list) or len(weights) != len(models)
                or not all(isinstance(row, list) and row for row in weights)
                or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w)
                           for row in weights for w in row)):
            raise ModelLoadError(f"{path}: 'weights' must hold one list of numbers per model ({len(models)})")
        weights = tuple(tuple(float(w) for w in row) for row in weights)
    segment = data.get("segment")
    if segment is not None and (not isinstance(segment, (int, float)) or isinstance(segment, bool)
                                or not 0 < segment < 3600):
        raise ModelLoadError(f"{path}: 'segment' must be a number of seconds")
    return BagFile(path, files, weights, None if segment is None else float(segment))


def _find_signature(bag: Path, signature: str) -> Path:
    if "/" in signature or "\\" in signature or signature.startswith("."):
        raise ModelLoadError(f"{bag}: model {signature!r} is not a plain signature")
    exact = bag.parent / f"{signature}{TH_SUFFIX}"
    signed = [p for p in bag.parent.glob(f"{signature}-*{TH_SUFFIX}") if split_signature(p)[0] == signature]
    candidates = ([exact] if exact.is_file() else []) + sorted(signed)
    if not candidates:
        raise ModelLoadError(f"{bag}: names model {signature!r}, but neither {signature}.th nor "
                             f"{signature}-<sha8>.th lies beside it")
    if len(candidates) > 1:
        raise ModelLoadError(f"{bag}: several files for model {signature!r} ({', '.join(p.name for p in candidates)}); "
                             "keep one")
    return candidates[0]


def model_files(entry: Path) -> list[Path]:
    """Every file a model needs: the ``.th`` itself, or a bag's YAML and its models' files."""
    if entry.suffix.lower() in BAG_SUFFIXES:
        return [entry, *dict.fromkeys(read_bag(entry).models)]
    return [entry]


def choose_entry(paths: list[Path]) -> Path:
    """The file to load among what a user gave ``models add``: one ``.th``; several files
    with one bag YAML among them; or a folder holding one YAML, or else one ``.th``.

    Raises:
        ModelLoadError: nothing usable, or more than one candidate.
    """
    files: list[Path] = []
    chosen: list[Path] = []  # files named one by one (not found in a folder)
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file()
                                and p.suffix.lower() in (TH_SUFFIX, *BAG_SUFFIXES)))
        elif path.is_file():
            files.append(path)
            chosen.append(path)
        else:
            raise ModelLoadError(f"{path}: no such file or folder")
    bags = [p for p in files if p.suffix.lower() in BAG_SUFFIXES]
    singles = [p for p in files if p.suffix.lower() == TH_SUFFIX]
    others = [p for p in files if p not in bags and p not in singles]
    if others:
        raise ModelLoadError(f"{others[0]}: not a Demucs model file (.th, or a bag's .yaml)")
    if len(bags) > 1:
        raise ModelLoadError(f"{', '.join(map(str, bags))}: several bags; add one at a time")
    if bags:
        named = {p.resolve() for p in read_bag(bags[0]).models}
        stray = [p for p in chosen if p.suffix.lower() == TH_SUFFIX and p.resolve() not in named]
        if stray:
            raise ModelLoadError(f"{stray[0]}: not one of the models {bags[0].name} names (they must lie beside it)")
        return bags[0]
    if len(singles) == 1:
        return singles[0]
    if not singles:
        raise ModelLoadError(f"{', '.join(map(str, paths))}: no Demucs model file (.th or bag .yaml) in it")
    raise ModelLoadError(f"{', '.join(p.name for p in singles)}: several .th files without a bag YAML; "
                         "add them one at a time, or with the YAML that bags them")


def file_checksums(files: list[Path]) -> dict[str, str]:
    """name -> sha256 of each file, checking signed names on the way."""
    checksums = {}
    for file in files:
        try:
            digest = sha256_file(file)
        except OSError as error:
            raise ModelLoadError(f"{file}: cannot be read ({error.strerror or error})") from None
        if file.suffix.lower() == TH_SUFFIX:
            check_signed_name(file, digest)
        if file.name in checksums:
            raise ModelLoadError(f"{file}: two files named {file.name}")
        checksums[file.name] = digest
    return checksums


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]
