"""Full-band evaluation: the stems as ``stemforge separate`` writes them, scored at the input rate.

The paper's protocol (:mod:`core.evaluation.protocol`) scores at the model's 22 050 Hz.
Here a set rendered at a higher rate ``R`` (44 100 Hz) is read at ``R``; each chunk
(the paper's chunk, ``262 144 / 22 050`` s long) goes through the separation pipeline
(:func:`core.pipeline.separate_blocks`, the streaming path of the CLI and the app) once
with ``residual``; each high-band mode's stage (:func:`with_high_band`, the pipeline's
own :class:`HighBandAssigner`) is then applied to those stems, which gives the
pipeline's output for that mode without running the model again. Each is scored on
the same kept 4 s windows as the 22 050 Hz protocol (the skip rule is applied to the
references resampled to 22 050 Hz)::

    model band:  SI-SDRi of the model's 22 050 Hz estimates (the paper's protocol)
    full band:   SI-SDRi(est_i, s_i) at R
    high band:   SI-SDRi(HP(est_i), HP(s_i)) with HP the ideal high-pass above 11 025 Hz
                 (the mixture's high band as the "do nothing" reference)

Reference rows: the mixture (0 dB) and an **oracle high-band mask**: the first mode's
stems below the edge, and above it the mixture masked with the true stems'
``|S_i| / sum_j |S_j|`` through the same crossover as the rule-based assignment: how
much a perfect high-band rule could add.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from core.audio.high_band import (
    DEFAULT_SETTINGS,
    HighBandAssigner,
    HighBandSettings,
    crossover_weights,
    has_high_band,
)
from core.data.silence import SILENCE_THRESHOLD, is_silent
from core.data.slakh_layout import UnusableTrack, inspect_track, track_directories
from core.errors import ConfigError
from core.evaluation.protocol import (
    MIXTURE_ROW,
    PAPER_SETTINGS,
    ProtocolSettings,
    ScoreTable,
    Windows,
    chunk_seed,
    model_estimates,
    select_windows,
    window_si_sdri,
)
from core.instruments import HIGH_BAND_MODES, INSTRUMENTS, MODEL_SAMPLE_RATE
from core.model import Preset, StemModel
from core.pipeline import StreamSettings, high_band_masks, separate_blocks
from core.progress import NEVER_CANCELLED, CancelToken, ProgressCallback, no_progress

BANDS = ("model band", "full band", "high band")
ORACLE_HIGH_ROW = "oracle high-band mask"


@dataclass(frozen=True)
class FullBandChunk:
    """One chunk at the set's rate and at the model's.

    Attributes:
        mixture, stems: ``(n,)`` and ``(4, n)`` float32 at ``rate``.
        mixture_model, stems_model: ``(L,)`` and ``(4, L)`` resampled to 22 050 Hz.
    """

    mixture: np.ndarray
    stems: np.ndarray
    mixture_model: np.ndarray
    stems_model: np.ndarray
    rate: int
    track: str
    index: int


def _decode_native(paths: Sequence[Path]) -> tuple[np.ndarray, int]:
    """Sum of mono (mean of channels) files at their own rate: ``(samples,)`` float32, rate."""
    total, rate = None, 0
    for path in paths:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        mono = audio.mean(axis=1, dtype=np.float32)
        total = mono if total is None else total + mono
    return total, rate


class FullBandSource:
    """Chunks of one or more splits at their own rate (above 22 050 Hz).

    Chunks are the paper's: consecutive, ``chunk_samples`` long at 22 050 Hz (so
    ``chunk_samples * R / 22 050`` at ``R``), kept when the mixture is not silent and
    at most two stems are (the rule of :class:`core.data.datasets.ChunkDataset`,
    applied at 22 050 Hz).

    Args:
        root: dataset folder (Slakh layout or ``stemforge synth`` output).
        splits: split names (e.g. ``["test"]`` or all three).
        chunk_samples: chunk length at 22 050 Hz.
        max_chunks: yield at most this many.
        per_track: keep at most this many (the first usable) of each song; the others
            are never held in memory (a song's chunks take about 16 MB each at 44.1 kHz).
    """

    def __init__(self, root: Path, splits: Sequence[str], chunk_samples: int = 262144,
                 max_chunks: int | None = None, per_track: int | None = None):
        self.chunk_samples = chunk_samples
        self.per_track = per_track
        self.chunks: list[FullBandChunk] = []
        for split in splits:
            for directory in track_directories(root, split):
                try:
                    source = inspect_track(directory)
                except UnusableTrack as reason:
                    raise ConfigError(f"{directory}: {reason}") from None
                self._add_track(source)
                if max_chunks is not None and len(self.chunks) >= max_chunks:
                    self.chunks = self.chunks[:max_chunks]
                    return
        if not self.chunks:
            raise ConfigError(f"{root}: no usable {chunk_samples}-sample chunk in {', '.join(splits)}")

    def _add_track(self, source) -> None:
        rows, rate = [], 0
        for name in INSTRUMENTS:
            paths = source.parts.get(name, ())
            audio, rate = _decode_native(paths) if paths else (None, rate)
            rows.append(audio)
        length = max(len(r) for r in rows if r is not None)
        stems = np.stack([r if r is not None else np.zeros(length, np.float32) for r in rows])
        if not has_high_band(rate, MODEL_SAMPLE_RATE / 2):
            raise ConfigError(f"{source.directory}: {rate} Hz has no band above {MODEL_SAMPLE_RATE / 2:g} Hz; "
                              "render the set at 44 100 Hz (stemforge synth --sample-rate 44100)")
        model = np.ascontiguousarray(soxr.resample(stems.T, rate, MODEL_SAMPLE_RATE, quality="HQ").T)
        chunk_native = int(round(self.chunk_samples * rate / MODEL_SAMPLE_RATE))
        kept = 0
        for index in range(model.shape[1] // self.chunk_samples):
            if self.per_track is not None and kept >= self.per_track:
                break
            low = model[:, index * self.chunk_samples : (index + 1) * self.chunk_samples]
            full = stems[:, index * chunk_native : (index + 1) * chunk_native]
            if full.shape[1] < chunk_native:
                break
            silent = is_silent(np.concatenate([low.sum(0, keepdims=True), low]), SILENCE_THRESHOLD)
            if not silent[0] and int(silent[1:].sum()) <= 2:
                low, full = low.copy(), full.copy()  # a kept chunk must not hold on to the whole song
                self.chunks.append(FullBandChunk(full.sum(0), full, low.sum(0), low, rate, source.name, index))
                kept += 1

    def __len__(self) -> int:
        return len(self.chunks)

    def __iter__(self) -> Iterator[FullBandChunk]:
        return iter(self.chunks)


def high_pass(signal: np.ndarray, rate: int, edge_hz: float = MODEL_SAMPLE_RATE / 2) -> np.ndarray:
    """The content of ``(..., n)`` above ``edge_hz`` (ideal FFT high-pass over the whole signal)."""
    spectrum = np.fft.rfft(signal, axis=-1)
    spectrum[..., np.fft.rfftfreq(signal.shape[-1], 1.0 / rate) < edge_hz] = 0
    return np.fft.irfft(spectrum, n=signal.shape[-1], axis=-1)


def pipeline_estimates(model: StemModel, mixture: np.ndarray, rate: int, preset: Preset, seed: int,
                       high_band: str, cancel: CancelToken = NEVER_CANCELLED) -> np.ndarray:
    """``(n,)`` mono mixture at ``rate`` -> ``(4, n)`` stems through the streaming pipeline."""
    settings = StreamSettings()
    blocks = (mixture[i : i + settings.block_frames, None] for i in range(0, mixture.shape[0], settings.block_frames))
    out: list[np.ndarray] = []
    separate_blocks(blocks, rate, 1, mixture.shape[0], "chunk", model, INSTRUMENTS, preset,
                    lambda mix, stems: out.append(stems[:, 0, :]), seed, settings, cancel=cancel,
                    high_band=high_band)
    return np.concatenate(out).T


def with_high_band(stems: np.ndarray, mixture: np.ndarray, rate: int, high_band: str,
                   model: StemModel) -> np.ndarray:
    """The pipeline's high-band stage on ``(4, n)`` stems it produced with ``"residual"``:
    the same :class:`HighBandAssigner` (masks of ``high_band``), the whole chunk in one
    block, which streaming does not change; ``(4, n)``."""
    if high_band == "residual":
        return stems
    assigner = HighBandAssigner(rate, 1, stems.shape[0], model.sample_rate / 2,
                                make_masks=high_band_masks(high_band, INSTRUMENTS, model.model_id))
    parts = [assigner.push(mixture[:, None].astype(np.float64), stems.T[:, None, :].astype(np.float64))[1],
             assigner.finish()[1]]
    return np.concatenate(parts)[:, 0, :].T


def oracle_high_band(low_band_stems: np.ndarray, mixture: np.ndarray, true_stems: np.ndarray, rate: int,
                     settings: HighBandSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """``Y_i = w_lo S_i + w_hi (|T_i| / sum_j |T_j|) X`` with the true stems ``T`` (all ``(4, n)``)."""
    size = settings.frame_samples(rate)
    window = torch.hann_window(size, dtype=torch.float64)

    def stft(x: np.ndarray) -> torch.Tensor:
        return torch.stft(torch.from_numpy(np.asarray(x, np.float64)), size, size // 4, window=window,
                          center=True, return_complex=True)

    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    w_hi = torch.from_numpy(crossover_weights(freqs, MODEL_SAMPLE_RATE / 2, settings.crossover_start))[:, None]
    truth = stft(true_stems).abs()
    masks = torch.where(truth.sum(0) > 0, truth / truth.sum(0).clamp_min(1e-30), 0.0)
    stems = stft(low_band_stems)
    assigned = stems + w_hi * (masks * stft(mixture)[None] - stems)
    return torch.istft(assigned, size, size // 4, window=window, center=True, length=mixture.shape[0]).numpy()


class _ChunkScorer:
    """Adds a chunk's full-band and high-band SI-SDRi of ``(4, n)`` estimates to a row."""

    def __init__(self, result: FullBandResult, chunk: FullBandChunk, windows: Windows, settings: ProtocolSettings):
        self.result, self.rate, self.active = result, chunk.rate, windows.active
        self.windows, self.length = _native_windows(windows, chunk.rate, settings)
        self.mixture, self.stems = torch.from_numpy(chunk.mixture), torch.from_numpy(chunk.stems)
        self.high_mix, self.high_stems = (torch.from_numpy(high_pass(x, chunk.rate)) for x in (chunk.mixture, chunk.stems))

    def __call__(self, row: str, estimates: np.ndarray, seconds: float = 0.0) -> None:
        full = window_si_sdri(torch.from_numpy(estimates), self.mixture, self.stems, self.windows, self.length)
        self.result.add("full band", row, full, self.active, seconds)
        high = torch.from_numpy(high_pass(estimates, self.rate))
        scores = window_si_sdri(high, self.high_mix, self.high_stems, self.windows, self.length)
        self.result.add("high band", row, scores, self.active)


@dataclass
class FullBandResult:
    """Score tables per band: ``tables[band][row]``; rows ``mode/high-band`` (e.g. ``draft/assign``)."""

    settings: ProtocolSettings
    rate: int = 0
    chunks: int = 0
    windows_kept: int = 0
    windows_total: int = 0
    tables: dict[str, dict[str, ScoreTable]] = field(default_factory=lambda: {band: {} for band in BANDS})

    def add(self, band: str, row: str, scores: torch.Tensor, active: torch.Tensor, seconds: float = 0.0) -> None:
        table = self.tables[band].setdefault(row, ScoreTable())
        table.add(scores, active)
        table.seconds += seconds


def _native_windows(windows: Windows, rate: int, settings: ProtocolSettings) -> tuple[Windows, int]:
    """The same windows at ``rate``: starts and length scaled from 22 050 Hz."""
    scale = rate / settings.sample_rate
    starts = [int(round(s * scale)) for s in windows.starts]
    return Windows(starts, windows.active, windows.total), int(round(settings.window_samples * scale))


def evaluate_full_band(model: StemModel, chunks: Sequence[FullBandChunk], modes: Sequence[Preset],
                       settings: ProtocolSettings = PAPER_SETTINGS, seed: int = 0,
                       high_bands: Sequence[str] = HIGH_BAND_MODES, progress: ProgressCallback = no_progress,
                       cancel: CancelToken = NEVER_CANCELLED) -> FullBandResult:
    """Score every mode with every high-band mode, in the three bands, on the same windows."""
    result = FullBandResult(settings)
    total = len(chunks)
    for position, chunk in enumerate(chunks):
        cancel.check()
        windows = select_windows(torch.from_numpy(chunk.stems_model), settings)
        result.chunks += 1
        result.windows_total += windows.total
        result.windows_kept += len(windows.starts)
        result.rate = chunk.rate
        progress(position / max(total, 1), f"chunk {position + 1}/{total}")
        if not windows.starts:
            continue
        score = _ChunkScorer(result, chunk, windows, settings)
        score(MIXTURE_ROW, np.broadcast_to(chunk.mixture, chunk.stems.shape).copy())
        result.add("model band", MIXTURE_ROW, torch.zeros(len(windows.starts), len(INSTRUMENTS)), windows.active)
        for preset_index, preset in enumerate(modes):
            started = time.perf_counter()
            generator = torch.Generator().manual_seed(chunk_seed(seed, position))
            low = model_estimates(model, torch.from_numpy(chunk.mixture_model), preset, generator, settings, cancel)
            result.add("model band", preset.name,
                       window_si_sdri(low, torch.from_numpy(chunk.mixture_model), torch.from_numpy(chunk.stems_model),
                                      windows, settings.window_samples), windows.active, time.perf_counter() - started)
            started = time.perf_counter()
            low_band = pipeline_estimates(model, chunk.mixture, chunk.rate, preset, chunk_seed(seed, position),
                                          "residual", cancel)
            separating = time.perf_counter() - started
            for high_band in high_bands:
                started = time.perf_counter()
                estimates = with_high_band(low_band, chunk.mixture, chunk.rate, high_band, model)
                score(f"{preset.name}/{high_band}", estimates, separating + time.perf_counter() - started)
            if preset_index == 0:
                score(ORACLE_HIGH_ROW, oracle_high_band(low_band, chunk.mixture, chunk.stems, chunk.rate))
    progress(1.0, "full-band evaluation done")
    return result


# -- reports -------------------------------------------------------------------------


def _clean(means: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if np.isnan(v) else round(v, 4)) for k, v in means.items()}


