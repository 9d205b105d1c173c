"""Architecture of the band-split extractor (:mod:`core.nn.bandsplit`), as frozen data.

A band-split extractor replaces the waveform U-Net of the first stage only; the
refiners (diffusion teacher, consistency student) stay waveform U-Nets, described by
the nested :attr:`BandSplitConfig.refiner`. That U-Net has ``condition_channels = 1``:
the extractor's estimate ``x_det`` enters it as a second input channel next to the noisy
stem (see :mod:`core.nn.conditioning`). The named configurations live in
:data:`BANDSPLIT_CONFIGS`:

- ``bandsplit-lite``: the challenger of ``lite`` (similar inference cost on a CPU).
- ``bandsplit-tiny``: for tests and first tries (milliseconds per pass).

This module does not import torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from core.errors import ConfigError
from core.nn.config import CONFIGS, UNetConfig

KIND = "bandsplit"
"""The ``kind`` key of a band-split configuration's dict (U-Net dicts have none)."""


@dataclass(frozen=True)
class BandSplitConfig:
    """Hyper-parameters of one band-split extractor.

    Attributes:
        n_fft: STFT size (periodic Hann window of the same length); ``n_fft / 2 + 1`` bins.
        hop_length: STFT hop in samples.
        band_widths: bins per sub-band, low to high; they sum to ``n_fft / 2 + 1``.
        features: D, width of every band's feature vector.
        layers: number of (time block, band block) pairs.
        time_kernel: kernel of the depthwise convolution over frames in a time block
            (dilation doubles with each layer: 1, 2, 4, ...).
        band_heads: attention heads of a band block (D must be a multiple).
        ff_multiplier: hidden width of each block's feed-forward, as a multiple of D.
        cond_features: width of the label embedding fed to every FiLM.
        num_labels: size of the label one-hot (the instruments).
        refiner: the U-Net of the diffusion teacher and the consistency student
            (``condition_channels`` must be 1: x_det is its conditioning input).
        segment_samples: default segment length L (a multiple of :attr:`hop`).
    """

    n_fft: int
    hop_length: int
    band_widths: tuple[int, ...]
    features: int
    layers: int
    refiner: UNetConfig
    time_kernel: int = 5
    band_heads: int = 4
    ff_multiplier: int = 2
    cond_features: int = 64
    num_labels: int = 4
    segment_samples: int = 131072

    def __post_init__(self) -> None:
        object.__setattr__(self, "band_widths", tuple(int(w) for w in self.band_widths))
        if isinstance(self.refiner, dict):
            object.__setattr__(self, "refiner", UNetConfig.from_dict(self.refiner))
        problems = []
        if self.n_fft < 16 or self.n_fft & (self.n_fft - 1):
            problems.append(f"n_fft must be a power of two >= 16, got {self.n_fft}")
        if not 0 < self.hop_length <= self.n_fft:
            problems.append(f"hop_length must be in 1..n_fft, got {self.hop_length}")
        if any(w < 1 for w in self.band_widths) or sum(self.band_widths) != self.bins:
            problems.append(
                f"band_widths must be positive and sum to n_fft / 2 + 1 = {self.bins}, "
                f"got {sum(self.band_widths)}"
            )
        if self.features < 1 or self.layers < 1 or self.time_kernel < 1:
            problems.append("features, layers and time_kernel must be >= 1")
        if self.band_heads < 1 or self.features % self.band_heads:
            problems.append(f"features ({self.features}) must be a multiple of band_heads ({self.band_heads})")
        if self.refiner.condition_channels != 1:
            problems.append("the refiner U-Net needs condition_channels = 1 (it takes x_det as an input)")
        if self.refiner.num_labels != self.num_labels:
            problems.append("the refiner and the extractor need the same num_labels")
        if self.segment_samples <= 0 or self.segment_samples % self.hop:
            problems.append(
                f"segment_samples ({self.segment_samples}) must be a positive multiple of {self.hop} "
                "(the STFT hop and the refiner's hop)"
            )
        if problems:
            raise ConfigError("invalid band-split configuration: " + "; ".join(problems))

    @property
    def bins(self) -> int:
        """Frequency bins of the STFT: ``n_fft / 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def num_bands(self) -> int:
        """K, the number of sub-bands."""
        return len(self.band_widths)

    @property
    def hop(self) -> int:
        """Inputs are a multiple of this: lcm(STFT hop, the refiner's hop)."""
        return math.lcm(self.hop_length, self.refiner.hop)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict, with ``"kind": "bandsplit"`` and the refiner nested."""
        data = asdict(self)
        data["band_widths"] = list(self.band_widths)
        data["refiner"] = self.refiner.to_dict()
        return {"kind": KIND, **data}

    @classmethod
    def from_dict(cls, data: dict) -> BandSplitConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        data = {key: value for key, value in data.items() if key != "kind"}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown band-split configuration keys: {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as error:
            raise ConfigError(f"invalid band-split configuration: {error}") from None


def _widths(*groups: tuple[int, int], last: int) -> tuple[int, ...]:
    """``(width, count)`` groups, low to high, then one last band of ``last`` bins."""
    return tuple(w for width, count in groups for w in [width] * count) + (last,)


BANDSPLIT_CONFIGS: dict[str, BandSplitConfig] = {
    # 2048-point STFT (93 ms), hop 512 (23 ms): 1025 bins in 38 bands, finest (8 bins =
    # 86 Hz) below 1.4 kHz; D = 32, 2 (time, band) pairs, one attention head (8 heads of
    # 4 features made the band attention's batched matmuls the slowest part on a CPU).
    # 346 k parameters. Inference, batch 8 x 131072 samples, 1 thread on the shared
    # 2-core machine: 26-33 ms per second of audio against lite's 17-27 in the same
    # runs (1.2-1.8x lite; 3 pairs measured 1.6x the cost of 2). The refiner is lite's
    # U-Net with x_det as a second input channel.
    "bandsplit-lite": BandSplitConfig(
        n_fft=2048,
        hop_length=512,
        band_widths=_widths((8, 16), (16, 8), (32, 8), (64, 4), (128, 1), last=129),
        features=32,
        layers=2,
        time_kernel=5,
        band_heads=1,
        ff_multiplier=2,
        cond_features=64,
        refiner=replace(CONFIGS["lite"], condition_channels=1),
        segment_samples=131072,
    ),
    # For tests: 256-point STFT, 9 bands, D = 16, one pair; tiny's U-Net as the refiner.
    "bandsplit-tiny": BandSplitConfig(
        n_fft=256,
        hop_length=64,
        band_widths=_widths((8, 4), (16, 4), last=33),
        features=16,
        layers=1,
        time_kernel=3,
        band_heads=2,
        ff_multiplier=2,
        cond_features=16,
        refiner=replace(CONFIGS["tiny"], condition_channels=1),
        segment_samples=4096,
    ),
}
