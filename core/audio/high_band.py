"""Full-band stems: hand the input's band above the model's edge to the stems, streaming.

The model hears only up to its Nyquist frequency ``f_e`` (11 025 Hz for 22 050 Hz);
resampled back to the input rate ``R``, its stems hold nothing above ``f_e``. This
stage works in the STFT domain at rate ``R`` (periodic sqrt-Hann analysis and
synthesis windows of ``N`` samples, hop ``N / 2``, weighted overlap-add). For stem
``i``, input ``X``, frame ``t`` and bin ``f``::

    Y_i(t, f) = S_i(t, f) + w_hi(f) (M_i(t, f) X(t, f) - S_i(t, f))

with a linear-phase crossover ``w_hi`` (0 below ``f_c = 0.9 f_e``, raised cosine to 1
at ``f_e``): below ``f_c`` the stems pass unchanged. The high-band masks ``M_i`` come
from the stems' own content just below the edge, in the top octave ``[f_e / 2, f_c)``
of the model's band (as UVR's "high end process" and Spleeter's mask extension do):

- ``P_i(t)``, ``Q_i(t)``: stem ``i``'s power in the upper (``[f_e / sqrt 2, f_c)``) and
  lower half-octave, exponentially smoothed over frames (time constant 0.45 s);
- its fall-off ``a_i = clip(P_i / Q_i, 0, 1)`` per half-octave extends it upwards:
  ``E_i(t, f) = P_i(t) a_i(t) ** (2 log2(f / f_hi))``, ``f_hi`` the centre of the upper
  half-octave (a stem never gains share upwards);
- the unexplained rest ``E_o(t) = max(P_X(t) - sum_j P_j(t), 0) + floor`` (other
  instruments, vocals) claims its share too, flat above the edge;
- shares are sharpened: ``M_i = E_i ** p / (sum_j E_j ** p + E_o ** p)``, ``p = 8``,
  so the dominant source takes most of a tile (a blurred share smears e.g. the
  cymbals' high band over every stem).

So ``sum_i M_i <= 1``; what no stem claims stays in the input and the residual stem
``other``, computed by the writer from the written samples, gets it (stems + other
still null exactly). The input itself is passed through unchanged (delayed like the
stems). Memory is bounded by one block plus one frame; :meth:`HighBandAssigner.finish`
returns the rest, so the total output length equals the total input length exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.instruments import MODEL_SAMPLE_RATE

MODEL_EDGE_HZ = MODEL_SAMPLE_RATE / 2
"""The model's band edge (its Nyquist frequency)."""


@dataclass(frozen=True)
class HighBandSettings:
    """Numbers of the assignment.

    Attributes:
        frame_seconds: STFT frame length (rounded up to a power of two in samples).
        crossover_start: ``f_c / f_e``, where the crossover from the stem to the
            assigned high band starts (soxr's anti-alias filter has begun rolling off).
        floor: power per bin (full scale 1) that always goes to ``other``, so that
            silence claims nothing.
        sharpness: exponent ``p`` applied to the extended powers before they are
            shared (``p = 1``: power shares; larger: the dominant source takes most).
        smoothing_seconds: time constant of the exponential smoothing of the
            reference powers over frames.
    """

    frame_seconds: float = 0.046
    crossover_start: float = 0.9
    floor: float = 1e-10
    sharpness: float = 8.0
    smoothing_seconds: float = 0.45

    def frame_samples(self, rate: int) -> int:
        return 1 << int(np.ceil(np.log2(max(16.0, self.frame_seconds * rate))))


DEFAULT_SETTINGS = HighBandSettings()


def has_high_band(rate: int, edge_hz: float = MODEL_EDGE_HZ) -> bool:
    """Whether a signal at ``rate`` has content above the model's edge to assign."""
    return rate / 2 > edge_hz


def crossover_weights(freqs: np.ndarray, edge_hz: float, start: float) -> np.ndarray:
    """``w_hi(f)``: 0 below ``start * edge_hz``, raised cosine to 1 at ``edge_hz``, then 1."""
    lo = start * edge_hz
    position = np.clip((freqs - lo) / max(edge_hz - lo, 1e-9), 0.0, 1.0)
    return np.sin(0.5 * np.pi * position) ** 2


