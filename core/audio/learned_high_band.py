"""Learned high-band masks: a small network shares each high-band tile among the stems.

Same frame as the rule of :mod:`core.audio.high_band` (STFT at the input rate ``R``,
crossover ``w_hi``, ``Y_i = S_i + w_hi (M_i X - S_i)``, the residual ``other`` computed
from the written samples, so stems + other still null exactly); only the masks
``M_i(t, f)`` of the bins above ``f_c`` change. Per tile, a multilayer perceptron maps
``D = 18`` features to ``S + 1 = 5`` logits (the four instruments, in
:data:`core.instruments.INSTRUMENTS` order, then ``other``)::

    z(t, f) = W_3 tanh(W_2 tanh(W_1 phi(t, f) + b_1) + b_2) + b_3
    M_i(t, f) = exp z_i / sum_{j=0..S} exp z_j      (i < S; sum_i M_i <= 1)

The features ``phi`` (natural logs, divided by :data:`FEATURE_SCALE`), all causal:

- per stem slot ``i`` (4 each): the smoothed power share ``P_i / P_X`` and the
  instantaneous share ``p_i / p_X`` in the upper half-octave ``[f_e / sqrt 2, f_c)``
  of the model band, and the fall-off ``P_i / Q_i`` to the lower half-octave;
- per frame (2): the unexplained share ``max(P_X - sum_i P_i, 0) / P_X`` and the
  mixture's own fall-off ``P_X / Q_X``;
- per tile (4): the frequency ``log2(f / f_e)``, the tile's power against the mixture's
  mean power per bin in the upper half-octave, against its own smoothed power in that
  bin (transients), and its absolute level ``|X(t, f)|^2``.

(``P``: exponentially smoothed over frames, time constant ``smoothing_seconds``; ``p``:
this frame.) A stem the run does not extract (``--stems`` without it) has zero power
in its slot; training hides stems the same way and counts them in ``other``, so such a
run sends their high band to ``other``.

Why the features come from the model's stems and not the true stems: at separation
time only the model's stems exist, with their leakage and their soxr roll-off near
the edge; a network trained on true-stem features would meet different statistics
than it learned on. The training set (:mod:`core.training.high_band`) therefore runs
the shipped model on the training songs and pairs its stems with the true stems'
high band as the target.

Weights: a safetensors file (no pickle), ``layers.{0,2,4}.{weight,bias}``, with the
hidden width and the training facts in its metadata; the shipped one is
:data:`WEIGHTS_FILE` in ``resources/models`` (or a model's own
``<model id>.high-band.safetensors`` in any model folder, found first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from core.audio.high_band import HighBandMasks, HighBandSettings, band_power, smooth_frames
from core.errors import ConfigError
from core.fileio import sha256_file
from core.instruments import INSTRUMENTS

FEATURES = 3 * len(INSTRUMENTS) + 6
"""``D``: features per tile (see the module docstring)."""
SOURCES = len(INSTRUMENTS) + 1
"""Outputs per tile: the instruments, then ``other``."""
FEATURE_SCALE = 8.0
"""The log features are divided by this, so they lie mostly within [-3, 1]."""
TILE_FLOOR = 1e-10
"""Power (full scale 1, per bin) added before every log."""
WEIGHTS_FILE = "high-band.safetensors"
"""The shipped learned high-band mask, in ``resources/models``."""
WEIGHTS_SUFFIX = ".high-band.safetensors"
"""A model's own learned high-band mask: ``<model id>`` + this, next to its bundle folder."""


