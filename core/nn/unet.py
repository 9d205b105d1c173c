"""The 1D waveform U-Net shared by the extractor, the teacher and the student.

core/METHOD.md section 2. For a configuration with n down-sampling factors:

    x (B, 1, L)  [+ mixture, refiners]
    patcher: ResBlock 1 -> C/p at full rate, fold p samples       -> stage 0
    encoder level i = 0..n-1: Downsample(f_i, kernel 2f+1), blocks,
        [attention]; a skip after every block and the attention   -> stage 1 + i
    bottleneck: ResBlock, attention, ResBlock                      -> stage n + 1
    decoder level i = n-1..0: one ResBlock per skip of encoder level i, each on
        concat(h, 2^-1/2 skip), [attention], transposed-conv Upsample(f_i)
                                                                   -> stage 2n + 1 - i
    + stage 0 (the patcher output), unpatcher: unfold, ResBlock C/p -> 1 -> stage 2n + 2

so a network has 2n + 3 stage activations: 15 for the paper's 6 levels (1 patcher + 6
encoder + 1 bottleneck + 6 decoder + 1 output waveform), 7 for the 2-level ``tiny``.
:meth:`UNetConfig.stage_shapes` lists their shapes. The extractor returns them
(``return_features=True``); a refiner adds them element-wise at the same stages
(``features=...``), each right after the stage is computed and before it is used
further (the encoder skips and the patcher add-back see the sum).

Conditioning: ``cond = MLP(GELU(Linear(one_hot(label))) [+ Fourier(c_noise)])`` with
MLP = Linear-GELU-Linear-GELU, fed to every residual block's FiLM.

The skip layout (a skip per residual block and per attention block, hence one more
decoder block on attention levels) and the even-kernel transposed convolution follow
the authors' U-Net; with them the ``paper`` configuration has 409.5 M parameters (the
paper reports about 405 M).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from core.nn.blocks import (
    SKIP_SCALE,
    AttentionBlock,
    Downsample,
    Patcher,
    ResBlock,
    Unpatcher,
    Upsample,
)
from core.nn.config import UNetConfig
from core.nn.embeddings import FourierEmbedding, LabelEmbedding


class _EncoderLevel(nn.Module):
    """Downsample (C_in -> C_out, factor f), ``blocks`` ResBlocks, optional attention.

    Returns the level output and its skips: the output of every residual block and of
    the attention block (``blocks`` or ``blocks + 1`` tensors; the last one is the output).
    """

    def __init__(self, config: UNetConfig, level: int) -> None:
        super().__init__()
        c_in, c_out = config.level_channels(level), config.level_channels(level + 1)
        self.downsample = Downsample(c_in, c_out, config.factors[level])
        self.blocks = nn.ModuleList(
            ResBlock(c_out, c_out, config.cond_features, config.groups)
            for _ in range(config.blocks_per_level)
        )
        self.attention = _attention(config, c_out) if config.has_attention(level) else None

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.downsample(x)
        skips = []
        for block in self.blocks:
            x = block(x, cond)
            skips.append(x)
        if self.attention is not None:
            x = self.attention(x)
            skips.append(x)
        return x, skips


class _DecoderLevel(nn.Module):
    """One ResBlock per skip of the mirrored encoder level, each on ``concat(h, 2^-1/2 skip)``
    (2 C_out -> C_out), the optional attention, then the transposed-conv upsample
    (C_out -> C_in, factor f)."""

    def __init__(self, config: UNetConfig, level: int) -> None:
        super().__init__()
        c_in, c_out = config.level_channels(level), config.level_channels(level + 1)
        num_skips = config.blocks_per_level + (1 if config.has_attention(level) else 0)
        self.blocks = nn.ModuleList(
            ResBlock(2 * c_out, c_out, config.cond_features, config.groups)
            for _ in range(num_skips)
        )
        self.attention = _attention(config, c_out) if config.has_attention(level) else None
        self.upsample = Upsample(c_out, c_in, config.factors[level])

    def forward(
        self, x: torch.Tensor, skips: list[torch.Tensor], cond: torch.Tensor
    ) -> torch.Tensor:
        for block in self.blocks:
            x = block(torch.cat([x, skips.pop() * SKIP_SCALE], dim=1), cond)
        if self.attention is not None:
            x = self.attention(x)
        return self.upsample(x)


class _Bottleneck(nn.Module):
    """ResBlock, attention (if configured), ResBlock at the deepest level."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        channels = config.level_channels(config.depth)
        self.block1 = ResBlock(channels, channels, config.cond_features, config.groups)
        self.attention = _attention(config, channels) if config.bottleneck_attention else None
        self.block2 = ResBlock(channels, channels, config.cond_features, config.groups)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = self.block1(x, cond)
        if self.attention is not None:
            x = self.attention(x)
        return self.block2(x, cond)


