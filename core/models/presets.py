"""Presets: a model's quality/speed operating points, and which of them are offered.

Every family's models declare their presets as :class:`Preset` rows (a bundle's presets
table, a Demucs model's ``draft``...); the CLI, the app and ``stemforge tune`` read them
through this module. Torch-free: option parsers import it while ``--help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass


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

    ``shifts`` (imported models only, e.g. Demucs): the shift ensemble of the model's
    authors, ``shifts`` renders of the signal delayed by seeded random offsets of up to half
    a second, realigned and averaged (:mod:`core.audio.shift_ensemble`); 0 = one render.

    ``measure_first``: a preset of an imported model that is offered only once
    ``stemforge tune`` has measured its gain (until then it is shown greyed out).
    """

    name: str
    steps: int
    sigma_max: float
    sampler: str = "consistency"
    gain_db: float | None = None
    views: int = 1
    mask: bool = False
    shifts: int = 0
    measure_first: bool = False

    @property
    def passes_per_stem(self) -> int:
        """Network passes per stem and segment: per view and shift, 1 extractor pass + one
        per step."""
        return self.views * max(1, self.shifts) * (1 + self.steps)


def steps_label(steps: int, views: int = 1, mask: bool = False, shifts: int = 0) -> str:
    """A preset's steps for a table: ``2``, or ``0, 2 views`` when it also runs on the
    polarity inverse (:attr:`Preset.views`), ``, 2 shifts`` for a shift ensemble, ``+ mask``
    when the ratio mask follows."""
    return (f"{steps}" + (f", {views} views" if views > 1 else "") + (f", {shifts} shifts" if shifts else "")
            + (" + mask" if mask else ""))


PRESET_ORDER: tuple[str, ...] = ("draft", "fast", "balanced", "best")
"""The product's presets, fastest first: the one list the CLI, the app and bundles use."""

DEFAULT_PRESET = "balanced"
"""The preset used when none is chosen, if the model offers it (:func:`default_preset`)."""

MIN_PRESET_GAIN_DB = 0.1
"""A slower preset is offered only if it beats every faster one by this much (dB SI-SDRi
on validation); otherwise it would cost time for nothing a listener can hear."""


def withheld_presets(gains: Mapping[str, float | None], measure_first: Collection[str] = ()) -> dict[str, str]:
    """The presets not to offer as a separate choice, each with the reason.

    Args:
        gains: preset name -> measured SI-SDRi gain over ``draft`` in dB (``draft`` is 0
            by definition), or None when not measured; names outside
            :data:`PRESET_ORDER` are ignored.
        measure_first: presets offered only once measured (:attr:`Preset.measure_first`).

    Returns:
        name -> one sentence, for every preset of :data:`PRESET_ORDER` whose gain is not
        at least :data:`MIN_PRESET_GAIN_DB` above the best gain of the faster presets.
        Unmeasured presets are offered (nothing is known against them), except those in
        ``measure_first``.
    """
    withheld: dict[str, str] = {}
    best_name, best_gain = "draft", 0.0
    for name in PRESET_ORDER[1:]:
        gain = gains.get(name)
        if name not in gains or gain is None:
            if name in gains and name in measure_first:
                withheld[name] = "not measured yet; 'stemforge tune --model ID' measures its gain over draft"
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
    withheld = withheld_presets({name: preset.gain_db for name, preset in presets.items()},
                                [name for name, preset in presets.items() if preset.measure_first])
    offered = [name for name in PRESET_ORDER if name in presets and name not in withheld]
    for name in reversed(PRESET_ORDER[: PRESET_ORDER.index(DEFAULT_PRESET) + 1]):
        if name in offered:
            return name
    return offered[0] if offered else next(iter(presets))
