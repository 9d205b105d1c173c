"""Full-band stems: hand the input's band above the model's edge to the stems, streaming.

The model hears only up to its Nyquist frequency ``f_e`` (11 025 Hz for 22 050 Hz);
resampled back to the input rate ``R``, its stems hold nothing above ``f_e``. This
stage works in the STFT domain at rate ``R`` (periodic sqrt-Hann analysis and
synthesis windows of ``N`` samples, hop ``N / 4``, weighted overlap-add, which
reconstructs exactly when nothing is changed). For stem ``i``, input ``X`` and frame
``t``, bin ``f``::

    Y_i(t, f) = w_lo(f) S_i(t, f) + w_hi(f) M_i(t, f) X(t, f)

with a linear-phase crossover ``w_lo + w_hi = 1`` (raised cosine from ``f_c`` to
``f_e``, ``w_hi = 0`` below ``f_c``) and the high-band mask ``M_i`` estimated from the
stems' own content just below the edge (the reference band ``B = [f_e / 2, f_c)``,
the top octave of the model's band), as UVR's "high end process" and Spleeter's mask
extension do. The residual ``R = X - sum_j S_j`` (what the model gave to ``other``)
is one more claimant ``k``. For every source ``k`` (stems and residual) its power
``E_k(t) = sum_{f in B_hi} |S_k(t, f)|^2`` in the upper half-octave ``B_hi`` of ``B``
is extended upwards with its own fall-off, the ratio ``a_k(t)`` of its power in
``B_hi`` to that in the lower half-octave (clipped to ``[0, 1]``: a stem never gains
share upwards)::

    E_k(t, f) = E_k(t) * a_k(t) ** (2 log2(f / f_hi)),     f_hi = centre of B_hi
    M_i(t, f) = E_i(t, f) / sum_k E_k(t, f)

so ``sum_i M_i <= 1``; what no stem claims stays in the input and the residual stem
``other``, computed by the writer from the written samples, gets it (stems + other
still null exactly). The input itself is passed through unchanged (delayed like the
stems), so the null does not depend on this stage's rounding.

Memory is bounded by one block plus one frame; the latency ``N - hop`` is absorbed:
:meth:`HighBandAssigner.finish` returns the rest, so the total output length equals
the total input length exactly.
"""

from __future__ import annotations

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
        floor: power added to every claimant's reference power (relative to full
            scale, per bin) so that silence claims nothing.
    """

    frame_seconds: float = 0.046
    crossover_start: float = 0.9
    floor: float = 1e-12

    def frame_samples(self, rate: int) -> int:
        return 1 << int(np.ceil(np.log2(max(16.0, self.frame_seconds * rate))))


def has_high_band(rate: int, edge_hz: float = MODEL_EDGE_HZ) -> bool:
    """Whether a signal at ``rate`` has content above the model's edge to assign."""
    return rate / 2 > edge_hz


def crossover_weights(freqs: np.ndarray, edge_hz: float, start: float) -> np.ndarray:
    """``w_hi(f)``: 0 below ``start * edge_hz``, raised cosine to 1 at ``edge_hz``, then 1."""
    lo = start * edge_hz
    position = np.clip((freqs - lo) / max(edge_hz - lo, 1e-9), 0.0, 1.0)
    return np.sin(0.5 * np.pi * position) ** 2


class HighBandMasks:
    """The rule-based high-band masks ``M_i(t, f)`` of the module docstring.

    Args:
        freqs: ``(F,)`` bin frequencies in Hz.
        edge_hz, settings: the model's edge and the numbers of the rule.
    """

    def __init__(self, freqs: np.ndarray, edge_hz: float, settings: HighBandSettings):
        top = settings.crossover_start * edge_hz
        middle = edge_hz / np.sqrt(2.0)
        self.lower = (freqs >= edge_hz / 2) & (freqs < middle)
        self.upper = (freqs >= middle) & (freqs < top)
        if not self.lower.any() or not self.upper.any():
            raise ValueError("the STFT is too coarse for the reference band below the edge")
        centre = np.sqrt(middle * top)
        octaves = np.log2(np.maximum(freqs, 1.0) / centre)
        self.exponent = np.where(freqs >= top, 2.0 * octaves, 0.0)  # (F,) half-octaves above B_hi
        self.floor = settings.floor

    def __call__(self, stems: np.ndarray, mix: np.ndarray) -> np.ndarray:
        """``stems (T, F, C, S)``, ``mix (T, F, C)`` complex spectra -> masks ``(T, F, C, S)``."""
        sources = np.concatenate([stems, (mix - stems.sum(-1))[..., None]], axis=-1)  # (T, F, C, S+1)
        power = np.abs(sources) ** 2
        upper = power[:, self.upper].sum(1) + self.floor * self.upper.sum()  # (T, C, S+1)
        lower = power[:, self.lower].sum(1) + self.floor * self.lower.sum()
        ratio = np.clip(upper / lower, 1e-6, 1.0)
        extended = upper[:, None] * ratio[:, None] ** self.exponent[None, :, None, None]  # (T, F, C, S+1)
        masks = extended / extended.sum(-1, keepdims=True)
        return masks[..., :-1]