def smooth_frames(powers: np.ndarray, state: np.ndarray | None, decay: float) -> tuple[np.ndarray, np.ndarray]:
    """``P'(t) = a P'(t-1) + (1 - a) P(t)`` along the last axis (frames) of ``(..., T)``.

    ``state`` is ``P'`` of the frame before (``(...)``; None: start from the first frame).
    Returns the smoothed ``(..., T)`` and the new state.
    """
    out = np.empty_like(powers)
    state = powers[..., 0] if state is None else state
    for t in range(powers.shape[-1]):
        state = decay * state + (1.0 - decay) * powers[..., t]
        out[..., t] = state
    return out, state


def band_power(spectra: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """``sum_{f in bins} |X(..., f)|^2`` of complex ``(..., F)`` spectra, in float64: ``(...)``.

    Squared in float64: a float32 square overflows once ``|X|`` passes 1.8e19 (a float
    input about 1e15 times full scale), which turned every stem into NaN.
    """
    part = spectra[..., bins]
    real, imag = part.real.astype(np.float64), part.imag.astype(np.float64)
    return (real * real + imag * imag).sum(-1)


class HighBandMasks:
    """The rule-based high-band masks ``M_i(t, f)`` of the module docstring.

    Stateful: the reference powers are smoothed over frames across calls.

    Args:
        freqs: ``(F,)`` bin frequencies in Hz.
        edge_hz, settings: the model's edge and the numbers of the rule.
        frame_seconds: time between frames (the smoothing's time step).
    """

    def __init__(self, freqs: np.ndarray, edge_hz: float, settings: HighBandSettings, frame_seconds: float):
        top = settings.crossover_start * edge_hz
        middle = edge_hz / np.sqrt(2.0)
        self.lower = np.flatnonzero((freqs >= edge_hz / 2) & (freqs < middle))
        self.upper = np.flatnonzero((freqs >= middle) & (freqs < top))
        self.high = np.flatnonzero(freqs >= top)  # the bins the masks are for
        if not self.lower.size or not self.upper.size:
            raise ValueError("the STFT is too coarse for the reference band below the edge")
        centre = np.sqrt(middle * top)
        self.exponent = 2.0 * np.log2(freqs[self.high] / centre)  # (H,) half-octaves above B_hi
        self.floor = settings.floor * self.upper.size
        self.sharpness = settings.sharpness
        self.decay = float(np.exp(-frame_seconds / settings.smoothing_seconds))
        self._state: np.ndarray | None = None  # smoothed powers (C, 2S+1) of the last frame

    def _smooth(self, powers: np.ndarray) -> np.ndarray:
        out, self._state = smooth_frames(powers, self._state, self.decay)
        return out

    def __call__(self, stems: np.ndarray, mix: np.ndarray) -> np.ndarray:
        """``stems (C, S, T, F)``, ``mix (C, T, F)`` complex spectra -> masks ``(C, S, T, H)``
        for the bins ``self.high``."""

        count = stems.shape[1]
        raw = np.concatenate([band_power(stems, self.upper), band_power(stems, self.lower),
                              band_power(mix, self.upper)[:, None]], axis=1)  # (C, 2S+1, T)
        smoothed = self._smooth(raw)
        upper, lower, mix_upper = smoothed[:, :count], smoothed[:, count : 2 * count], smoothed[:, -1]
        other = np.maximum(mix_upper - upper.sum(1), 0.0) + self.floor  # (C, T), flat above the edge
        ratio = np.clip(upper / (lower + self.floor), 1e-6, 1.0)
        # log of E_k(t, f) ** p for the stems and the unexplained rest, normalised per tile
        logs = np.concatenate([
            np.log(upper + 1e-30)[..., None] + np.log(ratio)[..., None] * self.exponent,
            np.broadcast_to(np.log(other)[:, None, :, None], (other.shape[0], 1, other.shape[1], self.high.size)),
        ], axis=1) * self.sharpness  # (C, S+1, T, H)
        weights = np.exp(logs - logs.max(1, keepdims=True))
        return (weights[:, :-1] / weights.sum(1, keepdims=True)).astype(np.float32)


class HighBandAssigner:
    """Streaming high-band assignment for aligned blocks at the input rate.

    Frames of ``N`` samples every ``N / 2`` (sqrt-Hann windows, whose squares sum to 1),
    in float32. Only the correction ``w_hi (M_i X - S_i)`` goes through the inverse STFT
    and is added to the delayed stems, so below the crossover the stems come out
    exactly as they went in.

    Args:
        rate: the input's sample rate (must exceed ``2 * edge_hz``).
        channels, stems: shape of the blocks, ``mix (k, C)`` and ``stems (k, C, S)``.
        edge_hz: the model's band edge.
        settings: the numbers of the rule.
        make_masks: ``(freqs, edge_hz, settings, frame_seconds) -> masks``, the masks' maker:
            the rule (:class:`HighBandMasks`, default) or the learned network
            (:mod:`core.audio.learned_high_band`); the masks are called like
            :meth:`HighBandMasks.__call__` and say their bins in ``high``.
    """

    def __init__(self, rate: int, channels: int, stems: int, edge_hz: float = MODEL_EDGE_HZ,
                 settings: HighBandSettings = DEFAULT_SETTINGS, make_masks: Callable = HighBandMasks):
        if not has_high_band(rate, edge_hz):
            raise ValueError(f"{rate} Hz has no band above {edge_hz:g} Hz")
        self.size = settings.frame_samples(rate)
        self.hop = self.size // 2
        self.channels, self.stems = channels, stems
        freqs = np.fft.rfftfreq(self.size, 1.0 / rate)
        self.masks = make_masks(freqs, edge_hz, settings, self.hop / rate)
        self.w_hi = crossover_weights(freqs[self.masks.high], edge_hz, settings.crossover_start).astype(np.float32)
        periodic_hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(self.size) / self.size)
        self.window = np.sqrt(periodic_hann).astype(np.float32)  # w^2(t) + w^2(t + N/2) = 1
        # Signals-major buffer (C, S+1, n): the stems then the mix, from the next frame's start
        # on. The stream is preceded by `hop` zeros, so the first frame starts at -hop.
        self._input = np.zeros((channels, stems + 1, self.hop))
        self._carry = np.zeros((channels, stems, self.hop), np.float32)  # overlaps the next frame
        self._pushed = 0  # input samples pushed
        self._raw = 0  # padded positions finished (the leading `hop` zeros included)
        self._emitted = 0  # output samples returned

    @property
    def latency(self) -> int:
        return self.hop

    def push(self, mix: np.ndarray, stems: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add aligned ``mix (k, C)``, ``stems (k, C, S)``; return the finished part (same shapes)."""
        self._pushed += mix.shape[0]
        block = np.concatenate([np.transpose(stems, (1, 2, 0)), mix.T[:, None]], axis=1)  # (C, S+1, k)
        self._input = np.concatenate([self._input, block], axis=2)
        return self._run(final=False)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Flush the frames that overlap the end; returns the rest of the output."""
        self._input = np.concatenate([self._input, np.zeros((self.channels, self.stems + 1, self.size))], axis=2)
        return self._run(final=True)

    def _run(self, final: bool) -> tuple[np.ndarray, np.ndarray]:
        frames = max(0, 1 + (self._input.shape[2] - self.size) // self.hop)
        if final:  # the frames that finish the signal; the rest of the padding is dropped
            frames = min(frames, -(-(self._pushed + self.hop - self._raw) // self.hop))
        if frames == 0:
            return np.zeros((0, self.channels)), np.zeros((0, self.channels, self.stems))
        used = self._input[..., : (frames + 1) * self.hop].astype(np.float32)
        segments = np.lib.stride_tricks.sliding_window_view(used, self.size, axis=2)[..., :: self.hop, :]
        spectra = np.fft.rfft(segments * self.window, axis=-1)  # (C, S+1, T, F)
        stems, mix = spectra[:, :-1], spectra[:, -1]
        high = self.masks.high
        correction = np.zeros(stems.shape, np.complex64)
        correction[..., high] = self.w_hi * (self.masks(stems, mix) * mix[:, None, :, high] - stems[..., high])
        pieces = np.fft.irfft(correction, n=self.size, axis=-1) * self.window  # (C, S, T, N)
        # Overlap-add: output hop k = second half of frame k-1 (or the carry) + first half of frame k.
        added = pieces[..., : self.hop].copy()
        added[:, :, 0] += self._carry
        added[:, :, 1:] += pieces[:, :, :-1, self.hop :]
        self._carry = pieces[:, :, -1, self.hop :]
        count_raw = frames * self.hop  # the padded positions [raw, raw + count_raw) are finished
        finished = self._input[..., :count_raw]
        self._input = self._input[..., count_raw:]
        stems_out = finished[:, :-1] + added.reshape(self.channels, self.stems, count_raw)
        skip = min(max(0, self.hop - self._raw), count_raw)  # the leading padding
        self._raw += count_raw
        count = min(count_raw - skip, self._pushed - self._emitted)
        self._emitted += count
        mix_out = finished[:, -1, skip : skip + count].T
        return mix_out, np.transpose(stems_out[..., skip : skip + count], (2, 0, 1))
