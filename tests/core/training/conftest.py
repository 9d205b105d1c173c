"""Fixtures of the training tests: tiny configurations and synthetic data."""

from __future__ import annotations

import pytest
import torch
from toy_data import ToyStems  # noqa: E402  (tests/core/training is on sys.path)

from core.training.batches import Batch, collate
from core.training.config import ExtractorConfig
from core.training.resolved import resolve


@pytest.fixture(autouse=True)
def one_thread(single_thread):
    """Every training test runs on one torch thread (``single_thread``, tests/conftest.py)."""
    yield


@pytest.fixture
def tiny_resolved():
    """A resolved ``tiny`` extractor configuration with 256-sample crops, batch 4."""
    config = ExtractorConfig(data="unused", net="tiny", segment_seconds=256 / 22050, batch=4, steps=4)
    return resolve(config)


@pytest.fixture
def toy_batch():
    """A fixed batch of 4 toy crops of 256 samples on the CPU."""
    dataset = ToyStems(256)
    return Batch.from_items(collate([dataset[i] for i in range(4)]), torch.device("cpu"))
