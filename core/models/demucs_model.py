"""The Demucs family: HTDemucs models (one ``.th`` or a bag) behind :class:`~core.models.interface.StemModel`.

A :class:`DemucsModel` separates stereo (or mono, as the model was trained) segments of the
model's own length at its own rate, usually 44 100 Hz. Its segment plan is the one of
``demucs.apply.apply_model(model, mix, shifts=0, split=True, overlap=0.25)``, the way the
model's authors run it: segments of ``L = int(segment * samplerate)`` samples every
``int(0.75 L)`` samples, combined with a triangle window, the last ones centred on what
is left of the signal (:class:`~core.audio.overlap_add.SegmentPlan`, ``"triangle"``,
``"centered"``). Through Stemforge's streaming pipeline a file therefore gets the stems
``apply_model`` gives on the whole file (to float rounding), at bounded memory.

Unlike the ``demucs`` command, the mixture is not normalised by the whole file's mean and
standard deviation first (that needs the whole file before the first segment); HTDemucs
normalises every segment itself, so this changes its estimates only through a 1e-5 guard.

A bag of models: for stem ``s``, ``y_s = sum_m w_ms y_ms / sum_m w_ms`` with the bag's
weights ``w`` (all ones by default), each model run on the same segments; the models of a
bag must share their stems, rate, channels and segment length (the released bags do).

Presets (:data:`DEMUCS_PRESETS`): ``draft`` is the model as its authors run it; ``fast``
adds Stemforge's ratio mask, ``balanced`` and ``best`` are Demucs' own shift ensemble (2 and
4 delayed renders averaged). The last three are offered only once ``stemforge tune`` has
measured that they gain (:attr:`~core.models.presets.Preset.measure_first`).

The model's stems keep their names (``drums``, ``bass``, ``other``, ``vocals``, and ``guitar``,
``piano`` for htdemucs_6s); since it has an ``other``, the residual stem of a render is called
``residual`` (:func:`core.instruments.residual_stem`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from core.audio.overlap_add import SegmentPlan
from core.errors import ConfigError, ModelLoadError
from core.models.demucs_files import (
    BAG_SUFFIXES,
    LICENCE_NOTE,
    TH_SUFFIX,
    build_network,
    choose_entry,
    file_checksums,
    model_files,
    read_bag,
    read_package,
    split_signature,
)
from core.models.interface import ModelDescription
from core.models.presets import Preset
from core.models.store import InstalledModel, read_installed, verify_files
from core.progress import CancelToken
from core.ratio_mask import ratio_mask_resynthesis

FAMILY = "demucs"
DEMUCS_OVERLAP = 0.25
"""Share of a segment overlapping the next, as ``apply_model`` and the ``demucs`` command default."""

DEMUCS_PRESETS: dict[str, dict] = {
    "draft": {"steps": 0, "sigma_max": 0.0},
    "fast": {"steps": 0, "sigma_max": 0.0, "mask": True, "measure_first": True},
    "balanced": {"steps": 0, "sigma_max": 0.0, "shifts": 2, "measure_first": True},
    "best": {"steps": 0, "sigma_max": 0.0, "shifts": 4, "measure_first": True},
}
"""The presets rows of an imported Demucs model (module docstring)."""


def presets_from_rows(rows: Mapping[str, Mapping]) -> dict[str, Preset]:
    """:class:`Preset` objects from an imported model's presets rows."""
    presets = {}
    for name, row in rows.items():
        presets[name] = Preset(
            name=name, steps=int(row.get("steps", 0)), sigma_max=float(row.get("sigma_max", 0.0)),
            gain_db=None if row.get("gain_db") is None else float(row["gain_db"]),
            views=int(row.get("views", 1)), mask=bool(row.get("mask", False)),
            shifts=int(row.get("shifts", 0)), measure_first=bool(row.get("measure_first", False)),
        )
        if presets[name].steps or presets[name].views != 1 or not 0 <= presets[name].shifts <= 20:
            raise ModelLoadError(f"preset {name!r} of a Demucs model: no refinement steps or views; 0-20 shifts")
    return presets


