"""Building blocks of the 1D waveform U-Net (core/METHOD.md section 2).

Every tensor is ``(batch, channels, samples)``; ``cond`` is the conditioning vector
``(batch, cond_features)`` shared by all residual blocks.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn
from torch.nn import functional as F


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with the largest group count <= ``groups`` that divides ``channels``."""
    groups = max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


class ResBlock(nn.Module):
    """Residual block with FiLM conditioning.

    ``h = conv3(SiLU(GN(x)))``
    ``h = conv3(SiLU((1 + scale) * GN(h) + shift))`` with ``(scale, shift) = Linear(cond)``
    ``y = h + shortcut(x)``, shortcut = 1x1 conv when the channel count changes, else identity.

    The FiLM projection and the second convolution start at zero, so a fresh block is its
    shortcut (a stable start for deep stacks).

    Shapes: ``x (B, in_channels, T)``, ``cond (B, cond_features)`` -> ``(B, out_channels, T)``.
    """

    def __init__(self, in_channels: int, out_channels: int, cond_features: int, groups: int) -> None:
        super().__init__()
        self.norm1 = group_norm(in_channels, groups)
        self.conv1 = nn.Conv1d(in_channels, out_channels, kernel_size=3, padding=1)
        self.norm2 = group_norm(out_channels, groups)
        self.film = nn.Linear(cond_features, 2 * out_channels)
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel_size=3, padding=1)
        self.shortcut = (
            nn.Conv1d(in_channels, out_channels, kernel_size=1)
            if in_channels != out_channels
            else nn.Identity()
        )
        for layer in (self.film, self.conv2):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(cond)[:, :, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return h + self.shortcut(x)


class AttentionBlock(nn.Module):
    """Multi-head self-attention over time, then an optional feed-forward, both residual.

    ``y = x + W_out attention(W_qkv GN(x))`` (softmax(q k^T / sqrt(d)) v per head),
    then ``y = y + W_2 GELU(W_1 GN(y))`` when ``ff_multiplier > 0``. The output projections
    start at zero (a fresh block is the identity).

    Shapes: ``(B, channels, T)`` -> ``(B, channels, T)``.
    """

    def __init__(
        self, channels: int, heads: int, head_features: int, ff_multiplier: int, groups: int
    ) -> None:
        super().__init__()
        self.heads = heads
        inner = heads * head_features
        self.norm = group_norm(channels, groups)
        self.qkv = nn.Conv1d(channels, 3 * inner, kernel_size=1)
        self.out = nn.Conv1d(inner, channels, kernel_size=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.feed_forward: nn.Sequential | None = None
        if ff_multiplier > 0:
            self.feed_forward = nn.Sequential(
                group_norm(channels, groups),
                nn.Conv1d(channels, ff_multiplier * channels, kernel_size=1),
                nn.GELU(),
                nn.Conv1d(ff_multiplier * channels, channels, kernel_size=1),
            )
            nn.init.zeros_(self.feed_forward[-1].weight)
            nn.init.zeros_(self.feed_forward[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, length = x.shape
        q, k, v = self.qkv(self.norm(x)).chunk(3, dim=1)
        # (B, heads * d, T) -> (B, heads, T, d)
        q, k, v = (t.reshape(batch, self.heads, -1, length).transpose(2, 3) for t in (q, k, v))
        h = F.scaled_dot_product_attention(q, k, v)
        h = h.transpose(2, 3).reshape(batch, -1, length)
        x = x + self.out(h)
        if self.feed_forward is not None:
            x = x + self.feed_forward(x)
        return x


class Downsample(nn.Module):
    """Strided convolution, kernel 2f+1, stride f, padding f: ``(B, Cin, T) -> (B, Cout, T/f)``."""

    def __init__(self, in_channels: int, out_channels: int, factor: int) -> None:
        super().__init__()
        self.factor = factor
        self.conv = nn.Conv1d(
            in_channels, out_channels, kernel_size=2 * factor + 1, stride=factor, padding=factor
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Transposed convolution, kernel 2f, stride f: ``(B, Cin, T) -> (B, Cout, T*f)``.

    Padding ``ceil(f/2)`` and output padding ``f mod 2`` make the output exactly f times
    longer (each output sample gets two taps: the even-kernel up-sampler of the authors'
    U-Net).
    """

    def __init__(self, in_channels: int, out_channels: int, factor: int) -> None:
        super().__init__()
        self.factor = factor
        self.conv = nn.ConvTranspose1d(
            in_channels,
            out_channels,
            kernel_size=2 * factor,
            stride=factor,
            padding=factor // 2 + factor % 2,
            output_padding=factor % 2,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def fold(x: torch.Tensor, patch: int) -> torch.Tensor:
    """Fold ``patch`` consecutive samples into channels: ``(B, c, T) -> (B, c*p, T/p)``.

    Output channel ``i * p + j`` at step ``t`` is input channel ``i`` at sample ``t * p + j``.
    """
    batch, channels, length = x.shape
    x = x.reshape(batch, channels, length // patch, patch)
    return x.transpose(2, 3).reshape(batch, channels * patch, length // patch)


def unfold(x: torch.Tensor, patch: int) -> torch.Tensor:
    """Inverse of :func:`fold`: ``(B, c*p, T/p) -> (B, c, T)``."""
    batch, channels, steps = x.shape
    x = x.reshape(batch, channels // patch, patch, steps)
    return x.transpose(2, 3).reshape(batch, channels // patch, steps * patch)


def native_cpu_convolutions(x: torch.Tensor) -> contextlib.AbstractContextManager:
    """Context for convolutions with a handful of channels at the full sample rate.

    On CPU, oneDNN (mkldnn) runs a 2-channel conv3 over ``(8, 2, 131072)`` 3-10x slower
    than ATen's native kernel, forward and backward (measured with torch 2.13 on 2 cores),
    so the full-rate blocks switch it off for their few convolutions. Other flags are kept.
    Elsewhere (CUDA, MPS) this is a no-op.
    """
    if x.device.type != "cpu":
        return contextlib.nullcontext()
    mkldnn = torch.backends.mkldnn
    return mkldnn.flags(
        enabled=False,
        deterministic=mkldnn.deterministic,
        allow_tf32=mkldnn.allow_tf32,
        fp32_precision=mkldnn.fp32_precision,
    )


class Patcher(nn.Module):
    """Residual block at full rate (``in -> C/p`` channels), then :func:`fold`.

    Shapes: ``(B, in_channels, L)`` -> ``(B, channels, L/p)``.
    """

    def __init__(
        self, in_channels: int, channels: int, patch: int, cond_features: int, groups: int
    ) -> None:
        super().__init__()
        self.patch = patch
        self.block = ResBlock(in_channels, channels // patch, cond_features, groups)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.patch:
            raise ValueError(f"length {x.shape[-1]} is not a multiple of the patch {self.patch}")
        with native_cpu_convolutions(x):
            h = self.block(x, cond)
        return fold(h, self.patch)


class Unpatcher(nn.Module):
    """Mirror of :class:`Patcher`: :func:`unfold`, then a residual block ``C/p -> out``.

    Shapes: ``(B, channels, L/p)`` -> ``(B, out_channels, L)``.
    """

    def __init__(
        self, channels: int, out_channels: int, patch: int, cond_features: int, groups: int
    ) -> None:
        super().__init__()
        self.patch = patch
        self.block = ResBlock(channels // patch, out_channels, cond_features, groups)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = unfold(x, self.patch)
        with native_cpu_convolutions(x):
            return self.block(x, cond)


SKIP_SCALE = 1 / math.sqrt(2)
"""Skips are multiplied by 2^-1/2 before concatenation in the decoder."""
