"""The paper's evaluation protocol (core/METHOD.md section 6), on chunks of a dataset.

Data flow for one chunk (22 050 Hz mono, ``L`` = 262 144 samples by default)::

    mixture (L,), stems (4, L) --model, overlap-add over segments--> estimates (4, L)
    4 s windows every 2 s inside the chunk; keep a window when >= 2 reference stems
    are non-silent (||s||_2 / n >= 1.5e-5); for every kept window w and stem i:
        SI-SDRi[w, i] = SI-SDR(est_i[w], s_i[w]) - SI-SDR(mix[w], s_i[w])

Two averages per stem are reported:

- **paper**: every stem of every kept window, silent references included (the
  paper's convention), then averaged per stem;
- **active**: only the (window, stem) pairs whose reference is non-silent.

"All" is the mean of the four per-stem averages. Dropping the last partial chunk and
chunks with three or more silent stems is the dataset's job
(:class:`core.data.datasets.ChunkDataset`); any chunk given here is scored.

Reference rows on the same windows: the **mixture** itself (0 dB by definition) and an
**ideal-ratio-mask oracle** built from the true stems (:func:`ideal_ratio_mask`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.audio.overlap_add import overlap_add
from core.errors import ConfigError
from core.evaluation.leakage import LeakageTable
from core.evaluation.metrics import SILENCE_THRESHOLD, is_silent, si_sdr
from core.instruments import INSTRUMENTS, MODEL_SAMPLE_RATE
from core.model import Preset, StemModel
from core.pipeline import SegmentRunner, StreamSettings
from core.progress import NEVER_CANCELLED, CancelToken, ProgressCallback, no_progress

MIXTURE_ROW = "mixture"
ORACLE_ROW = "oracle IRM"
ALL = "All"


@dataclass(frozen=True)
class ProtocolSettings:
    """Numbers of the protocol (the paper's values by default).

    Attributes:
        sample_rate: rate of the chunks and of the model (22 050 Hz).
        chunk_samples: length of the dataset's chunks (262 144).
        window_seconds, hop_seconds: scoring windows inside a chunk (4 s every 2 s).
        silence_threshold: a reference is silent when ``||s||_2 / n`` is below it.
        min_active_stems: a window is kept when at least this many references are
            non-silent ("skip windows with at most one non-silent reference stem").
        irm_fft, irm_hop: STFT of the oracle (Hann window).
        overlap_fraction: crossfade between the model's segments inside a chunk (the
            same default as the streaming pipeline).
        max_positions: segments sent to the model per call.
    """

    sample_rate: int = MODEL_SAMPLE_RATE
    chunk_samples: int = 262144
    window_seconds: float = 4.0
    hop_seconds: float = 2.0
    silence_threshold: float = SILENCE_THRESHOLD
    min_active_stems: int = 2
    irm_fft: int = 2048
    irm_hop: int = 512
    overlap_fraction: float = StreamSettings().overlap_fraction
    max_positions: int = 4

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def hop_samples(self) -> int:
        return int(round(self.hop_seconds * self.sample_rate))

    def to_dict(self) -> dict:
        return {
            "sample_rate": self.sample_rate,
            "chunk_samples": self.chunk_samples,
            "window_seconds": self.window_seconds,
            "hop_seconds": self.hop_seconds,
            "silence_threshold": self.silence_threshold,
            "silence_rule": "L2 norm / n < threshold",
            "min_active_stems": self.min_active_stems,
            "irm": {"n_fft": self.irm_fft, "hop": self.irm_hop, "window": "hann"},
            "overlap_fraction": self.overlap_fraction,
        }


PAPER_SETTINGS = ProtocolSettings()
"""The protocol exactly as core/METHOD.md section 6 gives it."""


@dataclass(frozen=True)
class Chunk:
    """One dataset chunk: ``mixture (L,)``, ``stems (4, L)`` in :data:`INSTRUMENTS` order,
    and, when the set's non-target parts are in the mixture, ``other (L,)`` (then the
    model rows also get a leakage table, :mod:`core.evaluation.leakage`)."""

    mixture: torch.Tensor
    stems: torch.Tensor
    track: str
    index: int
    other: torch.Tensor | None = None


# -- windows -------------------------------------------------------------------------


def window_starts(length: int, window: int, hop: int) -> list[int]:
    """Starts of the windows ``[s, s + window)`` that fit in ``length`` samples, every ``hop``.

    A 262 144-sample chunk (11.9 s) holds 4 windows of 4 s: at 0, 2, 4 and 6 s.
    """
    if window <= 0 or hop <= 0:
        raise ValueError("window and hop must be positive")
    return list(range(0, length - window + 1, hop))


@dataclass(frozen=True)
class Windows:
    """The kept windows of a chunk.

    Attributes:
        starts: start sample of each kept window, ``W`` entries.
        active: ``(W, S)`` bool, True where that stem's reference is non-silent.
        total: windows in the chunk before the skip rule.
    """

    starts: list[int]
    active: torch.Tensor
    total: int


def select_windows(stems: torch.Tensor, settings: ProtocolSettings) -> Windows:
    """Apply the skip rule to the windows of one chunk.

    Args:
        stems: ``(S, L)`` true stems.

    Returns:
        The windows with at least ``settings.min_active_stems`` non-silent references.
    """
    starts = window_starts(stems.shape[-1], settings.window_samples, settings.hop_samples)
    kept, flags = [], []
    for start in starts:
        piece = stems[:, start : start + settings.window_samples]
        active = ~is_silent(piece, settings.silence_threshold)
        if int(active.sum()) >= settings.min_active_stems:
            kept.append(start)
            flags.append(active)
    active = torch.stack(flags) if flags else torch.zeros(0, stems.shape[0], dtype=torch.bool)
    return Windows(kept, active, len(starts))


def cut_windows(signal: torch.Tensor, starts: Sequence[int], window: int) -> torch.Tensor:
    """``(..., L)`` -> ``(W, ..., window)``: the signal at each window start."""
    return torch.stack([signal[..., s : s + window] for s in starts])


def window_si_sdri(estimates: torch.Tensor, mixture: torch.Tensor, stems: torch.Tensor,
                   windows: Windows, window: int) -> torch.Tensor:
    """SI-SDRi of every stem in every kept window.

    Args:
        estimates: ``(S, L)`` estimated stems of the chunk.
        mixture: ``(L,)``.
        stems: ``(S, L)`` true stems.

    Returns:
        ``(W, S)`` float64 SI-SDR(est, s) - SI-SDR(mix, s) per window and stem.
    """
    if not windows.starts:
        return torch.zeros(0, stems.shape[0], dtype=torch.float64)
    est = cut_windows(estimates, windows.starts, window)  # (W, S, n)
    ref = cut_windows(stems, windows.starts, window)  # (W, S, n)
    mix = cut_windows(mixture, windows.starts, window)[:, None, :]  # (W, 1, n)
    return si_sdr(est, ref) - si_sdr(mix.expand_as(ref), ref)


# -- estimates -----------------------------------------------------------------------


def ideal_ratio_mask(mixture: torch.Tensor, stems: torch.Tensor, n_fft: int = 2048,
                     hop: int = 512) -> torch.Tensor:
    """Oracle estimates from the true stems' magnitudes.

    ``M_i = |S_i| / sum_j |S_j|`` (0 where every stem is 0), ``est_i = iSTFT(M_i * X)``
    with ``X`` the mixture's STFT (Hann window of ``n_fft``, hop ``hop``).

    Args:
        mixture: ``(L,)``.
        stems: ``(S, L)``.

    Returns:
        ``(S, L)`` float64 oracle estimates.
    """
    length = mixture.shape[-1]
    window = torch.hann_window(n_fft, dtype=torch.float64)

    def stft(x: torch.Tensor) -> torch.Tensor:
        return torch.stft(x.to(torch.float64), n_fft, hop, window=window, center=True,
                          return_complex=True)

    magnitudes = stft(stems).abs()  # (S, F, T)
    total = magnitudes.sum(0, keepdim=True)
    masks = torch.where(total > 0, magnitudes / total.clamp_min(1e-30), torch.zeros_like(magnitudes))
    masked = masks * stft(mixture)[None]
    return torch.istft(masked, n_fft, hop, window=window, center=True, length=length)


def model_estimates(model: StemModel, mixture: torch.Tensor, preset: Preset, generator: torch.Generator,
                    settings: ProtocolSettings, cancel: CancelToken = NEVER_CANCELLED) -> torch.Tensor:
    """Run the model on a whole chunk through overlap-add of its own segments.

    Args:
        mixture: ``(L,)`` at the model's rate; ``L`` may exceed ``model.segment_samples``.

    Returns:
        ``(S, L)`` float64 estimates of :data:`INSTRUMENTS`.
    """
    segment = model.segment_samples
    overlap = int(segment * settings.overlap_fraction)
    runner = SegmentRunner(model, INSTRUMENTS, preset, generator, cancel, notify=lambda message: None)
    signal = mixture.detach().to(torch.float32).cpu().numpy()[None]  # (1, L)
    out = overlap_add(runner, signal, segment, overlap, len(INSTRUMENTS), settings.max_positions)
    return torch.from_numpy(np.ascontiguousarray(out[0]))


# -- results -------------------------------------------------------------------------


@dataclass
class ScoreTable:
    """Running sums of SI-SDRi per stem, for both conventions, for one row."""

    stems: tuple[str, ...] = INSTRUMENTS
    paper_sum: np.ndarray = field(default_factory=lambda: np.zeros(len(INSTRUMENTS)))
    paper_count: int = 0
    active_sum: np.ndarray = field(default_factory=lambda: np.zeros(len(INSTRUMENTS)))
    active_count: np.ndarray = field(default_factory=lambda: np.zeros(len(INSTRUMENTS), dtype=np.int64))
    seconds: float = 0.0

    def add(self, scores: torch.Tensor, active: torch.Tensor) -> None:
        """Add ``(W, S)`` SI-SDRi values and their ``(W, S)`` activity flags."""
        values = scores.numpy()
        flags = active.numpy()
        self.paper_sum += values.sum(axis=0)
        self.paper_count += values.shape[0]
        self.active_sum += np.where(flags, values, 0.0).sum(axis=0)
        self.active_count += flags.sum(axis=0)

    def means(self, convention: str) -> dict[str, float]:
        """Per-stem mean SI-SDRi and "All" (mean of the stems); NaN where nothing was scored.

        In the "active" convention a stem never heard in any kept window has no value
        and "All" averages the stems that have one.
        """
        if convention == "paper":
            per_stem = self.paper_sum / self.paper_count if self.paper_count else np.full(len(self.stems), np.nan)
        elif convention == "active":
            with np.errstate(invalid="ignore", divide="ignore"):
                per_stem = np.where(self.active_count > 0, self.active_sum / np.maximum(self.active_count, 1), np.nan)
        else:
            raise ValueError(f"unknown convention {convention!r}")
        result = {stem: float(v) for stem, v in zip(self.stems, per_stem, strict=True)}
        present = per_stem[~np.isnan(per_stem)]
        result[ALL] = float(present.mean()) if present.size else math.nan
        return result


@dataclass
class EvaluationResult:
    """Scores of every row on the same windows, with what was scored.

    Attributes:
        rows: row name -> scores; the mixture and oracle rows first, then the modes.
        modes: row name -> the preset it ran (model rows only).
        chunks: chunks scored; windows_total / windows_kept: before / after the skip rule.
        active_windows: stem -> kept windows where its reference is non-silent.
    """

    settings: ProtocolSettings
    rows: dict[str, ScoreTable]
    modes: dict[str, Preset]
    chunks: int = 0
    windows_total: int = 0
    windows_kept: int = 0
    active_windows: dict[str, int] = field(default_factory=dict)
    leakage: dict[str, LeakageTable] = field(default_factory=dict)
    """Model row name -> where its estimates' energy comes from (chunks with ``other`` only)."""
    chunks_with_other: int = 0
    """Scored chunks whose mixture holds non-target parts (a non-silent ``other``)."""

    def table(self, convention: str) -> dict[str, dict[str, float]]:
        """Row name -> {stem: mean SI-SDRi, "All": mean of the stems}."""
        return {name: scores.means(convention) for name, scores in self.rows.items()}


