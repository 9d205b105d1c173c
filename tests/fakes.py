"""Tiny deterministic stand-ins for the engine's models, for fast tests."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from core.instruments import INSTRUMENTS, MODEL_SAMPLE_RATE
from core.model import Preset
from core.progress import CancelToken

TEST_PRESETS = {
    "draft": Preset("draft", 0, 0.0),
    "fast": Preset("fast", 1, 0.01),
    "balanced": Preset("balanced", 2, 0.05),
    "best": Preset("best", 4, 0.05),
}


class FilterBankModel:
    """A "separator" that splits a mixture with fixed moving-average filters.

    bass = long moving average (low-pass), drums = mixture minus a short average
    (high-pass), guitar and piano = band-passes; refinement steps add
    ``sigma_max * z`` from the generator so seeds matter. ``(N, L) -> (N, S, L)``.
    """

    def __init__(self, segment_samples: int = 4096, sample_rate: int = MODEL_SAMPLE_RATE,
                 identity: bool = False):
        self.model_id = "filterbank-test"
        self.sha256 = "0" * 64
        self.sample_rate = sample_rate
        self.segment_samples = segment_samples
        self.instruments = INSTRUMENTS
        self.presets = dict(TEST_PRESETS)
        self.device = torch.device("cpu")
        self.max_batch = 64
        self.identity = identity
        self.calls = 0

    @staticmethod
    def _smooth(x: torch.Tensor, width: int) -> torch.Tensor:
        kernel = torch.full((1, 1, width), 1.0 / width, dtype=x.dtype)
        return torch.nn.functional.conv1d(x[:, None], kernel, padding="same")[:, 0]

    def separate(self, mixture: torch.Tensor, instruments: Sequence[str], preset: Preset,
                 generator: torch.Generator, cancel: CancelToken) -> torch.Tensor:
        self.calls += 1
        outputs = []
        for name in instruments:
            cancel.check()
            if self.identity:
                stem = mixture.clone()
            elif name == "bass":
                stem = self._smooth(mixture, 31)
            elif name == "drums":
                stem = mixture - self._smooth(mixture, 3)
            elif name == "guitar":
                stem = self._smooth(mixture, 3) - self._smooth(mixture, 9)
            else:
                stem = self._smooth(mixture, 9) - self._smooth(mixture, 31)
            for _ in range(preset.steps):
                cancel.check()
                stem = stem + preset.sigma_max * torch.randn(stem.shape, generator=generator)
            outputs.append(stem)
        return torch.stack(outputs, dim=1)

    def to(self, device):
        self.device = torch.device(device)
        return self


class ThreadCountingModel(FilterBankModel):
    """FilterBankModel that records torch's CPU thread count in the thread running each call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.thread_counts: set[int] = set()

    def separate(self, mixture: torch.Tensor, instruments: Sequence[str], preset: Preset,
                 generator: torch.Generator, cancel: CancelToken) -> torch.Tensor:
        self.thread_counts.add(torch.get_num_threads())
        return super().separate(mixture, instruments, preset, generator, cancel)
