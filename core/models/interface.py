"""What the separation pipeline needs from a model, whatever its family.

A model declares:

- ``sample_rate``: the rate of the waveforms it works on (the pipeline resamples to it);
- ``channels``: 1 (each input channel is separated as its own mono signal) or 2 (a stereo
  model: both channels of a segment go in together; a mono input is duplicated into
  both channels and the two output channels are averaged back into one);
- ``segment_samples`` and its chunking, ``segment_plan`` (:class:`core.audio.overlap_add.SegmentPlan`:
  overlap, window, margin, how the last segments are padded);
- ``instruments``: its stems, with its own names (``bass``, ``vocals``, ``other``, ...);
- ``presets``: its operating points (:class:`core.models.presets.Preset`);
- ``model_id``, ``sha256``, ``family`` and ``files`` (file name -> sha256): what a recipe
  records so a render can be repeated;

and separates a batch of segments (:meth:`StemModel.separate`). The hybrid U-Net of
core/METHOD.md (:mod:`core.hybrid`), the Demucs family (:mod:`core.models.demucs_model`) and
the tests' stand-ins implement it. ``channels``, ``segment_plan``, ``family`` and ``files``
are optional: :func:`model_channels`, :func:`model_segment_plan` and :func:`model_record` give
the defaults of a mono Stemforge model (the stand-ins rely on them).

Torch-free at import (annotations only), like :mod:`core.models.presets`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.instruments import residual_stem
from core.models.presets import Preset, withheld_presets
from core.progress import CancelToken

if TYPE_CHECKING:
    import torch

    from core.audio.overlap_add import SegmentPlan

DEFAULT_FAMILY = "stemforge"
"""The family of a model that does not say (Stemforge's own bundles)."""


@runtime_checkable
class StemModel(Protocol):
    """A separator of fixed-length segments.

    Attributes:
        model_id: short name of the model (bundle or installed-model id).
        sha256: checksum identifying the exact weights (for several files: of their list).
        sample_rate: rate of the waveforms it works on.
        segment_samples: length L of one segment; inputs are exactly this long.
        instruments: the stems it can extract, its own names, in its order.
        presets: name -> :class:`Preset`.
        device: where it runs.
    """

    model_id: str
    sha256: str
    sample_rate: int
    segment_samples: int
    instruments: tuple[str, ...]
    presets: dict[str, Preset]
    device: torch.device

    def separate(
        self,
        mixture: torch.Tensor,
        instruments: Sequence[str],
        preset: Preset,
        generator: torch.Generator,
        cancel: CancelToken,
    ) -> torch.Tensor:
        """Estimate stems.

        Args:
            mixture: ``(N, L)`` float32 mono segments for a mono model, ``(N, 2, L)`` for a
                stereo one (``channels == 2``), on ``self.device``.
            instruments: S stem names to extract (all run batched).
            preset: operating point.
            generator: seeded source of any noise the preset draws.
            cancel: checked between network passes.

        Returns:
            ``(N, S, L)`` (mono) or ``(N, S, 2, L)`` (stereo) estimates, same dtype and
            device as ``mixture``.
        """
        ...

    def to(self, device: torch.device | str) -> StemModel:
        """Move the weights; returns self."""
        ...


def model_channels(model: StemModel) -> int:
    """1 or 2: how many channels one segment of the model holds (1 when it does not say)."""
    channels = int(getattr(model, "channels", 1))
    if channels not in (1, 2):
        raise ValueError(f"model {model.model_id} declares {channels} channels; 1 or 2 are supported")
    return channels


def model_segment_plan(model: StemModel, overlap_fraction: float) -> SegmentPlan:
    """The model's own :class:`~core.audio.overlap_add.SegmentPlan`, or Stemforge's: its
    segment, ``overlap_fraction`` of it crossfaded with raised-cosine ramps, and as much
    margin as overlap so the file's ends lie inside a segment."""
    from core.audio.overlap_add import SegmentPlan

    plan = getattr(model, "segment_plan", None)
    if plan is not None:
        return plan
    segment = model.segment_samples
    overlap = int(segment * overlap_fraction)
    return SegmentPlan(segment, overlap, margin=overlap)


def model_family(model: StemModel) -> str:
    """The family the model belongs to (``stemforge`` when it does not say)."""
    return str(getattr(model, "family", DEFAULT_FAMILY))


def model_record(model: StemModel) -> dict:
    """What a recipe records of the model: ``{"id", "family", "sha256", "files"}``, with
    ``files`` mapping each file the weights came from to its sha256."""
    return {"id": model.model_id, "family": model_family(model), "sha256": model.sha256,
            "files": dict(getattr(model, "files", {}) or {})}


@dataclass(frozen=True)
class ModelDescription:
    """What ``stemforge models`` and the app show of a model, read without loading it.

    Attributes:
        id: what ``--model`` takes.
        family: ``stemforge`` (bundles), ``demucs``, ...
        path: what the family loads: a bundle folder, an installed model's folder, or the
            file a user chose.
        stems: its stems, its own names, in its order.
        presets: preset name -> row (``steps``, ``sigma_max``, ``views``, ``mask``, ``shifts``,
            ``measure_first``, ``gain_db``...).
        files: file name -> sha256.
        origin, licence: where it came from and what is known of its licence (imported models).
        source: ``built-in`` (shipped with Stemforge), ``installed`` (a user model folder) or
            ``file`` (a path given on the command line).
        parameters: network parameters, when known without loading.
        details: family-specific figures (segment, metrics, size...).
    """

    id: str
    family: str
    path: Path
    stems: tuple[str, ...]
    sample_rate: int
    channels: int
    presets: dict[str, dict] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    origin: str = ""
    licence: str = ""
    source: str = "installed"
    parameters: int | None = None
    details: dict = field(default_factory=dict)

    @property
    def residual(self) -> str:
        """The name of this model's residual stem (:func:`core.instruments.residual_stem`)."""
        return residual_stem(self.stems)

    def withheld_presets(self) -> dict[str, str]:
        """Presets not offered, with the reason (:func:`core.models.presets.withheld_presets`)."""
        return withheld_presets({name: row.get("gain_db") for name, row in self.presets.items()},
                                [name for name, row in self.presets.items() if row.get("measure_first")])

    def to_json(self) -> dict:
        return {"id": self.id, "family": self.family, "path": str(self.path), "stems": list(self.stems),
                "residual": self.residual, "sample_rate": self.sample_rate, "channels": self.channels,
                "presets": self.presets, "withheld_presets": self.withheld_presets(), "files": self.files,
                "origin": self.origin, "licence": self.licence, "source": self.source,
                "parameters": self.parameters, **self.details}
