"""Exponential moving average of a network's weights.

After every optimiser step t (counting from 0):

    theta_ema <- d_t * theta_ema + (1 - d_t) * theta,
    d_t = decay                                  (constant), or
    d_t = min(decay, (1 + t) / (10 + t))         (with warm-up).

The EMA weights are what a run exports; in consistency distillation they are also the
target network f_EMA (core/METHOD.md section 5). Buffers (e.g. the Fourier frequencies) are
copied, not averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """A frozen copy of ``network`` that follows its weights.

    Args:
        network: the trained module (not wrapped in DistributedDataParallel).
        decay: the EMA decay.
        warmup: use the warm-up schedule above.
    """

    def __init__(self, network: nn.Module, decay: float, warmup: bool = False) -> None:
        self.decay = decay
        self.warmup = warmup
        self.updates = 0
        self.module = copy.deepcopy(network).eval()
        self.module.requires_grad_(False)

    def current_decay(self) -> float:
        """d_t for the next update."""
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, network: nn.Module) -> None:
        """Move the average towards ``network``'s current weights."""
        decay = self.current_decay()
        for average, weight in zip(self.module.parameters(), network.parameters(), strict=True):
            average.lerp_(weight.detach(), 1 - decay)
        for average, buffer in zip(self.module.buffers(), network.buffers(), strict=True):
            average.copy_(buffer)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