def full_band_json(result: FullBandResult, context: dict) -> dict:
    """Everything measured, as data: ``bands[band] = [{name, active, paper, seconds}]``."""
    return {
        **context,
        "kind": "full-band",
        "protocol": result.settings.to_dict(),
        "rate": result.rate,
        "edge_hz": MODEL_SAMPLE_RATE / 2,
        "chunks": result.chunks,
        "windows_total": result.windows_total,
        "windows_kept": result.windows_kept,
        "bands": {
            band: [{"name": name, "active": _clean(table.means("active")), "paper": _clean(table.means("paper")),
                    "seconds": round(table.seconds, 3)} for name, table in rows.items()]
            for band, rows in result.tables.items()
        },
    }


def full_band_table(report: dict, band: str, convention: str = "active") -> str:
    """One Markdown table of a :func:`full_band_json` report (rows as measured)."""
    columns = (*INSTRUMENTS, "All")
    lines = [f"| SI-SDRi (dB), {band} | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for row in report["bands"][band]:
        cells = " | ".join("n/a" if row[convention].get(c) is None else f"{row[convention][c]:.2f}" for c in columns)
        lines.append(f"| {row['name']} | {cells} |")
    return "\n".join(lines)


def full_band_markdown(report: dict) -> str:
    """``report.md`` of a full-band evaluation: what was measured, then one table per band."""
    lines = [
        f"# Stemforge full-band evaluation: {report.get('model', {}).get('id', '?')}",
        "",
        f"- data: `{report.get('data')}` split(s) `{report.get('split')}` at {report['rate']} Hz; "
        f"{report['chunks']} chunks of {report['protocol']['chunk_samples']} samples at 22 050 Hz, "
        f"kept {report['windows_kept']} of {report['windows_total']} 4 s windows (the paper's rule)",
        f"- rows `MODE/assign`, `MODE/learned` and `MODE/residual`: `stemforge separate --preset MODE --high-band ...` "
        f"through the streaming pipeline; `{ORACLE_HIGH_ROW}`: the first mode's stems below "
        f"{report['edge_hz']:g} Hz, the mixture masked with the true stems' |S_i| / sum_j |S_j| above",
        f"- model band: the model's own 22 050 Hz estimates (the paper's protocol); full band: at "
        f"{report['rate']} Hz; high band: content above {report['edge_hz']:g} Hz only",
        f"- seed {report.get('seed')}; measured {report.get('date')} on {report.get('machine')}; "
        "SI-SDRi on active stems (the JSON also has the paper's convention)",
    ]
    mask = report.get("learned_mask")
    if mask:
        lines.append(f"- learned mask: `{mask['path']}` (sha256 `{mask['sha256'][:16]}...`)")
    lines.append("")
    for band in BANDS:
        lines += [f"## {band}", "", full_band_table(report, band), ""]
    return "\n".join(lines)