def chunk_seed(seed: int, position: int) -> int:
    """Seed of the refiner's noise for the chunk at ``position``: every mode sees the same noise."""
    return seed * 1_000_003 + position


def evaluate(
    model: StemModel,
    chunks: Iterable[Chunk],
    modes: Sequence[Preset],
    settings: ProtocolSettings = PAPER_SETTINGS,
    seed: int = 0,
    total_chunks: int | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> EvaluationResult:
    """Score the mixture, the IRM oracle and every mode on the same kept windows.

    Args:
        model: separator at ``settings.sample_rate`` extracting all of :data:`INSTRUMENTS`.
        chunks: the dataset's chunks.
        modes: presets to run (each one row).
        seed: the refiner's noise for chunk k comes from ``chunk_seed(seed, k)``.
        total_chunks: for the progress fraction (None: unknown).
    """
    if model.sample_rate != settings.sample_rate:
        raise ConfigError(
            f"model {model.model_id} runs at {model.sample_rate} Hz; the protocol needs {settings.sample_rate} Hz"
        )
    missing = [name for name in INSTRUMENTS if name not in model.instruments]
    if missing:
        raise ConfigError(f"model {model.model_id} cannot extract {', '.join(missing)}")
    rows = {MIXTURE_ROW: ScoreTable(), ORACLE_ROW: ScoreTable()}
    for preset in modes:
        rows[preset.name] = ScoreTable()
    result = EvaluationResult(settings, rows, {p.name: p for p in modes})
    active_windows = np.zeros(len(INSTRUMENTS), dtype=np.int64)
    window = settings.window_samples
    steps_per_chunk = 2 + len(modes)
    for position, chunk in enumerate(chunks):
        cancel.check()
        mixture = torch.as_tensor(chunk.mixture, dtype=torch.float32).reshape(-1)
        stems = torch.as_tensor(chunk.stems, dtype=torch.float32)
        if stems.shape != (len(INSTRUMENTS), mixture.shape[0]):
            raise ConfigError(
                f"chunk {chunk.track}#{chunk.index}: stems {tuple(stems.shape)} do not match "
                f"the mixture ({mixture.shape[0]} samples, {len(INSTRUMENTS)} stems expected)"
            )
        windows = select_windows(stems, settings)
        result.chunks += 1
        if chunk.other is not None and bool(torch.as_tensor(chunk.other).abs().max() > 0):
            result.chunks_with_other += 1
        result.windows_total += windows.total
        result.windows_kept += len(windows.starts)
        active_windows += windows.active.numpy().sum(axis=0)

        def report(done: int, label: str, position=position) -> None:
            if total_chunks:
                fraction = (position + done / steps_per_chunk) / total_chunks
                progress(min(fraction, 1.0), f"chunk {position + 1}/{total_chunks} {label}")
            else:
                progress(0.0, f"chunk {position + 1} {label}")

        if not windows.starts:  # nothing to score: no need to run the model
            report(steps_per_chunk, "skipped (no window with two sounding stems)")
            continue
        rows[MIXTURE_ROW].add(window_si_sdri(mixture[None].expand_as(stems), mixture, stems, windows, window),
                              windows.active)
        started = time.perf_counter()
        oracle = ideal_ratio_mask(mixture, stems, settings.irm_fft, settings.irm_hop)
        rows[ORACLE_ROW].seconds += time.perf_counter() - started
        rows[ORACLE_ROW].add(window_si_sdri(oracle, mixture, stems, windows, window), windows.active)
        report(2, ORACLE_ROW)
        for done, preset in enumerate(modes, start=3):
            generator = torch.Generator().manual_seed(chunk_seed(seed, position))
            started = time.perf_counter()
            estimates = model_estimates(model, mixture, preset, generator, settings, cancel)
            rows[preset.name].seconds += time.perf_counter() - started
            rows[preset.name].add(window_si_sdri(estimates, mixture, stems, windows, window), windows.active)
            if chunk.other is not None:
                other = torch.as_tensor(chunk.other, dtype=torch.float32).reshape(-1)
                result.leakage.setdefault(preset.name, LeakageTable()).add(
                    estimates, stems, other, mixture, windows.starts, window, windows.active)
            report(done, preset.name)
    result.active_windows = {stem: int(n) for stem, n in zip(INSTRUMENTS, active_windows, strict=True)}
    progress(1.0, "evaluation done")
    return result