class HighBandAssigner:
    """Streaming high-band assignment for aligned blocks at the input rate.

    Args:
        rate: the input's sample rate (must exceed ``2 * edge_hz``).
        channels, stems: shape of the blocks, ``mix (k, C)`` and ``stems (k, C, S)``.
        edge_hz: the model's band edge.
        settings: the numbers of the rule.
    """

    def __init__(self, rate: int, channels: int, stems: int, edge_hz: float = MODEL_EDGE_HZ,
                 settings: HighBandSettings = HighBandSettings()):
        if not has_high_band(rate, edge_hz):
            raise ValueError(f"{rate} Hz has no band above {edge_hz:g} Hz")
        self.size = settings.frame_samples(rate)
        self.hop = self.size // 4
        self.channels, self.stems = channels, stems
        freqs = np.fft.rfftfreq(self.size, 1.0 / rate)
        self.w_hi = crossover_weights(freqs, edge_hz, settings.crossover_start)[None, :, None, None]
        self.masks = HighBandMasks(freqs, edge_hz, settings)
        self.window = np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(self.size) / self.size))
        self.gain = 1.0 / np.sum(self.window[:: self.hop] ** 2)  # WOLA: sum_j w^2(t - j hop) = 1 / gain
        latency = self.size - self.hop
        # The stream is preceded by `latency` zeros, so the first frame starts at -latency.
        self._input = np.zeros((latency, channels, stems + 1))  # samples from frame start on
        self._acc = np.zeros((self.size, channels, stems))  # output from the same position on
        self._pending_mix: list[np.ndarray] = []
        self._pushed = 0  # input samples pushed
        self._raw = 0  # output samples produced, the leading padding included
        self._emitted = 0  # output samples returned

    @property
    def latency(self) -> int:
        return self.size - self.hop

    def push(self, mix: np.ndarray, stems: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add aligned ``mix (k, C)``, ``stems (k, C, S)``; return the finished part (same shapes)."""
        self._pushed += mix.shape[0]
        self._pending_mix.append(np.asarray(mix, np.float64))
        self._input = np.concatenate([self._input, np.concatenate([stems, mix[..., None]], axis=-1)])
        return self._run(final=False)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Flush the frames that overlap the end; returns the rest of the output."""
        self._input = np.concatenate([self._input, np.zeros((self.size, self.channels, self.stems + 1))])
        return self._run(final=True)

    def _run(self, final: bool) -> tuple[np.ndarray, np.ndarray]:
        frames = max(0, 1 + (self._input.shape[0] - self.size) // self.hop)
        if final:  # only the frames that touch the signal; the rest of the padding is dropped
            frames = min(frames, -(-(self.latency + self._pushed) // self.hop) - self._raw // self.hop)
        outputs = []
        if frames > 0:
            starts = np.arange(frames) * self.hop
            segments = self._input[starts[:, None] + np.arange(self.size)]  # (T, N, C, S+1)
            spectra = np.fft.rfft(segments * self.window[None, :, None, None], axis=1)  # (T, F, C, S+1)
            stems, mix = spectra[..., :-1], spectra[..., -1]
            assigned = stems + self.w_hi * (self.masks(stems, mix) * mix[..., None] - stems)
            pieces = np.fft.irfft(assigned, n=self.size, axis=1) * (self.window * self.gain)[None, :, None, None]
            for piece in pieces:  # overlap-add; then the first hop is final
                self._acc += piece
                outputs.append(self._acc[: self.hop].copy())
                self._acc = np.concatenate([self._acc[self.hop :], np.zeros_like(self._acc[: self.hop])])
            self._input = self._input[frames * self.hop :]
        ready = np.concatenate(outputs) if outputs else np.zeros((0, self.channels, self.stems))
        skip = min(max(0, self.latency - self._raw), ready.shape[0])  # output of the leading zeros
        self._raw += ready.shape[0]
        ready = ready[skip:][: self._pushed - self._emitted]
        self._emitted += ready.shape[0]
        return self._pop_mix(ready.shape[0]), ready

    def _pop_mix(self, count: int) -> np.ndarray:
        joined = np.concatenate(self._pending_mix) if self._pending_mix else np.zeros((0, self.channels))
        self._pending_mix = [joined[count:]]
        return joined[:count]
