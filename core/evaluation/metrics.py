"""Scale-invariant signal-to-distortion ratio and the silence test of the paper's protocol.

SI-SDR (Le Roux et al. 2019), for an estimate ``s_hat`` of a reference ``s``::

    alpha  = (<s_hat, s> + eps) / (|s|^2 + eps)
    SI-SDR = 10 log10( (|alpha s|^2 + eps) / (|alpha s - s_hat|^2 + eps) )

``eps`` regularises the two degenerate cases, with the same convention as the
torchmetrics implementation the paper's authors evaluated with (``eps`` = the machine
epsilon of float32): a perfect estimate gives a large finite value instead of
``+inf``, and a silent reference gives a finite (very negative) value instead of
NaN. Both matter for the paper's convention, which scores silent references too.
Every computation runs in float64 whatever the input dtype.

SI-SDRi = SI-SDR(estimate, s) - SI-SDR(mixture, s): the improvement over doing
nothing, so the mixture itself scores exactly 0 dB.
"""

from __future__ import annotations

import torch

EPS = float(torch.finfo(torch.float32).eps)
"""Regulariser of :func:`si_sdr` (1.19e-7, float32 machine epsilon)."""

SILENCE_THRESHOLD = 1.5e-5
"""core/METHOD.md section 6: a reference is silent when ``L2 norm / n < 1.5e-5``."""


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """SI-SDR in dB over the last axis.

    Args:
        estimate: ``(..., n)`` estimated signal.
        reference: ``(..., n)`` true signal (broadcastable with ``estimate``).
        eps: regulariser of the projection and of the ratio (see the module docstring).

    Returns:
        ``(...)`` float64 SI-SDR values, always finite for finite inputs.
    """
    estimate = estimate.to(torch.float64)
    reference = reference.to(torch.float64)
    alpha = ((estimate * reference).sum(-1, keepdim=True) + eps) / (
        (reference**2).sum(-1, keepdim=True) + eps
    )
    target = alpha * reference
    distortion = target - estimate
    return 10.0 * torch.log10(((target**2).sum(-1) + eps) / ((distortion**2).sum(-1) + eps))


def si_sdr_improvement(
    estimate: torch.Tensor, mixture: torch.Tensor, reference: torch.Tensor, eps: float = EPS
) -> torch.Tensor:
    """SI-SDRi = SI-SDR(estimate, reference) - SI-SDR(mixture, reference), in dB.

    Args:
        estimate: ``(..., n)`` estimate of ``reference``.
        mixture: ``(..., n)`` the mixture the estimate was extracted from (broadcastable).
        reference: ``(..., n)`` true signal.

    Returns:
        ``(...)`` float64; exactly 0 where ``estimate`` equals ``mixture``.
    """
    return si_sdr(estimate, reference, eps) - si_sdr(mixture, reference, eps)


def is_silent(signal: torch.Tensor, threshold: float = SILENCE_THRESHOLD) -> torch.Tensor:
    """Whether each signal is silent by the paper's rule ``||x||_2 / n < threshold``.

    Note the rule divides the L2 norm (not the RMS, which would be ``||x||_2 / sqrt(n)``)
    by the number of samples ``n``, exactly as core/METHOD.md section 6 states it. For a 4 s
    window at 22 050 Hz (n = 88 200) it marks as silent anything whose RMS is below
    ``1.5e-5 * sqrt(n)``, about 4.5e-3 (-47 dBFS): a quiet but audible part counts as silent.

    Args:
        signal: ``(..., n)``.

    Returns:
        ``(...)`` bool.
    """
    n = signal.shape[-1]
    return torch.linalg.vector_norm(signal.to(torch.float64), dim=-1) / n < threshold
