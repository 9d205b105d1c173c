"""Losses of the deterministic extractor (core/METHOD.md section 3), on ``(B, 1, L)`` waveforms.

``mse`` (the paper's)::

    L = mean((x_det - s)^2)

``snr``, the negative thresholded SNR of each crop b (Wisdom et al. 2020, "Unsupervised
sound separation using mixture invariant training"), averaged over the batch::

    L_b = 10 log10(|x_det - s|^2 + tau |x_mix|^2) - 10 log10(|s|^2 + tau |x_mix|^2)

``l1_stft``, waveform L1 plus a multi-resolution STFT loss (Yamamoto et al. 2020,
"Parallel WaveGAN", section 2.3; Defossez et al. 2021, "Hybrid spectrogram and waveform
source separation"), with an optional L1-SNR term (Watcharasupat et al. 2023, "A
generalized bandsplit neural network for cinematic audio source separation")::

    L = mean|x_det - s|
        + w_mag  * 1/|N| sum_{n in N} mean| |X_n| - |S_n| |
        + w_cplx * 1/|N| sum_{n in N} mean( |Re(X_n - S_n)| + |Im(X_n - S_n)| )
        + w_snr  * mean_b 10 log10( (|x_det - s|_1 + tau |x_mix|_1) / (|s|_1 + tau |x_mix|_1) )

where ``X_n = STFT_n(x_det)``, ``S_n = STFT_n(s)`` use an ``n``-point periodic Hann window,
hop ``n / 4``, and are scaled by ``n^-1/2`` (``torch.stft(normalized=True)``), so a bin's
magnitude is on the waveform's scale whatever ``n``; ``N`` is the set of FFT sizes (512,
1024 and 2048 by default: 23, 46 and 93 ms at 22.05 kHz). Magnitude L1 on several
resolutions penalises a stem that leaks another instrument's partials or transients even
when the waveform error is small (phase-insensitive); the complex term also constrains
the phase. The thresholded SNR floors (``tau |x_mix|``) keep a silent target finite; no
raw SI-SDR, which is undefined for silent targets.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from core.training.config import DEFAULT_STFT_SIZES

STFT_HOP_DIVISOR = 4
"""Hop of each resolution: ``n_fft / 4`` (75 % overlap)."""


def thresholded_snr_loss(
    estimate: torch.Tensor, target: torch.Tensor, mixture: torch.Tensor, tau: float
) -> torch.Tensor:
    """Mean over the batch of the negative thresholded SNR in dB (module doc).

    Args:
        estimate, target, mixture: ``(B, 1, L)``.
        tau: soft threshold relative to the mixture's energy.

    Returns:
        A scalar; 0 for a silent estimate of a silent target; for a perfect estimate of a
        non-silent one, ``10 log10(tau |x_mix|^2 / (|s|^2 + tau |x_mix|^2))`` (about -30 dB
        for tau = 1e-3 when the target is as loud as the mixture).
    """
    floor = tau * mixture.pow(2).sum(-1) + 1e-8
    error = (estimate - target).pow(2).sum(-1)
    energy = target.pow(2).sum(-1)
    return (10 * torch.log10(error + floor) - 10 * torch.log10(energy + floor)).mean()


def l1_snr_loss(
    estimate: torch.Tensor, target: torch.Tensor, mixture: torch.Tensor, tau: float
) -> torch.Tensor:
    """Mean over the batch of ``10 log10((|e|_1 + tau |x_mix|_1) / (|s|_1 + tau |x_mix|_1))``.

    Args:
        estimate, target, mixture: ``(B, 1, L)``; ``e = estimate - target``.
        tau: soft threshold relative to the mixture's L1 norm.

    Returns:
        A scalar in dB: 0 for a silent estimate of a silent target, negative when the
        estimate is closer to the target than silence is.
    """
    floor = tau * mixture.abs().sum(-1) + 1e-8
    error = (estimate - target).abs().sum(-1)
    energy = target.abs().sum(-1)
    return (10 * torch.log10(error + floor) - 10 * torch.log10(energy + floor)).mean()


def stft(x: torch.Tensor, n_fft: int) -> torch.Tensor:
    """``(B, 1, L)`` -> complex ``(B, n_fft / 2 + 1, frames)``: Hann window, hop n_fft / 4,
    centred frames (reflect padding, or zero padding when L is too short to reflect),
    scaled by ``n_fft^-1/2``."""
    signal = x.reshape(-1, x.shape[-1]).float()
    window = torch.hann_window(n_fft, device=signal.device, dtype=signal.dtype)
    pad_mode = "reflect" if signal.shape[-1] > n_fft // 2 else "constant"
    return torch.stft(
        signal, n_fft, hop_length=n_fft // STFT_HOP_DIVISOR, window=window, center=True,
        pad_mode=pad_mode, normalized=True, return_complex=True,
    )


def multi_resolution_stft_loss(
    estimate: torch.Tensor,
    target: torch.Tensor,
    fft_sizes: Sequence[int] = DEFAULT_STFT_SIZES,
    magnitude_weight: float = 1.0,
    complex_weight: float = 0.0,
) -> torch.Tensor:
    """``w_mag`` x mean magnitude L1 + ``w_cplx`` x mean complex L1, averaged over the FFT
    sizes (module doc). ``estimate, target (B, 1, L)`` -> a float32 scalar."""
    total = estimate.new_zeros((), dtype=torch.float32)
    for n_fft in fft_sizes:
        spec_estimate, spec_target = stft(estimate, n_fft), stft(target, n_fft)
        if magnitude_weight:
            total = total + magnitude_weight * (spec_estimate.abs() - spec_target.abs()).abs().mean()
        if complex_weight:
            difference = torch.view_as_real(spec_estimate - spec_target)
            total = total + complex_weight * difference.abs().sum(-1).mean()
    return total / len(fft_sizes)


def l1_stft_loss(
    estimate: torch.Tensor,
    target: torch.Tensor,
    mixture: torch.Tensor,
    fft_sizes: Sequence[int] = DEFAULT_STFT_SIZES,
    magnitude_weight: float = 1.0,
    complex_weight: float = 0.0,
    snr_weight: float = 0.0,
    tau: float = 1e-3,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The ``l1_stft`` loss of the module doc and its detached parts.

    Args:
        estimate, target, mixture: ``(B, 1, L)``.
        fft_sizes: the STFT resolutions.
        magnitude_weight, complex_weight, snr_weight: ``w_mag``, ``w_cplx``, ``w_snr``.
        tau: the L1-SNR floor, relative to the mixture's L1 norm.

    Returns:
        ``(loss, parts)``: a float32 scalar and ``loss_l1``, ``loss_stft`` (and
        ``loss_l1snr`` when ``snr_weight`` is not 0).
    """
    estimate, target = estimate.float(), target.float()
    waveform = (estimate - target).abs().mean()
    spectral = multi_resolution_stft_loss(estimate, target, fft_sizes, magnitude_weight, complex_weight)
    loss = waveform + spectral
    parts = {"loss_l1": waveform.detach(), "loss_stft": spectral.detach()}
    if snr_weight:
        snr = l1_snr_loss(estimate, target, mixture.float(), tau)
        loss = loss + snr_weight * snr
        parts["loss_l1snr"] = snr.detach()
    return loss, parts
