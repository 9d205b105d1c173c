"""What the separation pipeline needs from a model, whatever is inside it.

The pipeline only sees :class:`StemModel`: mono segments at the model's rate in,
one estimate per requested instrument out. The hybrid extractor + consistency
refiner of core/METHOD.md implements it; tests use tiny stand-ins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    ``gain_db`` is its measured SI-SDRi gain over ``draft`` on validation data (written
    by ``stemforge tune``), None when not measured.

    ``views`` (1 or 2) is a test-time ensemble over the mixture's polarity: with 2, the
    whole preset runs on ``x`` and on ``-x`` and the estimates are combined as
    ``y = (f(x) - f(-x)) / 2``, the odd part of the separator ``f``. Separation is odd
    (the stems of ``-x`` are minus the stems of ``x``) but the trained networks are not
    exactly, so this average removes an error that the two polarities do not share.

    ``mask``: the estimates are then rebuilt from the mixture with ratio masks of their
    own magnitudes, what no stem claims staying for ``other``
    (:func:`core.ratio_mask.ratio_mask_resynthesis`); False for bundles written before it.
    """

    name: str
    steps: int
    sigma_max: float
    sampler: str = "consistency"
    gain_db: float | None = None
    views: int = 1
    mask: bool = False

    @property
    def passes_per_stem(self) -> int:
        """Network passes per stem and segment: per view, 1 extractor pass + one per step."""
        return self.views * (1 + self.steps)


def steps_label(steps: int, views: int = 1, mask: bool = False) -> str:
    """A preset's steps for a table: ``2``, or ``0, 2 views`` when it also runs on the
    polarity inverse (:attr:`Preset.views`), ``+ mask`` when the ratio mask follows."""
    return f"{steps}" + (f", {views} views" if views > 1 else "") + (" + mask" if mask else "")


PRESET_ORDER: tuple[str, ...] = ("draft", "fast", "balanced", "best")
"""The product's presets, fastest first: the one list the CLI, the app and bundles use."""

DEFAULT_PRESET = "balanced"
"""The preset used when none is chosen, if the model offers it (:func:`default_preset`)."""

MIN_PRESET_GAIN_DB = 0.1
"""A slower preset is offered only if it beats every faster one by this much (dB SI-SDRi
on validation); otherwise it would cost time for nothing a listener can hear."""


def withheld_presets(gains: Mapping[str, float | None]) -> dict[str, str]:
    """The presets not to offer as a separate choice, each with the reason.

    Args:
        gains: preset name -> measured SI-SDRi gain over ``draft`` in dB (``draft`` is 0
            by definition), or None when not measured; names outside
            :data:`PRESET_ORDER` are ignored.

    Returns:
        name -> one sentence, for every preset of :data:`PRESET_ORDER` whose gain is not
        at least :data:`MIN_PRESET_GAIN_DB` above the best gain of the faster presets.
        Unmeasured presets are offered (nothing is known against them).
    """
    withheld: dict[str, str] = {}
    best_name, best_gain = "draft", 0.0
    for name in PRESET_ORDER[1:]:
        gain = gains.get(name)
        if name not in gains or gain is None:
            continue
        if gain < best_gain + MIN_PRESET_GAIN_DB:
            withheld[name] = (
                f"measured {gain:+.2f} dB over draft on validation, not {MIN_PRESET_GAIN_DB:g} dB "
                f"better than {best_name} ({best_gain:+.2f} dB)"
            )
        else:
            best_name, best_gain = name, gain
    return withheld


def default_preset(presets: Mapping[str, Preset]) -> str:
    """The preset to use when the user chose none: :data:`DEFAULT_PRESET` if the model
    offers it, else the slowest offered preset faster than it, else the model's first.

    "Offered" means present and not withheld (:func:`withheld_presets` on each preset's
    ``gain_db``): a model whose refiners do not beat draft, or a draft-only model, runs
    draft rather than spend time on a preset that sounds no better.
    """
    withheld = withheld_presets({name: preset.gain_db for name, preset in presets.items()})
    offered = [name for name in PRESET_ORDER if name in presets and name not in withheld]
    for name in reversed(PRESET_ORDER[: PRESET_ORDER.index(DEFAULT_PRESET) + 1]):
        if name in offered:
            return name
    return offered[0] if offered else next(iter(presets))


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
