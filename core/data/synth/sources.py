"""Where each stem's sound comes from: a General MIDI soundfont program, an extra
SoundFont drum kit, or a recorded instrument played by :mod:`core.data.synth.recorded`.

A :class:`Palette` lists the sources a song may draw from. Every song draws, per
stem, a recorded source with probability ``recorded_share`` (when the palette has
one for the class) and a GM program otherwise, so both stay in the mix.

**Held-out timbres.** :data:`HELDOUT` names one recorded instrument per pitched class
and one drum kit. The training and test splits never use them; the validation split
uses nothing else (:meth:`Palette.heldout`), so model selection measures how the
model does on instruments it has never heard. With ``hold_out=False`` every split
draws from every source (for the shipped model, once a recipe is chosen).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.data.synth.recorded import RecordedInstrument

HELDOUT: dict[str, str] = {
    "bass": "swagbass",
    "guitar": "emilyguitar",
    "piano": "headroompiano",
    "drums": "Red_Zeppelin_4_LV2",
}
"""Per class, the source that only the validation split plays (recorded instrument id
or SoundFont kit file stem)."""

KIT_FONT_FILES = ("Black_Pearl_4_LV2.sf2", "Red_Zeppelin_4_LV2.sf2")
"""Debian's avldrums.lv2-soundfont: two multi-velocity acoustic kits (GPL-2+), each a
single preset at bank 0, program 0."""
KIT_LICENCE = "GPL-2.0-or-later (AVLinux Drumkits, avldrums.lv2)"
GM_LICENCE = "MIT"
KIT_PRESET = (0, 0)
DEFAULT_RECORDED_SHARE = 0.5


@dataclass(frozen=True)
class Palette:
    """The sources of one split.

    ``fonts``: GM soundfonts; ``kits``: single-kit SoundFont files (drums);
    ``recorded``: recorded instruments; ``recorded_share``: chance that a stem of a
    class with a recorded source (or extra kit, for drums) uses one.
    """

    fonts: tuple[Path, ...]
    kits: tuple[Path, ...] = ()
    recorded: tuple[RecordedInstrument, ...] = ()
    recorded_share: float = DEFAULT_RECORDED_SHARE
    hold_out: bool = True
    heldout_ids: dict[str, str] = field(default_factory=lambda: dict(HELDOUT))
    other_parts: bool = True
    """Whether songs get non-target parts (vocals, strings, synths...; core.data.synth.others)."""
    other_pool: str = "all"
    """Which non-target families and voices a split draws: "train" (all but the held-out
    ones), "heldout" (only those) or "all" (no hold-out)."""

    def _is_heldout(self, identifier: str) -> bool:
        return identifier in self.heldout_ids.values()

    def training(self) -> Palette:
        """The palette of the training and test splits: held-out sources removed."""
        if not self.hold_out:
            return self
        return replace(
            self,
            kits=tuple(k for k in self.kits if not self._is_heldout(k.stem)),
            recorded=tuple(r for r in self.recorded if not self._is_heldout(r.id)),
            other_pool="train",
        )

    def heldout(self) -> Palette:
        """The validation palette: only the held-out sources, no GM program where a
        held-out source exists for the class (``recorded_share`` 1)."""
        if not self.hold_out:
            return self
        return replace(
            self,
            kits=tuple(k for k in self.kits if self._is_heldout(k.stem)),
            recorded=tuple(r for r in self.recorded if self._is_heldout(r.id)),
            recorded_share=1.0,
            other_pool="heldout",
        )

    def for_split(self, split: str) -> Palette:
        return self.heldout() if split == "validation" else self.training()

    def non_gm(self, instrument: str) -> list[tuple[str, object]]:
        """Recorded instruments and kits of ``instrument``: ``("recorded", inst)`` or
        ``("kit", path)``."""
        found: list[tuple[str, object]] = [
            ("recorded", r) for r in self.recorded if r.instrument == instrument
        ]
        if instrument == "drums":
            found += [("kit", path) for path in self.kits]
        return found

    def describe(self) -> dict:
        """JSON-able summary for the generation record."""
        return {
            "fonts": [font.name for font in self.fonts],
            "kits": [kit.name for kit in self.kits],
            "recorded": [r.id for r in self.recorded],
            "recorded_share": self.recorded_share,
            "heldout": dict(self.heldout_ids) if self.hold_out else None,
            "other_parts": self.other_parts,
        }


@dataclass(frozen=True)
class Source:
    """The drawn source of one stem. ``kind``: ``gm``, ``kit`` or ``recorded``;
    ``name``: what the data card counts (``FluidR3_GM.sf2:33``, ``Black_Pearl_4_LV2``,
    ``growlybass:sustain``); ``licence`` of that source."""

    kind: str
    """``gm``, ``kit``, ``recorded``, or for non-target parts also ``voice`` and ``noise``."""
    name: str
    licence: str
    font: Path | None = None
    bank: int | None = None
    program: int = 0
    recorded: RecordedInstrument | None = None
    articulation: str = ""


def draw_source(
    rng: random.Random, instrument: str, gm_program: int, palette: Palette
) -> Source:
    """One stem's source: a recorded instrument or kit with ``palette.recorded_share``
    (when the class has one), else ``gm_program`` from a random GM font.

    Draws exactly three numbers from ``rng`` whatever the outcome, so the rest of
    the song does not depend on the palette."""
    pick, which, font_pick = rng.random(), rng.random(), rng.random()
    candidates = palette.non_gm(instrument)
    if candidates and (pick < palette.recorded_share or not palette.fonts):
        kind, value = candidates[int(which * len(candidates))]
        if kind == "kit":
            path = Path(value)  # type: ignore[arg-type]
            return Source("kit", path.stem, KIT_LICENCE, font=path, bank=KIT_PRESET[0],
                          program=KIT_PRESET[1])
        recorded: RecordedInstrument = value  # type: ignore[assignment]
        articulations = recorded.articulations
        articulation = articulations[int(font_pick * len(articulations))]
        return Source("recorded", f"{recorded.id}:{articulation}", recorded.licence,
                      recorded=recorded, articulation=articulation)
    if not palette.fonts:
        raise ValueError(f"no source for {instrument}: no soundfont and no recorded instrument")
    font = palette.fonts[int(font_pick * len(palette.fonts))]
    return Source("gm", f"{font.name}:{gm_program}", GM_LICENCE, font=font, program=gm_program)


def draw_gm_font(rng: random.Random, palette: Palette) -> Path:
    """A GM font of the palette, uniformly (one draw from ``rng``)."""
    if not palette.fonts:
        raise ValueError("no General MIDI soundfont in the palette")
    return palette.fonts[int(rng.random() * len(palette.fonts))]
