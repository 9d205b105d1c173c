"""Small hand-made chunks for the evaluation tests."""

import math

import torch

from core.evaluation.protocol import Chunk, ProtocolSettings

SECOND = 22050
SMALL = ProtocolSettings(window_seconds=0.4, hop_seconds=0.2)
"""Windows of 0.4 s every 0.2 s: a 13 300-sample chunk holds two (keeps tiny models fast)."""


def small_chunk(seed: int = 0, length: int = 13300) -> Chunk:
    """Four tones with a little noise, every stem sounding: ``mixture (length,)``, ``stems (4, length)``."""
    t = torch.arange(length) / SECOND
    rng = torch.Generator().manual_seed(seed)
    stems = torch.stack([0.2 * torch.sin(2 * math.pi * f * t) + 0.01 * torch.randn(length, generator=rng)
                         for f in (60.0, 5000.0, 900.0, 300.0)])
    return Chunk(stems.sum(0), stems, "Track00001", seed)
