"""The band-split extractor: a label-conditioned time-frequency mask estimator.

A challenger of the waveform U-Net for the deterministic first stage, after the
band-split RNN / RoFormer family (Luo and Yu 2023, "Music source separation with
band-split RNN"; Lu et al. 2024, "Music source separation with band-split RoPE
transformer"), cut down to CPU budgets. For a mono mixture x (B, 1, L) and labels (B,):

    X = STFT(x)                          (B, F, T) complex, F = n_fft/2 + 1, T = L/hop + 1
    band split: bins [a_k, a_k + w_k) of X, k = 1..K, as (B, T, 2 w_k) real/imag
    z_k = Linear_k(LayerNorm_k(X_k))     (B, T, D) per band, own weights -> Z (B, K, T, D)
    cond = MLP(Embedding(label))         (B, E)
    layers x [ time block, band block ]:
        time:  Z += FF(GELU(DWConv_t(FiLM(LN(Z), cond))))     per band, over frames
               (depthwise kernel k_t, dilation 2^layer)
        band:  Z += MHA_bands(FiLM(LN(Z), cond));  Z += FF(FiLM(LN(Z), cond))
               per frame, attention across the K bands
    mask:  M_k = MLP_k(LN(Z_k))          (B, T, w_k, 2) -> complex mask M (B, F, T)
    x_det = iSTFT(M * X, length=L)       (B, 1, L), exactly the input's length

FiLM(h, cond) = h * (1 + s(cond)) + b(cond), with s, b linear in cond and zero at
initialisation. Every residual branch ends in a zero-initialised layer (a fresh stack
is the identity on Z) and so do the mask heads (a fresh network outputs silence).

The refiners condition on it through x_det and the mixture (:mod:`core.nn.extractors`);
``return_features=True`` also gives the per-layer activations ``Z`` (B, K, T, D) for
inspection, which the U-Net refiners do not use.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from core.nn.bandsplit_config import BandSplitConfig
from core.nn.embeddings import LabelEmbedding


class _FiLM(nn.Module):
    """``h (B, K, T, D)``, ``cond (B, E)`` -> ``h * (1 + s) + b``; s = b = 0 at start."""

    def __init__(self, cond_features: int, features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(cond_features, 2 * features)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.linear(cond)[:, None, None, :].chunk(2, dim=-1)
        return h * (1 + scale) + shift


def _feed_forward(features: int, multiplier: int) -> nn.Sequential:
    """``Linear(D, mD) - GELU - Linear(mD, D)``, the last layer zero-initialised."""
    layers = nn.Sequential(
        nn.Linear(features, multiplier * features), nn.GELU(), nn.Linear(multiplier * features, features)
    )
    nn.init.zeros_(layers[-1].weight)
    nn.init.zeros_(layers[-1].bias)
    return layers


class _TimeBlock(nn.Module):
    """Depthwise dilated convolution over frames, then a feed-forward; per band.

    Shapes: ``(B, K, T, D)`` -> ``(B, K, T, D)``.
    """

    def __init__(self, config: BandSplitConfig, dilation: int) -> None:
        super().__init__()
        d = config.features
        self.norm = nn.LayerNorm(d)
        self.film = _FiLM(config.cond_features, d)
        self.conv = nn.Conv1d(
            d, d, config.time_kernel, dilation=dilation,
            padding=dilation * (config.time_kernel - 1) // 2, groups=d,
        )
        self.feed_forward = _feed_forward(d, config.ff_multiplier)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        batch, bands, frames, d = h.shape
        y = self.film(self.norm(h), cond).reshape(batch * bands, frames, d).transpose(1, 2)
        y = self.conv(y)[..., :frames].transpose(1, 2).reshape(batch, bands, frames, d)
        return h + self.feed_forward(F.gelu(y))


class _BandBlock(nn.Module):
    """Self-attention across the K bands of each frame, then a feed-forward.

    Shapes: ``(B, K, T, D)`` -> ``(B, K, T, D)``.
    """

    def __init__(self, config: BandSplitConfig) -> None:
        super().__init__()
        d = config.features
        self.norm = nn.LayerNorm(d)
        self.film = _FiLM(config.cond_features, d)
        self.attention = nn.MultiheadAttention(d, config.band_heads, batch_first=True)
        nn.init.zeros_(self.attention.out_proj.weight)
        nn.init.zeros_(self.attention.out_proj.bias)
        self.ff_norm = nn.LayerNorm(d)
        self.ff_film = _FiLM(config.cond_features, d)
        self.feed_forward = _feed_forward(d, config.ff_multiplier)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        batch, bands, frames, d = h.shape
        y = self.film(self.norm(h), cond).transpose(1, 2).reshape(batch * frames, bands, d)
        y, _ = self.attention(y, y, y, need_weights=False)
        h = h + y.reshape(batch, frames, bands, d).transpose(1, 2)
        return h + self.feed_forward(self.ff_film(self.ff_norm(h), cond))


class _BandSplit(nn.Module):
    """Per-band ``LayerNorm + Linear`` of the complex STFT bins: ``(B, F, T)`` complex ->
    ``(B, K, T, D)``."""

    def __init__(self, config: BandSplitConfig) -> None:
        super().__init__()
        self.widths = config.band_widths
        self.projections = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(2 * w), nn.Linear(2 * w, config.features)) for w in self.widths
        )

    def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
        # (B, F, T) complex -> (B, T, F, 2) real -> per band (B, T, 2 w)
        real = torch.view_as_real(spectrum).transpose(1, 2)
        bands = real.split(list(self.widths), dim=2)
        return torch.stack(
            [proj(band.flatten(2)) for proj, band in zip(self.projections, bands, strict=True)], dim=1
        )


class _MaskHead(nn.Module):
    """Per-band ``LayerNorm - Linear - GELU - Linear`` to a complex mask: ``(B, K, T, D)``
    -> ``(B, F, T)`` complex; zero at initialisation."""

    def __init__(self, config: BandSplitConfig) -> None:
        super().__init__()
        d, m = config.features, config.ff_multiplier
        self.widths = config.band_widths
        self.heads = nn.ModuleList()
        for w in self.widths:
            head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, m * d), nn.GELU(), nn.Linear(m * d, 2 * w))
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)
            self.heads.append(head)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        batch, _, frames, _ = h.shape
        masks = [head(h[:, k]).reshape(batch, frames, w, 2) for k, (head, w)
                 in enumerate(zip(self.heads, self.widths, strict=True))]
        mask = torch.cat(masks, dim=2).transpose(1, 2).contiguous()  # (B, F, T, 2)
        return torch.view_as_complex(mask.float())


class BandSplitNet(nn.Module):
    """Band-split extractor: ``(B, 1, L)`` mono mixture + ``(B,)`` labels -> ``(B, 1, L)``.

    Any L works (the output has exactly the input's length); the pipeline feeds segments
    of ``config.segment_samples``, a multiple of ``config.hop``.
    """

    noise_conditioned = False

    def __init__(self, config: BandSplitConfig) -> None:
        super().__init__()
        self.config = config
        e = config.cond_features
        self.label_embedding = LabelEmbedding(config.num_labels, e)
        self.cond_mlp = nn.Sequential(nn.Linear(e, e), nn.GELU(), nn.Linear(e, e), nn.GELU())
        self.band_split = _BandSplit(config)
        self.time_blocks = nn.ModuleList(_TimeBlock(config, 2**i) for i in range(config.layers))
        self.band_blocks = nn.ModuleList(_BandBlock(config) for _ in range(config.layers))
        self.mask = _MaskHead(config)
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)

    def _stft(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stft(
            x, self.config.n_fft, self.config.hop_length, window=self.window.to(x.dtype),
            center=True, return_complex=True,
        )

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the network.

        Args:
            x: ``(B, 1, L)`` mixture.
            labels: ``(B,)`` instrument indices.
            return_features: also return the activations ``Z`` after every layer.

        Returns:
            ``(B, 1, L)``, or ``((B, 1, L), [layers tensors (B, K, T, D)])``.
        """
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"expected input (batch, 1, L), got {tuple(x.shape)}")
        length = x.shape[-1]
        signal = x[:, 0].float()
        spectrum = self._stft(signal)
        cond = self.cond_mlp(self.label_embedding(labels))
        h = self.band_split(spectrum)
        activations = []
        for time_block, band_block in zip(self.time_blocks, self.band_blocks, strict=True):
            h = band_block(time_block(h, cond), cond)
            activations.append(h)
        estimate = torch.istft(
            self.mask(h) * spectrum, self.config.n_fft, self.config.hop_length,
            window=self.window.to(signal.dtype), center=True, length=length,
        )[:, None].to(x.dtype)
        return (estimate, activations) if return_features else estimate
