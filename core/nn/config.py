"""Architecture of the 1D waveform U-Net (core/METHOD.md section 2), as frozen data.

One :class:`UNetConfig` describes the extractor, the diffusion teacher and the
consistency student alike (they share the architecture so that the extractor's
stage activations can be added into the refiners). The named configurations live
in one table, :data:`CONFIGS`:

- ``paper``: the published size (C = 256, p = 16, about 405 M parameters).
- ``lite``: the shipped CPU model (narrow, same depth and factors as the paper).
- ``tiny``: for tests (milliseconds per pass).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from core.errors import ConfigError


@dataclass(frozen=True)
class UNetConfig:
    """Hyper-parameters of one U-Net.

    Attributes:
        channels: C, channel count after the patcher (level 0).
        patch: p, samples folded into channels by the patcher (C must be a multiple of p).
        multipliers: channel multiplier per level; ``len(factors) + 1`` entries. Level 0
            (the patcher's output) has ``C * multipliers[0]`` channels, encoder level i
            has ``C * multipliers[i + 1]``.
        factors: down-sampling factor of each encoder level (kernel 2f+1, stride f).
        blocks_per_level: residual blocks per encoder level (the decoder mirrors it).
        attention_levels: how many of the lowest (deepest) levels get a self-attention block,
            in the encoder and the decoder.
        bottleneck_attention: residual - attention - residual in the bottleneck (else two
            residual blocks).
        attention_heads: heads of every attention block.
        attention_head_features: features per head (the attention's inner width is
            heads x head_features).
        attention_ff_multiplier: hidden width of the feed-forward that follows each
            attention, as a multiple of the channels (0: no feed-forward).
        groups: GroupNorm groups (lowered to a divisor for narrow layers).
        cond_features: width of the conditioning vector fed to every FiLM.
        num_labels: size of the label one-hot (the instruments).
        fourier_scale: standard deviation of the random frequencies of the noise-level
            Fourier embedding (refiners only).
        segment_samples: default segment length L for training and inference (a multiple
            of :attr:`hop`; a bundle records the one it was trained with).
        condition_channels: extra input channels concatenated to the input waveform (a
            refiner of a band-split extractor takes x_det this way; 0 for every U-Net
            paired with a U-Net extractor, which gets the stage activations instead).
    """

    channels: int
    patch: int
    multipliers: tuple[int, ...]
    factors: tuple[int, ...]
    blocks_per_level: int = 2
    attention_levels: int = 3
    bottleneck_attention: bool = True
    attention_heads: int = 8
    attention_head_features: int = 128
    attention_ff_multiplier: int = 2
    groups: int = 8
    cond_features: int = 1024
    num_labels: int = 4
    fourier_scale: float = 16.0
    segment_samples: int = 262144
    condition_channels: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "multipliers", tuple(int(m) for m in self.multipliers))
        object.__setattr__(self, "factors", tuple(int(f) for f in self.factors))
        problems = []
        if self.channels % self.patch:
            problems.append(f"channels ({self.channels}) must be a multiple of patch ({self.patch})")
        if len(self.multipliers) != len(self.factors) + 1:
            problems.append(
                f"multipliers needs len(factors) + 1 = {len(self.factors) + 1} entries, "
                f"got {len(self.multipliers)}"
            )
        if any(f < 1 for f in self.factors) or not self.factors:
            problems.append(f"factors must be a non-empty list of integers >= 1, got {self.factors}")
        if not 0 <= self.attention_levels <= len(self.factors):
            problems.append(
                f"attention_levels must be between 0 and {len(self.factors)}, got {self.attention_levels}"
            )
        if self.segment_samples <= 0 or self.segment_samples % self.hop:
            problems.append(
                f"segment_samples ({self.segment_samples}) must be a positive multiple of "
                f"the hop p * prod(factors) = {self.hop}"
            )
        if self.condition_channels < 0:
            problems.append("condition_channels must be >= 0")
        if self.blocks_per_level < 1:
            problems.append("blocks_per_level must be >= 1")
        if problems:
            raise ConfigError("invalid U-Net configuration: " + "; ".join(problems))

    @property
    def depth(self) -> int:
        """Number of encoder (and decoder) levels."""
        return len(self.factors)

    @property
    def hop(self) -> int:
        """Samples per step of the deepest level: p * prod(factors). Inputs are a multiple of it."""
        return self.patch * math.prod(self.factors)

    @property
    def num_stages(self) -> int:
        """Number of stage activations: 2 * depth + 3 (15 for the paper's 6 levels).

        See :func:`stage_shapes` for the list.
        """
        return 2 * self.depth + 3

    def level_channels(self, level: int) -> int:
        """Channels of level ``level`` (0 = patcher output, i + 1 = encoder level i)."""
        return self.channels * self.multipliers[level]

    def has_attention(self, level: int) -> bool:
        """Whether encoder/decoder level ``level`` (0-based, 0 = shallowest) has attention."""
        return level >= self.depth - self.attention_levels

    def stage_shapes(self, samples: int) -> list[tuple[int, int]]:
        """(channels, length) of every stage activation for an input of ``samples`` samples.

        The stages, in order (n = depth):
            0            patcher output                  (C * m[0], L / p)
            1 .. n       encoder level i = 0 .. n-1      (C * m[i+1], L / (p * f0 ... fi))
            n + 1        bottleneck output               (C * m[n], L / hop)
            n + 2 .. 2n+1  decoder level i = n-1 .. 0    (C * m[i], L / (p * f0 ... f(i-1)))
            2n + 2       unpatcher output (the waveform) (1, L)
        """
        if samples % self.hop:
            raise ConfigError(f"input length {samples} is not a multiple of the hop {self.hop}")
        lengths = [samples // self.patch]
        for factor in self.factors:
            lengths.append(lengths[-1] // factor)
        encoder = [(self.level_channels(i), lengths[i]) for i in range(self.depth + 1)]
        bottleneck = [encoder[-1]]
        decoder = [encoder[i] for i in range(self.depth - 1, -1, -1)]
        return encoder + bottleneck + decoder + [(1, samples)]

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (lists instead of tuples)."""
        data = asdict(self)
        data["multipliers"] = list(self.multipliers)
        data["factors"] = list(self.factors)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> UNetConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown U-Net configuration keys: {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as error:
            raise ConfigError(f"invalid U-Net configuration: {error}") from None


CONFIGS: dict[str, UNetConfig] = {
    # The published model: C=256, p=16, 7 multipliers, 6 factors, attention 8x128 with a
    # 2x feed-forward on the 3 deepest levels and the bottleneck (about 405 M parameters).
    "paper": UNetConfig(
        channels=256,
        patch=16,
        multipliers=(1, 2, 4, 4, 4, 4, 4),
        factors=(4, 4, 4, 2, 2, 2),
        blocks_per_level=2,
        attention_levels=3,
        attention_heads=8,
        attention_head_features=128,
        attention_ff_multiplier=2,
        groups=8,
        cond_features=1024,
        segment_samples=262144,
    ),
    # The shipped CPU model: the paper's depth, factors, multipliers and patch at 1/8 of
    # its width: 6.2 M parameters per network (extractor + student = 24.8 MB in fp16).
    # One pass over a batch of 8 x 131072 samples (2 threads, inference_mode, on the
    # 2-core build machine) took 5.5-7 ms per second of audio, i.e. 55-70 ms per 10 s,
    # against a budget of about 90 ms for the best preset to stay under 0.75x HTDemucs.
    "lite": UNetConfig(
        channels=32,
        patch=16,
        multipliers=(1, 2, 4, 4, 4, 4, 4),
        factors=(4, 4, 4, 2, 2, 2),
        blocks_per_level=2,
        attention_levels=3,
        attention_heads=4,
        attention_head_features=32,
        attention_ff_multiplier=2,
        groups=8,
        cond_features=96,
        segment_samples=131072,
    ),
    # For tests and first tries: two levels, a handful of channels, and short sequences:
    # patch 8 and two factor-4 levels put the attention on L / 128 positions (517 for a
    # 3 s training crop; the earlier patch 4 with factors 2, 2 gave about 4,100 and took
    # tens of seconds per training step on 2 cores).
    "tiny": UNetConfig(
        channels=16,
        patch=8,
        multipliers=(1, 2, 2),
        factors=(4, 4),
        blocks_per_level=1,
        attention_levels=1,
        attention_heads=2,
        attention_head_features=8,
        attention_ff_multiplier=2,
        groups=4,
        cond_features=32,
        segment_samples=4096,
    ),
}


def get_config(name: str) -> UNetConfig:
    """The named configuration (raises :class:`ConfigError` for unknown names)."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(
            f"unknown model configuration {name!r}; choose from {', '.join(CONFIGS)}"
        ) from None
