"""The sigma_max sweep (the paper's Figure 2): SI-SDRi against log sigma_max per step count.

For every sampler (consistency student, diffusion teacher), every step count S and
every sigma_max of a log-spaced grid, the refiner starts from ``x_det + sigma_max * z``
and runs S steps; the score is SI-SDRi "All" under the protocol of
:mod:`core.evaluation.protocol`, active stems only (the paper's convention is kept in
the JSON too). The extractor alone (draft) is the horizontal reference line. Every
configuration sees the same chunks, windows and noise seeds, so the curves differ only
by the sampler settings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from core.evaluation.protocol import (
    ALL,
    ORACLE_ROW,
    PAPER_SETTINGS,
    Chunk,
    ProtocolSettings,
    evaluate,
)
from core.model import Preset, StemModel
from core.progress import NEVER_CANCELLED, CancelToken, ProgressCallback, no_progress

SAMPLERS = ("consistency", "teacher")
SAMPLER_TITLES = {"consistency": "consistency student", "teacher": "diffusion teacher (Euler)"}
EXTRACTOR_ROW = "extractor"


def log_grid(low: float, high: float, count: int) -> list[float]:
    """``count`` values from ``low`` to ``high`` equally spaced in log sigma (8 from 1e-3 to 1 by default)."""
    if not 0 < low <= high or count < 1:
        raise ConfigError(f"bad sigma_max grid {low}..{high} x {count}: need 0 < low <= high, count >= 1")
    if count == 1:
        return [float(low)]
    return [float(v) for v in np.logspace(math.log10(low), math.log10(high), count)]


DEFAULT_GRID = log_grid(1e-3, 1.0, 8)


def parse_grid(text: str) -> list[float]:
    """``"LOW:HIGH:COUNT"`` (log-spaced) or a comma-separated list of sigma_max values."""
    try:
        if ":" in text:
            low, high, count = text.split(":")
            return log_grid(float(low), float(high), int(count))
        values = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ConfigError(f"bad grid {text!r}: write LOW:HIGH:COUNT or a list like 0.001,0.01,0.1") from None
    if not values or any(not v > 0 for v in values):
        raise ConfigError(f"bad grid {text!r}: sigma_max values must be > 0")
    return values


def sweep_preset(sampler: str, steps: int, sigma_max: float, mask: bool = False) -> Preset:
    """The preset of one point of the sweep, named ``"<sampler>:<steps>@<sigma_max>"``."""
    return Preset(f"{sampler}:{steps}@{sigma_max:.6g}", steps, sigma_max, sampler=sampler, mask=mask)


def available_samplers(model: StemModel, wanted: Sequence[str] = SAMPLERS) -> list[str]:
    """The samplers of ``wanted`` whose network the model has (a HybridModel without a teacher
    cannot run the teacher; models that do not say are assumed to have both)."""
    network = {"consistency": "student", "teacher": "teacher"}
    return [s for s in wanted if getattr(model, network[s], True) is not None]


@dataclass
class SweepResult:
    """Scores of the sweep.

    Attributes:
        grid: sigma_max values, ascending.
        steps: step counts swept.
        curves: sampler -> steps -> one SI-SDRi per grid value (active convention, "All").
        curves_paper: the same in the paper's convention.
        extractor, oracle: the reference lines (active convention), and ``*_paper``.
        chunks, windows_kept: how much was scored.
        mask: whether every point and the extractor line ended with the ratio mask
            (:attr:`core.model.Preset.mask`).
    """

    grid: list[float]
    steps: list[int]
    curves: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    curves_paper: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    extractor: float = math.nan
    extractor_paper: float = math.nan
    oracle: float = math.nan
    oracle_paper: float = math.nan
    chunks: int = 0
    windows_kept: int = 0
    mask: bool = False

    def best(self, sampler: str, steps: int) -> tuple[float, float]:
        """``(sigma_max, SI-SDRi)`` of the best grid point of one curve (NaN points ignored)."""
        values = np.array(self.curves[sampler][steps], dtype=np.float64)
        if np.all(np.isnan(values)):
            raise ConfigError(f"no score for {sampler} with {steps} steps (no active window?)")
        index = int(np.nanargmax(values))
        return self.grid[index], float(values[index])

    def to_dict(self) -> dict:
        def clean(values: list[float]) -> list[float | None]:
            return [None if math.isnan(v) else round(v, 4) for v in values]

        return {
            "metric": "SI-SDRi All (dB), active stems",
            "grid": self.grid,
            "steps": self.steps,
            "curves": {s: {str(k): clean(v) for k, v in c.items()} for s, c in self.curves.items()},
            "curves_paper_convention": {
                s: {str(k): clean(v) for k, v in c.items()} for s, c in self.curves_paper.items()
            },
            "extractor": clean([self.extractor])[0],
            "extractor_paper_convention": clean([self.extractor_paper])[0],
            "oracle": clean([self.oracle])[0],
            "oracle_paper_convention": clean([self.oracle_paper])[0],
            "chunks": self.chunks,
            "windows_kept": self.windows_kept,
            "mask": self.mask,
        }


def run_sweep(
    model: StemModel,
    chunks: Iterable[Chunk],
    grid: Sequence[float] = DEFAULT_GRID,
    steps: Sequence[int] = (1, 2, 3, 4, 5),
    samplers: Sequence[str] = SAMPLERS,
    settings: ProtocolSettings = PAPER_SETTINGS,
    seed: int = 0,
    total_chunks: int | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    mask: bool = False,
) -> SweepResult:
    """Score every (sampler, steps, sigma_max) on the same chunks in one pass over the data;
    with ``mask`` every point and the extractor line end with the ratio mask, as the
    presets of a bundle that masks them do."""
    grid = sorted(float(g) for g in grid)
    steps = sorted({int(s) for s in steps})
    if not steps or steps[0] < 1:
        raise ConfigError("step counts must be >= 1")
    unknown = [s for s in samplers if s not in SAMPLERS]
    if unknown:
        raise ConfigError(f"unknown sampler(s) {', '.join(unknown)}; choose from {', '.join(SAMPLERS)}")
    presets = [Preset(EXTRACTOR_ROW, 0, 0.0, mask=mask)]
    presets += [sweep_preset(s, k, g, mask) for s in samplers for k in steps for g in grid]
    evaluation = evaluate(model, chunks, presets, settings, seed=seed, total_chunks=total_chunks,
                          progress=progress, cancel=cancel)
    active, paper = evaluation.table("active"), evaluation.table("paper")
    result = SweepResult(grid, steps, chunks=evaluation.chunks, windows_kept=evaluation.windows_kept, mask=mask)
    for sampler in samplers:
        result.curves[sampler] = {k: [active[sweep_preset(sampler, k, g).name][ALL] for g in grid] for k in steps}
        result.curves_paper[sampler] = {k: [paper[sweep_preset(sampler, k, g).name][ALL] for g in grid]
                                        for k in steps}
    result.extractor, result.extractor_paper = active[EXTRACTOR_ROW][ALL], paper[EXTRACTOR_ROW][ALL]
    result.oracle, result.oracle_paper = active[ORACLE_ROW][ALL], paper[ORACLE_ROW][ALL]
    return result


def markdown_sweep(result: SweepResult) -> str:
    """One table per sampler: rows = step counts, columns = sigma_max (SI-SDRi All, active)."""
    lines = []
    header = "| steps | " + " | ".join(f"{g:.3g}" for g in result.grid) + " |"
    for sampler, curves in result.curves.items():
        lines += [f"### {SAMPLER_TITLES[sampler]}: SI-SDRi All (dB, active stems) by sigma_max", "",
                  header, "|---|" + "---:|" * len(result.grid)]
        for k, values in curves.items():
            cells = " | ".join("n/a" if math.isnan(v) else f"{v:.2f}" for v in values)
            lines.append(f"| {k} | {cells} |")
        lines.append("")
    extractor = "Extractor + ratio mask (draft)" if result.mask else "Extractor alone"
    lines.append(f"{extractor}: {result.extractor:.2f} dB; oracle IRM: {result.oracle:.2f} dB "
                 f"({result.chunks} chunks, {result.windows_kept} windows).")
    return "\n".join(lines)


def import_matplotlib():
    """matplotlib's object-oriented API (no pyplot, no global backend), or a clear error."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError(
            "the sweep plot needs matplotlib: pip install 'stemforge[eval]' (or pip install matplotlib)"
        ) from None
    return Figure, FigureCanvasAgg


def plot_sweep(result: SweepResult, path: Path, title: str = "") -> Path:
    """Save the sweep as a PNG: one panel per sampler, one line per step count, log x axis,
    the extractor as a dashed horizontal line."""
    Figure, FigureCanvasAgg = import_matplotlib()
    panels = list(result.curves)
    figure = Figure(figsize=(5.5 * max(1, len(panels)), 4.2), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, max(1, len(panels)), sharey=True, squeeze=False)[0]
    for axis, sampler in zip(axes, panels, strict=False):
        for k, values in result.curves[sampler].items():
            axis.plot(result.grid, values, marker="o", label=f"{k} step{'s' if k > 1 else ''}")
        if not math.isnan(result.extractor):
            axis.axhline(result.extractor, color="black", linestyle="--", linewidth=1, label="extractor")
        axis.set_xscale("log")
        axis.set_xlabel("sigma_max")
        axis.set_title(SAMPLER_TITLES[sampler])
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    axes[0].set_ylabel("SI-SDRi All (dB), active stems")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
