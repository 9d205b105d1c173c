"""Where each estimate's energy comes from: the leakage table of ``stemforge eval``.

For every chunk and estimated stem ``y_i`` ``(L,)``, the true sources ``s_j`` (the four
targets and ``other``, the set's non-target parts; ``(5, L)``) explain ``y_i`` by least
squares::

    a = argmin_a || y_i - sum_j a_j s_j ||^2

and the energy of ``y_i`` is split into ``e_ij = a_j^2 ||s_j||^2`` (the share of source
``j``) and the residual ``||y_i - sum_j a_j s_j||^2`` ("unexplained": artefacts, and
whatever the sources cannot express linearly). Sums run over every chunk, so a share is
``sum_chunks e_ij / sum_chunks ||y_i||^2`` (energy summed over the songs). The shares of
a row add up to 1 when the sources are uncorrelated; they are close to it in music.

**Silent-source level**: in each kept scoring window whose reference ``s_i`` is silent
(the protocol's silence rule), ``10 log10(||y_i||^2 / ||m||^2)`` of the estimate
relative to the mixture ``m`` in that window; the table gives the median and count.
A model that leaves a silent source's stem empty scores very low (-60 dB or less); one
that hands other instruments' sound to it scores -20 to -5 dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from core.instruments import INSTRUMENTS

OTHER_SOURCE = "other"
SOURCES: tuple[str, ...] = (*INSTRUMENTS, OTHER_SOURCE)
"""Columns of the table: the true sources, in this order."""
UNEXPLAINED = "unexplained"
LEVEL_FLOOR_DB = -120.0
"""Level written for an estimate that is exactly silent."""


def projection_energies(estimate: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, float]:
    """``(e_j for each source, unexplained energy)`` of one estimate ``(L,)`` against
    ``sources`` ``(J, L)`` (see the module doc); silent sources get 0."""
    energies = np.zeros(sources.shape[0])
    norms = np.einsum("jl,jl->j", sources, sources)
    used = np.flatnonzero(norms > 0)
    if not used.size:
        return energies, float(estimate @ estimate)
    basis = sources[used]
    coefficients, *_ = np.linalg.lstsq(basis.T, estimate, rcond=None)
    energies[used] = coefficients**2 * norms[used]
    residual = estimate - coefficients @ basis
    return energies, float(residual @ residual)


@dataclass
class LeakageTable:
    """Running sums of one model row (see the module doc)."""

    explained: np.ndarray = field(default_factory=lambda: np.zeros((len(INSTRUMENTS), len(SOURCES))))
    unexplained: np.ndarray = field(default_factory=lambda: np.zeros(len(INSTRUMENTS)))
    total: np.ndarray = field(default_factory=lambda: np.zeros(len(INSTRUMENTS)))
    silent_levels: list[list[float]] = field(default_factory=lambda: [[] for _ in INSTRUMENTS])

    def add(self, estimates: torch.Tensor, stems: torch.Tensor, other: torch.Tensor,
            mixture: torch.Tensor, window_starts: list[int], window: int,
            active: torch.Tensor) -> None:
        """Add one chunk: ``estimates`` and ``stems`` ``(4, L)``, ``other`` and ``mixture``
        ``(L,)``; the kept windows' starts, their length and ``(W, 4)`` activity flags."""
        y = estimates.detach().double().cpu().numpy()
        sources = np.concatenate([stems.double().cpu().numpy(), other.double().cpu().numpy()[None]])
        mix = mixture.double().cpu().numpy()
        for i in range(len(INSTRUMENTS)):
            energies, rest = projection_energies(y[i], sources)
            self.explained[i] += energies
            self.unexplained[i] += rest
            self.total[i] += float(y[i] @ y[i])
        flags = active.cpu().numpy()
        for w, start in enumerate(window_starts):
            mix_energy = float(np.sum(mix[start:start + window] ** 2))
            if mix_energy <= 0:
                continue
            for i in range(len(INSTRUMENTS)):
                if flags[w, i]:
                    continue
                energy = float(np.sum(y[i, start:start + window] ** 2))
                level = 10 * math.log10(energy / mix_energy) if energy > 0 else LEVEL_FLOOR_DB
                self.silent_levels[i].append(level)

    def shares(self) -> dict[str, dict[str, float]]:
        """Estimated stem -> {source: share of its energy, "unexplained": share}."""
        table = {}
        for i, stem in enumerate(INSTRUMENTS):
            total = self.total[i]
            row = {source: (float(self.explained[i, j] / total) if total > 0 else math.nan)
                   for j, source in enumerate(SOURCES)}
            row[UNEXPLAINED] = float(self.unexplained[i] / total) if total > 0 else math.nan
            table[stem] = row
        return table

    def silent_level(self) -> dict[str, dict[str, float]]:
        """Estimated stem -> {"median_db", "windows"} over windows where its source is silent."""
        return {stem: {"median_db": float(np.median(levels)) if levels else math.nan,
                       "windows": len(levels)}
                for stem, levels in zip(INSTRUMENTS, self.silent_levels, strict=True)}

    def to_dict(self) -> dict:
        def clean(value: float) -> float | None:
            return None if math.isnan(value) else round(value, 4)

        return {
            "shares": {stem: {k: clean(v) for k, v in row.items()} for stem, row in self.shares().items()},
            "silent_source_level": {stem: {"median_db": clean(v["median_db"]), "windows": v["windows"]}
                                    for stem, v in self.silent_level().items()},
        }


def markdown_leakage(name: str, table: LeakageTable) -> str:
    """A Markdown table of one row's shares and silent-source levels."""
    header = "| estimate | " + " | ".join(SOURCES) + f" | {UNEXPLAINED} | level when its source is silent (dB re mix, median; windows) |"
    lines = [f"### `{name}`", "", header, "|---" * (len(SOURCES) + 3) + "|"]
    levels = table.silent_level()
    for stem, row in table.shares().items():
        cells = " | ".join("n/a" if math.isnan(row[s]) else f"{row[s]:.2f}" for s in (*SOURCES, UNEXPLAINED))
        level = levels[stem]
        shown = "n/a" if math.isnan(level["median_db"]) else f"{level['median_db']:.1f}"
        lines.append(f"| {stem} | {cells} | {shown} ({level['windows']}) |")
    return "\n".join(lines)