class DemucsModel:
    """HTDemucs networks (one, or a bag's) as a :class:`~core.models.interface.StemModel`.

    Args:
        networks: the HTDemucs modules (eval mode), sharing stems, rate, channels, segment.
        weights: ``(models, stems)`` bag weights.
        model_id: the id it was installed under (or the file's name).
        files: file name -> sha256 of every file it came from.
        presets: name -> :class:`Preset`.
        max_batch: most segment positions per network call. One, as ``apply_model`` runs
            them: on the CPU a batch of two full-size HTDemucs segments (7.8 s) took 19.0 s
            and peaked at 1505 MB RSS, two calls of one 2 x 7.7 s at 1151 MB (2026-12-04,
            one thread).
    """

    family = FAMILY

    def __init__(self, networks: Sequence[torch.nn.Module], weights: torch.Tensor, model_id: str,
                 files: Mapping[str, str], presets: Mapping[str, Preset], max_batch: int = 1):
        first = networks[0]
        self.members = list(networks)
        self.weights = weights.to(torch.float32)  # (M, S)
        self.model_id = model_id
        self.files = dict(files)
        self.sha256 = combined_sha256(self.files)
        self.presets = dict(presets)
        self.instruments = tuple(first.sources)
        self.sample_rate = int(first.samplerate)
        self.channels = int(first.audio_channels)
        self.segment_samples = int(first.segment * first.samplerate)
        stride = int((1 - DEMUCS_OVERLAP) * self.segment_samples)
        self.segment_plan = SegmentPlan(self.segment_samples, self.segment_samples - stride,
                                        window="triangle", tail="centered")
        self.max_batch = max_batch
        self.device = next(first.parameters()).device

    def networks(self) -> dict[str, torch.nn.Module]:
        """The bag's networks by name (``model0``, ``model1``...)."""
        return {f"model{index}": network for index, network in enumerate(self.members)}

    def to(self, device: torch.device | str) -> DemucsModel:
        device = torch.device(device)
        for network in self.members:
            network.to(device)
        self.device = device
        return self

    def separate(self, mixture: torch.Tensor, instruments: Sequence[str], preset: Preset,
                 generator: torch.Generator, cancel: CancelToken) -> torch.Tensor:
        """``(N, C, L)`` segments (``C = self.channels``) -> ``(N, S, C, L)`` stems.

        Each network runs on at most ``max_batch`` segments at a time; the bag's weighted
        average follows (module docstring), then the ratio mask when ``preset.mask``
        (each channel on its own). ``generator`` is unused: the networks are deterministic.
        """
        if mixture.dim() != 3 or mixture.shape[1] != self.channels or mixture.shape[2] != self.segment_samples:
            raise ValueError(f"expected ({self.channels}-channel) segments (N, {self.channels}, "
                             f"{self.segment_samples}), got {tuple(mixture.shape)}")
        picked = [self._index(name) for name in instruments]
        segments = mixture.to(self.device, torch.float32)
        weights = self.weights.to(self.device)
        total = None
        with torch.inference_mode():
            for network, row in zip(self.members, weights, strict=True):
                parts = []
                for start in range(0, segments.shape[0], max(1, self.max_batch)):
                    cancel.check()
                    parts.append(network(segments[start : start + max(1, self.max_batch)]))
                estimate = torch.cat(parts)[:, picked] * row[picked][None, :, None, None]
                total = estimate if total is None else total + estimate
            stems = total / weights.sum(0)[picked][None, :, None, None]
            if preset.mask:
                count, stem_count, channels, length = stems.shape
                flat = stems.permute(0, 2, 1, 3).reshape(count * channels, stem_count, length)
                masked = ratio_mask_resynthesis(flat, segments.reshape(count * channels, length))
                stems = masked.reshape(count, channels, stem_count, length).permute(0, 2, 1, 3)
        return stems.to(mixture.device, mixture.dtype)

    def _index(self, name: str) -> int:
        try:
            return self.instruments.index(name)
        except ValueError:
            raise ConfigError(f"model {self.model_id} has no stem {name!r}; it has {', '.join(self.instruments)}") from None


