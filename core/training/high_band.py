"""Training the learned high-band mask (:mod:`core.audio.learned_high_band`).

Examples: the chunks of a set rendered at 44.1 kHz (:class:`FullBandSource`, the
train split only), each separated by the model through the streaming pipeline with
``--high-band residual`` (so the stems are what the mask sees at separation time),
then cut into the assigner's STFT frames (``N`` samples, hop ``N / 2``, sqrt-Hann).
Per training step, one 4 s window of one chunk, preceded by the network's
:attr:`~core.audio.learned_high_band.HighBandNet.history` frames (so every scored frame
has the context it has when streaming), with each stem hidden with probability
``hide_probability`` (its slot set to zero power, its true stem counted in ``other``,
as in a run that does not extract it). With ``X``, the model's stems ``S_i``, the true
stems ``T_i`` on the bins above the edge ``f_e`` (those the evaluation scores; below it
the crossover mixes in the model's own stems, whose error there the mask cannot change
and which would drown the loss)::

    Y_i = S_i + w_hi (M_i X - S_i),   Y_o = X - sum_i Y_i,   T_o = X - sum_i T_i
    loss = mean over 4 s windows w and sources k of
           10 log10((sum_w |Y_k - T_k|^2 + e_w) / (sum_w |T_k|^2 + e_w)),  e_w = floor sum_w |X|^2

i.e. minus a signal-to-distortion ratio per stem and window, as the full-band
evaluation scores (with a floor so that silent references count little), plus
``lambda`` times a cross-entropy to the true magnitude shares (:func:`share_loss`)::

    q_k = |T_k| / sum_j |T_j|,   share term = - sum_tiles (|X|^2 / sum_w |X|^2) sum_k q_k log M_k

The SDR term alone settles on "the drums take the whole band" (in most windows they
hold nearly all of it, and in log terms the first steps away from that cost more than
they give back until a tile is told apart with confidence); the share term tells the
tiles apart everywhere, and the SDR term then sets how sure the masks must be. Windows where
one source holds nearly all of the band above the edge teach little (any mask that
gives it everything is right); with ``focus`` a window is kept with probability
``0.2 + 0.8 min(1, 4 (1 - max_k share_k))`` (``share_k``: source ``k``'s part of the
window's energy above the edge), so that windows with competing sources come up more
often. Adam with a one-cycle schedule, a fixed step count: deterministic given the seed
on one thread.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
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
from core.audio.learned_high_band import (
    DEFAULT_WIDTHS,
    HighBandNet,
    LearnedHighBandMasks,
    hide_slots,
    save_network,
)
from core.errors import ConfigError
from core.evaluation.full_band import FullBandChunk, pipeline_estimates
from core.instruments import INSTRUMENTS
from core.model import Preset, StemModel
from core.progress import ProgressCallback, no_progress

WINDOW_SECONDS = 4.0
"""Length of the windows the loss is computed on (the evaluation's)."""
DEFAULT_LOSS_FLOOR = 1e-3
"""``floor``: the loss's floor, as a fraction of the window's mixture energy above the edge."""
DEFAULT_SHARE_WEIGHT = 3.0
"""``lambda``: weight of the share term (module docstring)."""


@dataclass
class Example:
    """One chunk in the assigner's STFT frames (mono).

    Attributes:
        inputs: the network's inputs ``(6, T, F_grid)`` float16 (all four slots given).
        mix, stems, truth: complex64 spectra on the bins above ``f_c``: ``(T, H)``,
            ``(4, T, H)`` (the model's) and ``(4, T, H)`` (the true stems').
    """

    inputs: np.ndarray
    mix: np.ndarray
    stems: np.ndarray
    truth: np.ndarray


@dataclass
class TrainingResult:
    network: HighBandNet
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
              network: HighBandNet | None = None) -> LearnedHighBandMasks:
    """Fresh learned masks for all four slots at ``rate`` (the inputs' single source).

    Raises:
        ConfigError: the rate's frames do not fall on the network's frequency grid
            (training does not interpolate; 44.1 and 88.2 kHz do).
    """
    size = settings.frame_samples(rate)
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    masks = LearnedHighBandMasks(network or HighBandNet(), range(len(INSTRUMENTS)), freqs, MODEL_EDGE_HZ,
                                 settings, size / 2 / rate)
    if not masks.grid.exact:
        raise ConfigError(f"training the learned high-band mask needs a set at 44 100 or 88 200 Hz, not {rate} Hz")
    return masks