def _attention(config: UNetConfig, channels: int) -> AttentionBlock:
    return AttentionBlock(
        channels,
        config.attention_heads,
        config.attention_head_features,
        config.attention_ff_multiplier,
        config.groups,
    )


class UNet(nn.Module):
    """Waveform U-Net: ``(B, 1, L)`` mono in, ``(B, 1, L)`` out, L a multiple of ``config.hop``.

    Args:
        config: the architecture.
        noise_conditioned: True for the refiners (teacher, student): adds the Fourier
            embedding of ``c_noise`` to the conditioning vector. False for the extractor.
    """

    def __init__(self, config: UNetConfig, noise_conditioned: bool = False) -> None:
        super().__init__()
        self.config = config
        self.noise_conditioned = noise_conditioned
        e = config.cond_features
        self.label_embedding = LabelEmbedding(config.num_labels, e)
        self.noise_embedding = (
            FourierEmbedding(e, config.fourier_scale) if noise_conditioned else None
        )
        self.cond_mlp = nn.Sequential(nn.Linear(e, e), nn.GELU(), nn.Linear(e, e), nn.GELU())
        self.patcher = Patcher(
            1 + config.condition_channels, config.channels, config.patch, e, config.groups
        )
        self.encoder = nn.ModuleList(_EncoderLevel(config, i) for i in range(config.depth))
        self.bottleneck = _Bottleneck(config)
        self.decoder = nn.ModuleList(
            _DecoderLevel(config, i) for i in reversed(range(config.depth))
        )
        self.unpatcher = Unpatcher(config.channels, 1, config.patch, e, config.groups)

    def conditioning(self, labels: torch.Tensor, c_noise: torch.Tensor | None) -> torch.Tensor:
        """``(B,)`` labels [+ ``(B,)`` c_noise] -> conditioning vector ``(B, cond_features)``."""
        h = self.label_embedding(labels)
        if self.noise_embedding is not None:
            if c_noise is None:
                raise ValueError("a noise-conditioned U-Net needs c_noise")
            h = h + self.noise_embedding(c_noise.reshape(-1).expand(len(labels))).to(h.dtype)
        elif c_noise is not None:
            raise ValueError("this U-Net is not noise-conditioned; pass c_noise=None")
        return self.cond_mlp(h)

    def forward(
        self,
        x: torch.Tensor,
        labels: torch.Tensor,
        c_noise: torch.Tensor | None = None,
        features: Sequence[torch.Tensor] | None = None,
        return_features: bool = False,
        mixture: torch.Tensor | None = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the network.

        Args:
            x: ``(B, 1, L)`` input waveform (the mixture for the extractor, the scaled noisy
                stem ``c_in * x_sigma`` for a refiner).
            labels: ``(B,)`` instrument indices.
            c_noise: ``(B,)`` (or a scalar) noise level ln(sigma)/4; refiners only.
            features: ``num_stages`` tensors to add at the matching stages (shapes from
                :meth:`UNetConfig.stage_shapes`), or None.
            return_features: also return the stage activations (after injection).
            mixture: ``(B, 1, L)`` added to ``x`` at the input, or None.
            condition: ``(B, condition_channels, L)`` concatenated to the input after the
                mixture is added (a band-split extractor's x_det); required exactly when
                the configuration has ``condition_channels``.

        Returns:
            ``(B, 1, L)``, or ``((B, 1, L), [num_stages tensors])`` with ``return_features``.
        """
        config = self.config
        if x.dim() != 3 or x.shape[1] != 1 or x.shape[-1] % config.hop:
            raise ValueError(
                f"expected input (batch, 1, L) with L a multiple of {config.hop}, got {tuple(x.shape)}"
            )
        if features is not None and len(features) != config.num_stages:
            raise ValueError(f"expected {config.num_stages} features, got {len(features)}")
        cond = self.conditioning(labels, c_noise)
        stages: list[torch.Tensor] = []

        def stage(h: torch.Tensor) -> torch.Tensor:
            if features is not None:
                h = h + features[len(stages)]
            stages.append(h)
            return h

        if mixture is not None:
            x = x + mixture
        if config.condition_channels:
            if condition is None or condition.shape[1] != config.condition_channels:
                raise ValueError(f"this U-Net needs a condition of {config.condition_channels} channel(s)")
            x = torch.cat([x, condition.to(x.dtype)], dim=1)
        elif condition is not None:
            raise ValueError("this U-Net takes no condition input")
        h = stage(self.patcher(x, cond))
        level_skips = []
        for level in self.encoder:
            h, skips = level(h, cond)
            skips[-1] = h = stage(h)
            level_skips.append(skips)
        h = stage(self.bottleneck(h, cond))
        for level in self.decoder:
            h = stage(level(h, level_skips.pop(), cond))
        out = stage(self.unpatcher(h + stages[0], cond))
        return (out, stages) if return_features else out


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (works on the ``meta`` device too)."""
    return sum(p.numel() for p in module.parameters())