def combined_sha256(files: Mapping[str, str]) -> str:
    """One checksum for several files: their own sha256 when there is one, else the sha256
    of ``name:sha256`` lines in name order."""
    if len(files) == 1:
        return next(iter(files.values()))
    text = "".join(f"{name}:{digest}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def read_networks(entry: Path) -> tuple[list[torch.nn.Module], torch.Tensor]:
    """The networks and ``(models, stems)`` weights of a ``.th`` or a bag YAML (module
    docstring), checked to fit together; :class:`ModelLoadError` naming the file otherwise."""
    if entry.suffix.lower() in BAG_SUFFIXES:
        bag = read_bag(entry)
        paths, rows, segment = list(bag.models), bag.weights, bag.segment
    else:
        paths, rows, segment = [entry], None, None
    networks = [build_network(path, read_package(path)) for path in paths]
    first = networks[0]
    for path, network in zip(paths, networks, strict=True):
        if (list(network.sources) != list(first.sources) or network.samplerate != first.samplerate
                or network.audio_channels != first.audio_channels):
            raise ModelLoadError(f"{entry}: {path.name} does not share the stems, rate and channels of "
                                 f"{paths[0].name}; a bag's models must")
        if segment is not None and segment <= float(network.segment):  # BagOfModels' rule for HTDemucs
            network.segment = segment
    lengths = {int(network.segment * network.samplerate) for network in networks}
    if len(lengths) > 1:
        raise ModelLoadError(f"{entry}: its models have different segment lengths ({sorted(lengths)} samples); "
                             "Stemforge runs bags whose models share one")
    stems = len(first.sources)
    if rows is None:
        rows = [[1.0] * stems for _ in networks]
    if any(len(row) != stems for row in rows):
        raise ModelLoadError(f"{entry}: 'weights' must hold {stems} numbers per model (one per stem)")
    weights = torch.tensor(rows, dtype=torch.float32)
    if not bool((weights.sum(0) > 0).all()):
        raise ModelLoadError(f"{entry}: the weights of some stem sum to zero or less")
    return networks, weights


def load_demucs(entry: str | Path, device: str | torch.device = "cpu", model_id: str | None = None,
                presets: Mapping[str, Mapping] | None = None, files: Mapping[str, str] | None = None) -> DemucsModel:
    """Load a ``.th`` or bag YAML the user chose (or an installed model's entry).

    Args:
        model_id: the id to show (default: the bag's name, or the ``.th`` signature).
        presets: preset rows (default :data:`DEMUCS_PRESETS`; an installed model's carry
            its measured gains).
        files: the files' sha256 as recorded at install (default: computed now).
    """
    from core.devices import resolve_device

    entry = Path(entry)
    checksums = file_checksums(model_files(entry)) if files is None else dict(files)
    networks, weights = read_networks(entry)
    model = DemucsModel(networks, weights, model_id or default_model_id(entry), checksums,
                        presets_from_rows(presets or DEMUCS_PRESETS))
    return model.to(resolve_device(device) if isinstance(device, str) else device)


def default_model_id(entry: Path) -> str:
    """A bag's name, or a ``.th`` file's signature (its name without ``-<sha8>``)."""
    return entry.stem if entry.suffix.lower() in BAG_SUFFIXES else split_signature(entry)[0]


def describe_demucs(entry: Path, model_id: str | None = None, origin: str = "") -> tuple[InstalledModel, dict[str, Path]]:
    """Check that ``entry`` loads (every file, the networks built) and describe it for the
    store: its manifest and, for each of its files, the path to install from.

    Raises:
        ModelLoadError: any problem with any of its files.
    """
    files = model_files(entry)
    checksums = file_checksums(files)
    networks, _ = read_networks(entry)
    first = networks[0]
    manifest = InstalledModel(
        id=model_id or default_model_id(entry), family=FAMILY, entry=entry.name, files=checksums,
        stems=tuple(first.sources), sample_rate=int(first.samplerate), channels=int(first.audio_channels),
        segment_samples=int(first.segment * first.samplerate),
        presets={name: dict(row) for name, row in DEMUCS_PRESETS.items()},
        origin=origin or f"added from {entry.resolve()}", licence=LICENCE_NOTE,
    )
    return manifest, {file.name: file for file in files}


# -- the registry's view (core.models.registry) ---------------------------------------------


def accepts(path: Path) -> bool:
    """Whether ``path`` is a Demucs file a user chose: a ``.th`` or a bag YAML."""
    return path.is_file() and path.suffix.lower() in (TH_SUFFIX, *BAG_SUFFIXES)


def describe(path: Path, source: str = "file") -> ModelDescription:
    """A chosen file's description (``source="file"``: its networks are read to learn its
    stems), or an installed model's (``path`` its folder: from its manifest alone)."""
    if source != "file":
        return description_from_manifest(read_installed(path), source)
    manifest, _ = describe_demucs(path)
    return replace(description_from_manifest(manifest, source), path=path)


def description_from_manifest(model: InstalledModel, source: str = "installed") -> ModelDescription:
    """An installed model's description, from its manifest (no file opened)."""
    return ModelDescription(
        id=model.id, family=model.family, path=model.folder or Path(model.entry), stems=model.stems,
        sample_rate=model.sample_rate, channels=model.channels, presets=model.presets, files=model.files,
        origin=model.origin, licence=model.licence, source=source,
        details={"segment_samples": model.segment_samples, "entry": model.entry, "added": model.added},
    )


def load(description: ModelDescription, device: str = "auto") -> DemucsModel:
    """Load a described model: a chosen file as it is, an installed one after checking its
    files against the sha256 its manifest recorded."""
    if description.source == "file":
        return load_demucs(description.path, device)
    installed = read_installed(description.path)
    verify_files(installed)
    return load_demucs(installed.path(), device, installed.id, installed.presets, installed.files)


def inspect(paths: list[Path], model_id: str | None = None) -> tuple[InstalledModel, dict[str, Path]]:
    """What ``stemforge models add PATH...`` installs: the manifest and its files' sources
    (:func:`~core.models.demucs_files.choose_entry`, then everything checked by loading it)."""
    return describe_demucs(choose_entry(paths), model_id)
