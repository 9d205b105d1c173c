"""Training the learned high-band mask (:mod:`core.audio.learned_high_band`).

Examples: the chunks of a set rendered at 44.1 kHz (:class:`FullBandSource`, the
train split only), each separated by the model through the streaming pipeline with
``--high-band residual`` (so the stems are what the mask sees at separation time),
then cut into the assigner's STFT frames (``N`` samples, hop ``N / 2``, sqrt-Hann).
Per training step, one 4 s window of one chunk (smoothed over the whole chunk, so the
smoothing has its history), every ``tile_stride``-th bin above the edge from a
random offset, with each stem hidden with probability
``hide_probability`` (its slot zeroed, its true stem counted in ``other``, as in a run
that does not extract it). With ``X``, the model's stems ``S_i``, the true stems
``T_i`` on the bins above the edge ``f_e`` (those the evaluation scores; below it the
crossover mixes in the model's own stems, whose error there the mask cannot change and
which would drown the loss)::

    Y_i = S_i + w_hi (M_i X - S_i),   Y_o = X - sum_i Y_i,   T_o = X - sum_i T_i
    loss = mean over 4 s windows w and sources k of
           10 log10((sum_w |Y_k - T_k|^2 + e_w) / (sum_w |T_k|^2 + e_w)),  e_w = 1e-3 sum_w |X|^2

i.e. minus a signal-to-distortion ratio per stem and window, as the full-band
evaluation scores (with a floor so that silent references count little). Adam,
full chunks, a fixed step count: deterministic given the seed on one thread.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.audio.high_band import (
    DEFAULT_SETTINGS,
    MODEL_EDGE_HZ,
    HighBandSettings,
    crossover_weights,
)
from core.audio.learned_high_band import LearnedHighBandMasks, MaskNetwork, save_network
from core.evaluation.full_band import FullBandChunk, pipeline_estimates
from core.instruments import INSTRUMENTS
from core.model import Preset, StemModel
from core.progress import ProgressCallback, no_progress

WINDOW_SECONDS = 4.0
"""Length of the windows the loss is computed on (the evaluation's)."""


@dataclass
class Example:
    """One chunk in the assigner's STFT frames (mono, ``C = 1``).

    Attributes:
        raw, tiles: :meth:`LearnedHighBandMasks.frame_powers` of the model's stems and
            the mixture: ``(1, 10, T)`` and ``(1, T, H)``; ``smoothed``,
            ``tiles_smoothed``: their :meth:`LearnedHighBandMasks.smooth` ed versions.
        mix, stems, truth: complex64 spectra on the high bins: ``(T, H)``, ``(4, T, H)``
            (the model's) and ``(4, T, H)`` (the true stems').
    """

    raw: np.ndarray
    smoothed: np.ndarray
    tiles: np.ndarray
    tiles_smoothed: np.ndarray
    mix: np.ndarray
    stems: np.ndarray
    truth: np.ndarray


@dataclass
class TrainingResult:
    network: MaskNetwork
    losses: list[float]
    seconds: float

    def final_loss(self) -> float:
        """Mean loss (dB) of the last 50 steps."""
        return float(np.mean(self.losses[-50:]))


def stft_frames(signal: np.ndarray, size: int) -> np.ndarray:
    """``(..., n)`` -> ``(..., T, N/2 + 1)`` complex: the assigner's frames (sqrt periodic Hann,
    hop ``N / 2``, ``hop`` leading zeros as in :class:`HighBandAssigner`)."""
    hop = size // 2
    padded = np.concatenate([np.zeros((*signal.shape[:-1], hop)), signal, np.zeros((*signal.shape[:-1], size))], -1)
    window = np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(size) / size))
    frames = np.lib.stride_tricks.sliding_window_view(padded, size, axis=-1)[..., ::hop, :]
    return np.fft.rfft(frames * window, axis=-1).astype(np.complex64)


def masks_for(rate: int, settings: HighBandSettings = DEFAULT_SETTINGS,
              network: MaskNetwork | None = None) -> LearnedHighBandMasks:
    """Fresh learned masks for all four slots at ``rate`` (the features' single source)."""
    size = settings.frame_samples(rate)
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    return LearnedHighBandMasks(network or MaskNetwork(), range(len(INSTRUMENTS)), freqs, MODEL_EDGE_HZ,
                                settings, size / 2 / rate)


def make_example(chunk: FullBandChunk, model_stems: np.ndarray,
                 settings: HighBandSettings = DEFAULT_SETTINGS) -> Example:
    """A chunk and the model's ``(4, n)`` stems for it -> an :class:`Example`."""
    size = settings.frame_samples(chunk.rate)
    mix = stft_frames(chunk.mixture.astype(np.float64), size)  # (T, F)
    stems = stft_frames(model_stems.astype(np.float64), size)  # (4, T, F)
    truth = stft_frames(chunk.stems.astype(np.float64), size)
    masks = masks_for(chunk.rate, settings)
    raw, tiles = masks.frame_powers(stems[None], mix[None])
    smoothed, tiles_smoothed = masks.smooth(raw, tiles)
    high = masks.high
    return Example(raw, smoothed, tiles, tiles_smoothed, mix[:, high], stems[..., high], truth[..., high])


def model_stems_for(model: StemModel, chunk: FullBandChunk, preset: Preset, seed: int,
                    cache: Path | None = None) -> np.ndarray:
    """The model's ``(4, n)`` stems of a chunk through the pipeline (``residual``), cached
    under ``cache`` by model checksum, preset, seed, track, chunk and a checksum of the
    chunk's samples when given (two sets may name their songs alike)."""
    path = None
    if cache is not None:
        samples = hashlib.sha256(np.ascontiguousarray(chunk.mixture).tobytes()).hexdigest()[:16]
        path = cache / f"{model.sha256[:12]}-{preset.name}-{seed}-{chunk.track}-{chunk.index}-{samples}.npy"
        if path.is_file():
            return np.load(path, allow_pickle=False)
    stems = pipeline_estimates(model, chunk.mixture, chunk.rate, preset, seed, "residual").astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, stems, allow_pickle=False)
    return stems


