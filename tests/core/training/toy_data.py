"""A tiny in-memory stand-in for the crop dataset: item i is a function of (seed, i).

Four synthetic "instruments" with distinct spectra (a low sine, noise bursts, a mid
sine, a high sine), summed into the mixture; the label picks one of them. Learnable by
a tiny U-Net in a few steps, and cheap: no files, no decoding.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset

SAMPLE_RATE = 22050


class ToyStems(Dataset):
    """``(mixture (L,), target (L,), label)`` float32 crops, deterministic in (seed, i)."""

    def __init__(self, segment_samples: int, seed: int = 0, length: int = 1 << 30) -> None:
        self.segment_samples = segment_samples
        self.seed = seed
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        t = torch.arange(self.segment_samples, dtype=torch.float64) / SAMPLE_RATE
        rand = lambda: float(torch.rand(1, generator=generator, dtype=torch.float64))  # noqa: E731
        stems = [
            0.3 * torch.sin(2 * math.pi * (60 + 60 * rand()) * t + 6.3 * rand()),
            0.2 * torch.randn(self.segment_samples, generator=generator, dtype=torch.float64)
            * (torch.sin(2 * math.pi * 8 * t + 6.3 * rand()) > 0.5),
            0.2 * torch.sin(2 * math.pi * (400 + 200 * rand()) * t + 6.3 * rand()),
            0.2 * torch.sin(2 * math.pi * (2000 + 1000 * rand()) * t + 6.3 * rand()),
        ]
        label = int(torch.randint(0, 4, (1,), generator=generator))
        mixture = sum(stems)
        return mixture.float(), stems[label].float(), label
