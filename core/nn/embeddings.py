"""Embeddings that build the U-Net's conditioning vector (core/METHOD.md section 2).

The conditioning vector is ``MLP(GELU(Linear(one_hot(label))) + Fourier(c_noise))``
(the Fourier term only in the refiners); these modules are its two inputs.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FourierEmbedding(nn.Module):
    """Random Fourier features of a scalar noise level (Tancik et al. 2020; EDM's NCSN++).

    ``e(c) = [cos(2 pi w_k c), sin(2 pi w_k c)]_k`` with fixed frequencies
    ``w_k ~ N(0, scale^2)``, k = 1 .. features/2. The frequencies are drawn from a fixed
    seed, so two builds of the same configuration are identical, and are stored with the
    weights (a persistent buffer).

    Shapes: ``c_noise (batch,)`` -> ``(batch, features)``.
    """

    def __init__(self, features: int, scale: float = 16.0, seed: int = 0) -> None:
        super().__init__()
        if features % 2:
            raise ValueError(f"Fourier embedding width must be even, got {features}")
        generator = torch.Generator().manual_seed(seed)
        # drawn on the CPU (where the generator lives) even inside a ``torch.device`` context
        frequencies = torch.randn(features // 2, generator=generator, device="cpu") * scale
        self.register_buffer("frequencies", frequencies)

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        phase = 2 * math.pi * c_noise.to(self.frequencies.dtype)[:, None] * self.frequencies[None, :]
        return torch.cat([phase.cos(), phase.sin()], dim=1)


class LabelEmbedding(nn.Module):
    """Instrument label -> ``GELU(Linear(one_hot(label)))``.

    Shapes: ``labels (batch,)`` integer indices into core.instruments.INSTRUMENTS ->
    ``(batch, features)``.
    """

    def __init__(self, num_labels: int, features: int) -> None:
        super().__init__()
        self.num_labels = num_labels
        self.linear = nn.Linear(num_labels, features)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        one_hot = nn.functional.one_hot(labels.long(), self.num_labels)
        return nn.functional.gelu(self.linear(one_hot.to(self.linear.weight.dtype)))