def window_loss(outputs: torch.Tensor, targets: torch.Tensor, mix: torch.Tensor, frames: int,
                weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean ``10 log10((err + e) / (ref + e))`` over windows of ``frames`` frames and sources:
    ``outputs``, ``targets`` complex ``(K, T, H)``, ``mix`` complex ``(T, H)``; ``weights``
    ``(K,)`` make it a weighted mean over the sources (None: equal)."""
    count = max(1, outputs.shape[1] // frames)
    cut = count * frames if outputs.shape[1] >= frames else outputs.shape[1]

    def per_window(x: torch.Tensor) -> torch.Tensor:
        energy = x[:, :cut].abs().square() if x.dim() == 3 else x[None, :cut].abs().square()
        return energy.reshape(energy.shape[0], count, -1).sum(-1)  # (K, windows)

    floor = 1e-3 * per_window(mix)
    error, reference = per_window(outputs - targets), per_window(targets)
    ratios = 10.0 * torch.log10((error + floor) / (reference + floor))  # (K, windows)
    if weights is None:
        return ratios.mean()
    return (weights[:, None] * ratios).sum() / (weights.sum() * ratios.shape[1])


def loss_weights(source_weights: tuple[float, ...] | None) -> torch.Tensor:
    """``(S + 1,)`` weights of the loss's terms (the instruments, then ``other``) from
    ``source_weights`` (None: all 1).

    Raises:
        ValueError: not ``S + 1`` non-negative numbers with a positive sum.
    """
    count = len(INSTRUMENTS) + 1
    if source_weights is None:
        return torch.ones(count)
    weights = torch.tensor(source_weights, dtype=torch.float32)
    if weights.shape != (count,) or bool((weights < 0).any()) or float(weights.sum()) <= 0:
        raise ValueError(f"source_weights needs {count} non-negative numbers, not all 0")
    return weights


def train_network(examples: list[Example], rate: int, steps: int, seed: int, hidden: int = 32,
                  learning_rate: float = 3e-3, hide_probability: float = 0.15, tile_stride: int = 6,
                  source_weights: tuple[float, ...] | None = None,
                  settings: HighBandSettings = DEFAULT_SETTINGS,
                  progress: ProgressCallback = no_progress,
                  check: Callable[[], None] = lambda: None) -> TrainingResult:
    """Fit a :class:`MaskNetwork` on ``examples`` (module docstring); deterministic given ``seed``.

    ``source_weights``: the loss's weight of each instrument's term, then of ``other``'s
    (``S + 1`` numbers; None: all 1)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    network = MaskNetwork(hidden)
    optimiser = torch.optim.Adam(network.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(steps, 1))
    masks = masks_for(rate, settings, network)
    w_hi = torch.from_numpy(crossover_weights(np.fft.rfftfreq(settings.frame_samples(rate), 1.0 / rate)[masks.high],
                                              MODEL_EDGE_HZ, settings.crossover_start).astype(np.float32))
    first = int(np.searchsorted(masks.position, 0.0))  # the loss is on the bins above the edge
    window_frames = int(round(WINDOW_SECONDS * rate / (settings.frame_samples(rate) // 2)))
    count = len(INSTRUMENTS)
    all_weights = loss_weights(source_weights)
    losses: list[float] = []
    started = time.perf_counter()
    for step in range(steps):
        check()
        example = examples[int(rng.integers(len(examples)))]
        visible = rng.random(count) >= hide_probability
        start = int(rng.integers(max(1, example.raw.shape[-1] - window_frames + 1)))
        frames = slice(start, start + window_frames)
        bins = slice(first + int(rng.integers(tile_stride)), None, tile_stride)
        hidden = np.concatenate([~visible, ~visible, [False, False]])  # a hidden slot has zero power
        raw, smoothed = (np.where(hidden[:, None], 0.0, x[:, :, frames]) for x in (example.raw, example.smoothed))
        features = masks.features(raw, smoothed, example.tiles[:, frames, bins],
                                  example.tiles_smoothed[:, frames, bins], bins)[0]  # (T', H', D)
        shares = torch.softmax(network(torch.from_numpy(features)), dim=-1)
        shares = shares[..., :count].permute(2, 0, 1)  # (4, T', H')
        mix, stems, truth = (torch.from_numpy(a[..., frames, bins]) for a in (example.mix, example.stems, example.truth))
        keep = torch.from_numpy(visible)
        outputs = stems[keep] + w_hi[bins] * (shares[keep] * mix - stems[keep])
        targets = truth[keep]
        outputs = torch.cat([outputs, (mix - outputs.sum(0))[None]])
        targets = torch.cat([targets, (mix - targets.sum(0))[None]])
        weights = None if source_weights is None else torch.cat([all_weights[:count][keep], all_weights[count:]])
        loss = window_loss(outputs, targets, mix, window_frames, weights)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        progress((step + 1) / steps, f"step {step + 1}/{steps}, loss {np.mean(losses[-50:]):.3f} dB")
    return TrainingResult(network.eval(), losses, time.perf_counter() - started)


def write_weights(result: TrainingResult, path: Path, facts: dict) -> None:
    """Save the network with the training facts (and its final loss) in the metadata."""
    save_network(result.network, path, {**facts, "parameters": result.network.parameter_count(),
                                        "final_loss_db": round(result.final_loss(), 4),
                                        "train_seconds": round(result.seconds, 1)})