def make_example(chunk: FullBandChunk, model_stems: np.ndarray,
                 settings: HighBandSettings = DEFAULT_SETTINGS) -> Example:
    """A chunk and the model's ``(4, n)`` stems for it -> an :class:`Example`."""
    size = settings.frame_samples(chunk.rate)
    mix = stft_frames(chunk.mixture.astype(np.float64), size)  # (T, F)
    stems = stft_frames(model_stems.astype(np.float64), size)  # (4, T, F)
    truth = stft_frames(chunk.stems.astype(np.float64), size)
    masks = masks_for(chunk.rate, settings)
    inputs = masks.inputs(stems[None], mix[None])[0].astype(np.float16)
    high = masks.high
    return Example(inputs, mix[:, high], stems[..., high], truth[..., high])


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
                weights: torch.Tensor | None = None, floor: float = DEFAULT_LOSS_FLOOR) -> torch.Tensor:
    """Mean ``10 log10((err + e) / (ref + e))`` over windows of ``frames`` frames and sources:
    ``outputs``, ``targets`` complex ``(K, T, H)``, ``mix`` complex ``(T, H)``; ``weights``
    ``(K,)`` make it a weighted mean over the sources (None: equal); ``e`` is ``floor``
    times the window's mixture energy."""
    count = max(1, outputs.shape[1] // frames)
    cut = count * frames if outputs.shape[1] >= frames else outputs.shape[1]

    def per_window(x: torch.Tensor) -> torch.Tensor:
        energy = x[:, :cut].abs().square() if x.dim() == 3 else x[None, :cut].abs().square()
        return energy.reshape(energy.shape[0], count, -1).sum(-1)  # (K, windows)

    margin = floor * per_window(mix)
    error, reference = per_window(outputs - targets), per_window(targets)
    ratios = 10.0 * torch.log10((error + margin) / (reference + margin))  # (K, windows)
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


def share_loss(logits: torch.Tensor, targets: torch.Tensor, mix: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the predicted shares to the true magnitude shares, weighted by the
    tiles' share of the window's energy: ``logits (5, T, H)``, ``targets (K + 1, T, H)``
    complex (the visible stems, then ``other``, which holds the hidden ones), ``mix (T, H)``,
    ``visible (4,)`` bool. Hidden slots are folded into ``other``'s share."""
    magnitudes = targets.abs()
    shares = magnitudes / magnitudes.sum(0, keepdim=True).clamp_min(1e-12)  # (K + 1, T, H)
    log_shares = torch.log_softmax(logits, dim=0)
    slots = torch.nonzero(visible).flatten()
    rest = torch.logsumexp(torch.cat([log_shares[torch.nonzero(~visible).flatten()], log_shares[-1:]]), dim=0)
    chosen = torch.cat([log_shares[slots], rest[None]])  # (K + 1, T, H)
    weights = mix.abs().square()
    weights = weights / weights.sum().clamp_min(1e-20)
    return -(weights * (shares * chosen).sum(0)).sum()


def competition(example: Example, frames: slice, above: int) -> float:
    """``1 - max_k share_k``: how far the window is from one source holding all of the band
    above the edge (bins ``above:`` of the examples' high bins); 0 for a silent window."""
    truth = np.abs(example.truth[:, frames, above:]) ** 2
    energies = truth.sum((1, 2))
    other = float((np.abs(example.mix[frames, above:] - example.truth[:, frames, above:].sum(0)) ** 2).sum())
    total = float(energies.sum()) + other
    return 0.0 if total <= 0 else 1.0 - max(float(energies.max()), other) / total


def train_network(examples: list[Example], rate: int, steps: int, seed: int,
                  widths: Sequence[int] = DEFAULT_WIDTHS, learning_rate: float = 2e-3,
                  hide_probability: float = 0.15, source_weights: tuple[float, ...] | None = None,
                  loss_floor: float = DEFAULT_LOSS_FLOOR, focus: bool = False,
                  share_weight: float = DEFAULT_SHARE_WEIGHT, settings: HighBandSettings = DEFAULT_SETTINGS,
                  progress: ProgressCallback = no_progress,
                  check: Callable[[], None] = lambda: None) -> TrainingResult:
    """Fit a :class:`HighBandNet` on ``examples`` (module docstring); deterministic given ``seed``.

    ``source_weights``: the loss's weight of each instrument's term, then of ``other``'s
    (``S + 1`` numbers; None: all 1); ``loss_floor``: the loss's ``floor``; ``focus``:
    keep windows with competing sources more often; ``share_weight``: ``lambda`` of the
    share term (module docstring)."""
    all_weights = loss_weights(source_weights)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    network = HighBandNet(widths)
    optimiser = torch.optim.Adam(network.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, learning_rate, total_steps=max(steps, 1),
                                                   pct_start=0.05)
    masks = masks_for(rate, settings, network)
    w_hi = torch.from_numpy(crossover_weights(np.fft.rfftfreq(settings.frame_samples(rate), 1.0 / rate)[masks.high],
                                              MODEL_EDGE_HZ, settings.crossover_start).astype(np.float32))
    high_on_grid = torch.from_numpy(masks.grid.high_on_grid)
    above = int(np.searchsorted(np.fft.rfftfreq(settings.frame_samples(rate), 1.0 / rate)[masks.high],
                                MODEL_EDGE_HZ))  # the loss is on the bins above the edge
    window_frames = int(round(WINDOW_SECONDS * rate / (settings.frame_samples(rate) // 2)))
    history = network.history
    count = len(INSTRUMENTS)
    losses: list[float] = []
    started = time.perf_counter()
    while len(losses) < steps:
        check()
        example = examples[int(rng.integers(len(examples)))]
        start = int(rng.integers(max(1, example.mix.shape[0] - window_frames + 1)))
        frames = slice(start, start + window_frames)
        if focus and rng.random() > 0.2 + 0.8 * min(1.0, 4.0 * competition(example, frames, above)):
            continue
        visible = rng.random(count) >= hide_probability
        first = max(0, start - history)
        inputs = hide_slots(torch.from_numpy(example.inputs[:, first : frames.stop].astype(np.float32)),
                            torch.from_numpy(~visible))
        logits = network(inputs[None], masks.grid.places)[0][:, start - first :, high_on_grid]  # (5, T', H)
        shares = torch.softmax(logits, dim=0)[:count]
        mix, stems, truth = (torch.from_numpy(a[..., frames, :]) for a in (example.mix, example.stems, example.truth))
        keep = torch.from_numpy(visible)
        outputs = stems[keep] + w_hi * (shares[keep] * mix - stems[keep])
        targets = truth[keep]
        outputs = torch.cat([outputs, (mix - outputs.sum(0))[None]])[..., above:]
        targets = torch.cat([targets, (mix - targets.sum(0))[None]])[..., above:]
        weights = None if source_weights is None else torch.cat([all_weights[:count][keep], all_weights[count:]])
        loss = window_loss(outputs, targets, mix[..., above:], window_frames, weights, loss_floor)
        if share_weight > 0:
            loss = loss + share_weight * share_loss(logits[..., above:], targets, mix[..., above:], keep)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 5.0)
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        progress(len(losses) / steps, f"step {len(losses)}/{steps}, loss {np.mean(losses[-50:]):.3f} dB")
    return TrainingResult(network.eval(), losses, time.perf_counter() - started)


def write_weights(result: TrainingResult, path: Path, facts: dict, sharpness: float) -> None:
    """Save the network with the training facts (and its final loss) and the inference
    ``sharpness`` in the metadata."""
    save_network(result.network, path, {**facts, "parameters": result.network.parameter_count(),
                                        "final_loss_db": round(result.final_loss(), 4),
                                        "train_seconds": round(result.seconds, 1)}, sharpness)