class MaskNetwork(nn.Module):
    """``(..., D)`` features -> ``(..., S + 1)`` logits: two tanh layers of ``hidden`` units."""

    def __init__(self, hidden: int = 32):
        super().__init__()
        self.hidden = hidden
        self.layers = nn.Sequential(nn.Linear(FEATURES, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                    nn.Linear(hidden, SOURCES))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


def save_network(network: MaskNetwork, path: Path, facts: dict) -> None:
    """Write the weights and ``facts`` (JSON-able, e.g. seed, data, steps) as safetensors."""
    tensors = {name: value.detach().contiguous() for name, value in network.state_dict().items()}
    save_file(tensors, str(path), metadata={"hidden": str(network.hidden), "features": str(FEATURES),
                                             "facts": json.dumps(facts, sort_keys=True)})


def load_network(path: Path) -> MaskNetwork:
    """Read a file written by :func:`save_network`; a wrong or damaged file is a ConfigError."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
        if int(metadata.get("features", -1)) != FEATURES:
            raise ValueError(f"made for {metadata.get('features')} features, this version computes {FEATURES}")
        network = MaskNetwork(int(metadata["hidden"]))
        network.load_state_dict(tensors)
    except (OSError, SafetensorError, ValueError, KeyError, RuntimeError) as error:
        raise ConfigError(f"{path}: not a usable learned high-band mask ({error})") from None
    return network.eval()


def find_weights(model_id: str) -> Path:
    """The model's own ``<model id>.high-band.safetensors`` in a model folder, else the shipped file."""
    from core.bundle import model_search_paths

    folders = model_search_paths()
    for name in (model_id + WEIGHTS_SUFFIX, WEIGHTS_FILE):
        for folder in folders:
            if (folder / name).is_file():
                return folder / name
    raise ConfigError(f"no learned high-band mask ({WEIGHTS_FILE}) in {', '.join(map(str, folders))}; "
                      "make one with 'stemforge train high-band' or choose --high-band assign")


def learned_mask_record(high_band: str, model_id: str) -> dict:
    """What a recipe records of the learned mask: ``{"mask": file name, "mask_sha256": ...}``
    for ``"learned"``, else nothing."""
    if high_band != "learned":
        return {}
    path = find_weights(model_id)
    return {"mask": path.name, "mask_sha256": sha256_file(path)}


def instrument_slots(instruments: Sequence[str]) -> list[int]:
    """The network's slot (position in INSTRUMENTS) of each extracted instrument."""
    unknown = [name for name in instruments if name not in INSTRUMENTS]
    if unknown:
        raise ConfigError(f"the learned high-band mask knows {', '.join(INSTRUMENTS)}, not {', '.join(unknown)}")
    return [INSTRUMENTS.index(name) for name in instruments]


class LearnedHighBandMasks:
    """The learned masks ``M_i(t, f)`` (module docstring), a drop-in for
    :class:`core.audio.high_band.HighBandMasks` in :class:`HighBandAssigner`.

    Stateful: smoothed powers carry over between calls (streaming).

    Args:
        network: the trained :class:`MaskNetwork`.
        slots: the slot of each stem the caller passes (see :func:`instrument_slots`).
        freqs, edge_hz, settings, frame_seconds: as for :class:`HighBandMasks` (the bands,
            the floor and the smoothing are the rule's).
    """

    def __init__(self, network: MaskNetwork, slots: Sequence[int], freqs: np.ndarray, edge_hz: float,
                 settings: HighBandSettings, frame_seconds: float):
        self.network, self.slots = network, list(slots)
        self.bands = HighBandMasks(freqs, edge_hz, settings, frame_seconds)
        self.high = self.bands.high
        self.position = np.log2(freqs[self.high] / edge_hz)  # (H,)
        self.reset()

    def reset(self) -> None:
        """Forget the smoothed powers (the next call starts a new stream)."""
        self._frame_state: np.ndarray | None = None
        self._tile_state: np.ndarray | None = None

    def frame_powers(self, stems: np.ndarray, mix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``stems (C, S, T, F)``, ``mix (C, T, F)`` -> the raw powers the features need:
        ``(C, 2 * 4 + 2, T)`` (upper then lower half-octave of each slot, zero where no stem
        is given; then the mixture's upper and lower) and the tiles' ``|X|^2`` ``(C, T, H)``."""
        bands = self.bands
        count = len(INSTRUMENTS)
        raw = np.zeros((mix.shape[0], 2 * count + 2, mix.shape[1]))
        for stem, slot in enumerate(self.slots):
            raw[:, slot] = band_power(stems[:, stem], bands.upper)
            raw[:, count + slot] = band_power(stems[:, stem], bands.lower)
        raw[:, -2], raw[:, -1] = band_power(mix, bands.upper), band_power(mix, bands.lower)
        tiles = mix[..., self.high]
        return raw, tiles.real.astype(np.float64) ** 2 + tiles.imag.astype(np.float64) ** 2

    def smooth(self, raw: np.ndarray, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exponentially smoothed ``raw (C, 10, T)`` and ``tiles (C, T, H)`` (state carried
        over). Linear and per row, so zeroing a slot before or after smoothing is the same."""
        smoothed, self._frame_state = smooth_frames(raw, self._frame_state, self.bands.decay)
        tiles_smoothed, self._tile_state = smooth_frames(np.swapaxes(tiles, 1, 2), self._tile_state, self.bands.decay)
        return smoothed, np.swapaxes(tiles_smoothed, 1, 2)

    def features(self, raw: np.ndarray, smoothed: np.ndarray, tiles: np.ndarray, tiles_smoothed: np.ndarray,
                 bins: slice | np.ndarray = slice(None)) -> np.ndarray:
        """Features ``(C, T, H', D)`` float32 of the high bins ``bins`` (all by default) from the
        raw powers of :meth:`frame_powers` (``raw (C, 10, T)``, ``tiles (C, T, H')``, the
        tiles of those bins) and their :meth:`smooth` ed versions."""
        count, width = len(INSTRUMENTS), float(self.bands.upper.size)
        floor = TILE_FLOOR * width
        upper, lower = smoothed[:, :count], smoothed[:, count : 2 * count]  # (C, 4, T)
        mix_upper, mix_lower = smoothed[:, -2], smoothed[:, -1]  # (C, T)

        def log_ratio(a: np.ndarray, b: np.ndarray, eps: float = floor) -> np.ndarray:
            return np.log((a + eps) / (b + eps))

        unexplained = np.maximum(mix_upper - upper.sum(1), 0.0)
        per_frame = np.concatenate([
            log_ratio(upper, mix_upper[:, None]),
            log_ratio(raw[:, :count], raw[:, -2][:, None]),
            log_ratio(upper, lower),
            log_ratio(unexplained, mix_upper)[:, None],
            log_ratio(mix_upper, mix_lower)[:, None],
        ], axis=1)  # (C, 3*4 + 2, T)
        channels, frames, width_bins = tiles.shape
        per_tile = np.stack([
            np.broadcast_to(self.position[bins], tiles.shape),
            log_ratio(tiles, raw[:, -2][..., None] / width, TILE_FLOOR),
            log_ratio(tiles, tiles_smoothed, TILE_FLOOR),
            np.log(tiles + TILE_FLOOR),
        ], axis=-1)  # (C, T, H', 4)
        frame_part = np.broadcast_to(np.swapaxes(per_frame, 1, 2)[:, :, None, :],
                                     (channels, frames, width_bins, per_frame.shape[1]))
        return (np.concatenate([frame_part, per_tile], axis=-1) / FEATURE_SCALE).astype(np.float32)

    def __call__(self, stems: np.ndarray, mix: np.ndarray) -> np.ndarray:
        """``stems (C, S, T, F)``, ``mix (C, T, F)`` complex spectra -> masks ``(C, S, T, H)``
        for the bins ``self.high``."""
        raw, tiles = self.frame_powers(stems, mix)
        smoothed, tiles_smoothed = self.smooth(raw, tiles)
        features = self.features(raw, smoothed, tiles, tiles_smoothed)
        with torch.no_grad():
            shares = torch.softmax(self.network(torch.from_numpy(features)), dim=-1).numpy()  # (C, T, H, 5)
        return np.ascontiguousarray(np.moveaxis(shares[..., self.slots], -1, 1))


def learned_masks_maker(instruments: Sequence[str], model_id: str, path: Path | None = None):
    """``make_masks`` for :class:`core.audio.high_band.HighBandAssigner`: the learned masks
    for the stems ``instruments`` with the weights at ``path`` (default: :func:`find_weights`)."""
    network = load_network(path or find_weights(model_id))
    slots = instrument_slots(instruments)

    def make(freqs: np.ndarray, edge_hz: float, settings: HighBandSettings, frame_seconds: float):
        return LearnedHighBandMasks(network, slots, freqs, edge_hz, settings, frame_seconds)

    return make
