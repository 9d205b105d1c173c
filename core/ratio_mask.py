"""Ratio-mask resynthesis: the stems rebuilt from the mixture with masks of their own magnitudes.

A waveform network's estimates do not sum to the mixture: together they over- or
under-claim tiles, and they carry low-level noise, phase errors and tones that are not in
the mixture at all. Rebuilding each stem as a soft mask of the mixture (the classic
soft-mask post-filter of spectrogram separators such as Open-Unmix) takes the mixture's
own content and phase, in the proportions the estimates give. For the mixture ``x`` of
one segment and the estimates ``y_1..y_S``, with STFTs ``X`` and ``Y_i`` (periodic Hann
window of :data:`MASK_FFT` samples, hop :data:`MASK_HOP`, centred)::

    R(t, f)   = max(|X(t, f)| - sum_j |Y_j(t, f)|, 0)     (what no requested stem claims)
    M_i(t, f) = |Y_i(t, f)| / (sum_j |Y_j(t, f)| + R(t, f))  (0 where the denominator is 0)
    y'_i      = iSTFT(M_i X)

So ``sum_i M_i <= 1``: where the stems claim more than the mixture holds they share it in
their proportions; where they claim less (other instruments, voices) the rest stays in the
mixture, and the ``other`` stem, computed by the writer from the written samples, keeps
it (stems + other still null exactly). A tile the mixture does not have stays empty.

The residual, the exponent (magnitudes) and the FFT size were chosen on the held-out
validation split of rec1000; the figures, and what it gains, are in core/METHOD.md
section 5 (the one place they are kept). The masks are
ratios, so they do not change with the segment's level (the quiet-segment
lift of :mod:`core.hybrid` commutes with them) or its polarity.
"""

from __future__ import annotations

import torch

MASK_FFT = 2048
"""STFT size of the masks, in samples at the model's rate (93 ms at 22 050 Hz)."""
MASK_HOP = MASK_FFT // 4
"""Hop of the masks' STFT (75 % overlap; the Hann window's squares sum to a constant)."""


def ratio_mask_resynthesis(estimates: torch.Tensor, mixture: torch.Tensor,
                           n_fft: int = MASK_FFT, hop: int = MASK_HOP) -> torch.Tensor:
    """Rebuild the stems from the mixture with ratio masks (module docstring).

    Args:
        estimates: ``(N, S, L)`` the network's stems of ``N`` segments.
        mixture: ``(N, L)`` the segments.
        n_fft, hop: the STFT; a segment shorter than ``n_fft`` uses the largest power of
            two that fits (at least 16), or is returned unchanged below that.

    Returns:
        ``(N, S, L)`` resynthesised stems, dtype and device of ``estimates``.
    """
    count, stems, length = estimates.shape
    while n_fft > length and n_fft > 16:
        n_fft //= 2
        hop = n_fft // 4
    if n_fft > length:
        return estimates
    work = torch.float64 if estimates.dtype == torch.float64 else torch.float32
    window = torch.hann_window(n_fft, dtype=work, device=estimates.device)

    def stft(signal: torch.Tensor) -> torch.Tensor:
        return torch.stft(signal.reshape(-1, length).to(work), n_fft, hop, window=window, center=True,
                          return_complex=True)

    spectra = stft(estimates).reshape(count, stems, n_fft // 2 + 1, -1)  # (N, S, F, T)
    mix = stft(mixture).reshape(count, 1, n_fft // 2 + 1, -1)  # (N, 1, F, T)
    magnitudes = spectra.abs()
    claimed = magnitudes.sum(1)  # (N, F, T)
    total = claimed + (mix[:, 0].abs() - claimed).clamp_min(0.0)  # = max(sum_j |Y_j|, |X|)
    masks = torch.where(total[:, None] > 0, magnitudes / total[:, None].clamp_min(1e-30),
                        torch.zeros_like(magnitudes))
    rebuilt = torch.istft((masks * mix).reshape(count * stems, n_fft // 2 + 1, -1), n_fft, hop,
                          window=window, center=True, length=length)
    return rebuilt.reshape(count, stems, length).to(estimates.dtype)
