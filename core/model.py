"""What the separation pipeline needs from a model, whatever is inside it.

The pipeline only sees :class:`StemModel`: mono segments at the model's rate in,
one estimate per requested instrument out. The hybrid extractor + consistency
refiner of core/METHOD.md implements it; tests use tiny stand-ins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.progress import CancelToken

if TYPE_CHECKING:  # annotations only: the presets are read without torch
    import torch


@dataclass(frozen=True)
class Preset:
    """A quality/speed operating point, read from a model bundle's presets table.

    ``steps == 0`` means the deterministic extractor alone (draft); ``steps >= 1``
    means that many consistency steps starting from ``x_det + sigma_max * z``;
    ``sampler == "teacher"`` runs the diffusion teacher for ``steps`` Euler steps.
    """

    name: str
    steps: int
    sigma_max: float
    sampler: str = "consistency"

    @property
    def passes_per_stem(self) -> int:
        """Network passes per stem and segment: 1 extractor pass + one per step."""
        return 1 + self.steps


PRESET_ORDER: tuple[str, ...] = ("draft", "fast", "balanced", "best")
"""The product's presets, fastest first: the one list the CLI, the app and bundles use."""


@runtime_checkable
class StemModel(Protocol):
    """A separator of mono segments.

    Attributes:
        model_id: short name of the model (bundle id).
        sha256: checksum identifying the exact weights.
        sample_rate: rate of the waveforms it works on (22 050 Hz).
        segment_samples: length L of one segment; inputs are exactly this long.
        instruments: labels it can extract, in label order.
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
            mixture: ``(N, L)`` float32 mono segments on ``self.device``.
            instruments: S labels to extract (all run batched).
            preset: operating point (steps, sigma_max).
            generator: seeded source of the refiner's noise.
            cancel: checked at every sampler step.

        Returns:
            ``(N, S, L)`` stem estimates, same dtype and device as ``mixture``.
        """
        ...

    def to(self, device: torch.device | str) -> StemModel:
        """Move the weights; returns self."""
        ...
