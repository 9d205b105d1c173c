"""The EMA of the weights."""

from __future__ import annotations

import torch
from torch import nn

from core.training.ema import EMA


def test_ema_follows_the_weights_with_the_configured_decay():
    network = nn.Linear(2, 1)
    ema = EMA(network, decay=0.9)
    start = network.weight.detach().clone()
    with torch.no_grad():
        network.weight.add_(1.0)
    ema.update(network)
    torch.testing.assert_close(ema.module.weight, start + 0.1)
    assert not ema.module.weight.requires_grad


def test_warmup_decay_starts_low_and_reaches_the_target():
    ema = EMA(nn.Linear(1, 1), decay=0.999, warmup=True)
    assert ema.current_decay() == 0.1  # (1 + 0) / (10 + 0)
    ema.updates = 100_000
    assert ema.current_decay() == 0.999


def test_state_round_trip():
    network = nn.Linear(2, 2)
    ema = EMA(network, 0.99)
    ema.update(network)
    restored = EMA(nn.Linear(2, 2), 0.99)
    restored.load_state_dict(ema.state_dict())
    assert restored.updates == 1
    assert torch.equal(restored.module.weight, ema.module.weight)
