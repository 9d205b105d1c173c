"""Learned high-band masks: a small causal CNN hears the spectrogram and shares each high-band tile.

Same frame as the rule of :mod:`core.audio.high_band` (STFT at the input rate ``R``,
crossover ``w_hi``, ``Y_i = S_i + w_hi (M_i X - S_i)``, the residual ``other`` computed
from the written samples, so stems + other still null exactly); only the masks
``M_i(t, f)`` of the bins above ``f_c`` change. Unlike the rule, the network hears the
mixture's high band itself, next to the model's stems below the edge.

Input, per frame ``t`` and bin ``f`` from ``f_e / 2`` (5.5 kHz) up to ``R / 2``, on the
network's grid of :data:`GRID_HZ`-wide bins (the 2 048-point frames at 44.1 kHz; other
rates are interpolated onto it along frequency), ``D = 7`` channels::

    a_k(t, f) = log((P_k(t, f) + e) / (Pbar_X(t) + e)) / 8      k = X, the 4 stem slots
    a_6(t, f) = log(Pbar_X(t) + e) / 8                           the frame's level
    a_7(t, f) = log2(f / f_e)                                    where the bin is

with ``P_k = |.|^2`` (full scale 1), ``Pbar_X(t)`` the mixture's mean power per bin over
the input band and ``e`` = :data:`POWER_FLOOR`. A stem the run does not extract
(``--stems`` without it) has zero power in its slot; training hides stems the same way
and counts them in ``other``, so such a run sends their high band to ``other``.

Network (:class:`HighBandNet`): a small U-Net over (time, frequency). Every convolution
is causal in time (kernel 3, padded with the past only), so a frame's masks depend on
it and the :attr:`HighBandNet.history` frames before it and nothing later: streaming
keeps that many frames of input and gives exactly the one-call result. Frequency is
halved twice (strided kernels of 4) and restored by nearest upsampling with skip
connections; the output layer gives ``S + 1 = 5`` logits per tile (the four
instruments, in :data:`core.instruments.INSTRUMENTS` order, then ``other``)::

    M_i(t, f) = exp(k z_i(t, f)) / sum_{j=0..S} exp(k z_j(t, f))     (i < S; sum_i M_i <= 1)

with the sharpness ``k`` (1 while training; the weights file says the one to use, chosen
on validation songs): in most windows one source, the drums, holds nearly all of the
band, and there a share of 0.99 instead of 1 already costs dB.

Why the stems are the model's and not the true ones: at separation time only the
model's stems exist, with their leakage and their soxr roll-off near the edge; the
training set (:mod:`core.training.high_band`) runs the shipped model on the training
songs and pairs its stems with the true stems' high band as the target.

Weights: a safetensors file (no pickle) with the widths and the training facts in its
metadata; the shipped one is :data:`WEIGHTS_FILE` in ``resources/models`` (or a
model's own ``<model id>.high-band.safetensors`` in any model folder, found first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional

from core.audio.high_band import HighBandMasks, HighBandSettings
from core.errors import ConfigError
from core.fileio import sha256_file
from core.instruments import INSTRUMENTS

ARCHITECTURE = "causal-unet-1"
"""Written into every weights file; a file of another architecture is refused."""
SOURCES = len(INSTRUMENTS) + 1
"""Outputs per tile: the instruments, then ``other``."""
INPUT_CHANNELS = SOURCES + 1
"""Channels computed from the spectra (mixture, four slots, frame level); the network adds the bin's place."""
LEVEL_SCALE = 8.0
"""The log-power channels are divided by this, so they lie mostly within [-3, 1]."""
POWER_FLOOR = 1e-10
"""``e``: power per bin (full scale 1) added before every log."""
GRID_HZ = 44100 / 2048
"""Width of the network's frequency bins (those of the assigner's frames at 44.1 kHz)."""
DEFAULT_WIDTHS = (16, 24, 32)
"""Channels at full, half and quarter frequency resolution."""
DEFAULT_SHARPNESS = 4.0
"""``k`` written by ``stemforge train high-band`` unless told otherwise (chosen on validation songs, README)."""
WEIGHTS_FILE = "high-band.safetensors"
"""The shipped learned high-band mask, in ``resources/models``."""
WEIGHTS_SUFFIX = ".high-band.safetensors"
"""A model's own learned high-band mask: ``<model id>`` + this, next to its bundle folder."""


class CausalConv(nn.Module):
    """``(B, C_in, T, F) -> (B, C_out, T, F / stride)``: kernel ``(3, kf)``, causal in time
    (two past frames of zero padding), centred in frequency."""

    PAST = 2

    def __init__(self, channels_in: int, channels_out: int, kernel_f: int = 3, stride_f: int = 1,
                 dilation_f: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(channels_in, channels_out, (self.PAST + 1, kernel_f), stride=(1, stride_f),
                              padding=(0, dilation_f * (kernel_f - 1) // 2), dilation=(1, dilation_f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(functional.pad(x, (0, 0, self.PAST, 0)))


class HighBandNet(nn.Module):
    """``(B, 6, T, F)`` inputs (module docstring, without the place channel) and ``(F,)``
    places ``log2(f / f_e)`` -> ``(B, 5, T, F)`` logits.

    Args:
        widths: channels at full, half and quarter frequency resolution.
    """

    def __init__(self, widths: Sequence[int] = DEFAULT_WIDTHS, sharpness: float = 1.0):
        super().__init__()
        full, half, quarter = self.widths = tuple(int(w) for w in widths)
        self.sharpness = float(sharpness)  # k: the logits' scale when separating
        act = nn.GELU
        self.encode_full = nn.Sequential(CausalConv(INPUT_CHANNELS + 1, full, 5), act(), CausalConv(full, full), act())
        self.encode_half = nn.Sequential(CausalConv(full, half, 4, 2), act())
        self.encode_quarter = nn.Sequential(CausalConv(half, quarter, 4, 2), act(),
                                            CausalConv(quarter, quarter, 3, 1, 2), act(),
                                            CausalConv(quarter, quarter, 3, 1, 4), act())
        self.decode_half = nn.Sequential(CausalConv(quarter + half, half), act())
        self.decode_full = nn.Sequential(CausalConv(half + full, full), act())
        self.logits = nn.Conv2d(full, SOURCES, 1)
        nn.init.zeros_(self.logits.weight)
        nn.init.zeros_(self.logits.bias)  # untrained: every source an equal share

    @property
    def history(self) -> int:
        """Past frames a frame's output depends on (two per causal convolution on its path)."""
        return CausalConv.PAST * sum(isinstance(m, CausalConv) for m in self.modules())

    def forward(self, inputs: torch.Tensor, places: torch.Tensor) -> torch.Tensor:
        batch, _, frames, bins = inputs.shape
        x = torch.cat([inputs, places.to(inputs.dtype).expand(batch, 1, frames, bins)], 1)
        full = self.encode_full(x)
        half = self.encode_half(full)
        quarter = self.encode_quarter(half)
        up = functional.interpolate(quarter, size=half.shape[-2:], mode="nearest")
        half = self.decode_half(torch.cat([up, half], 1))
        up = functional.interpolate(half, size=full.shape[-2:], mode="nearest")
        return self.logits(self.decode_full(torch.cat([up, full], 1)))

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


def save_network(network: HighBandNet, path: Path, facts: dict, sharpness: float | None = None) -> None:
    """Write the weights, the sharpness ``k`` (None: the network's) and ``facts`` (JSON-able,
    e.g. seed, data, steps) as safetensors."""
    tensors = {name: value.detach().contiguous() for name, value in network.state_dict().items()}
    k = network.sharpness if sharpness is None else float(sharpness)
    save_file(tensors, str(path), metadata={"architecture": ARCHITECTURE, "widths": json.dumps(network.widths),
                                             "sharpness": repr(k), "facts": json.dumps(facts, sort_keys=True)})


def load_network(path: Path) -> HighBandNet:
    """Read a file written by :func:`save_network`; a wrong or damaged file is a ConfigError."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
        if metadata.get("architecture") != ARCHITECTURE:
            raise ValueError(f"made for {metadata.get('architecture', 'an older network')}, "
                             f"this version runs {ARCHITECTURE}")
        sharpness = float(metadata["sharpness"])
        if not 0 < sharpness < 1e3:
            raise ValueError(f"sharpness {sharpness} is not a positive scale")
        network = HighBandNet(json.loads(metadata["widths"]), sharpness)
        network.load_state_dict(load_file(str(path)))
    except (OSError, SafetensorError, ValueError, KeyError, RuntimeError, TypeError) as error:
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


def slot_powers(stems: np.ndarray, mix: np.ndarray, slots: Sequence[int]) -> np.ndarray:
    """``stems (C, S, T, F)``, ``mix (C, T, F)`` complex -> ``(C, 5, T, F)`` float64 powers:
    the mixture, then the four slots (zero where no stem is given)."""
    powers = np.zeros((mix.shape[0], SOURCES, *mix.shape[1:]))
    powers[:, 0] = mix.real.astype(np.float64) ** 2 + mix.imag.astype(np.float64) ** 2
    for stem, slot in enumerate(slots):
        part = stems[:, stem]
        powers[:, 1 + slot] = part.real.astype(np.float64) ** 2 + part.imag.astype(np.float64) ** 2
    return powers


def log_inputs(powers: np.ndarray) -> np.ndarray:
    """``(..., 5, T, F)`` powers on the grid -> ``(..., 6, T, F)`` float32 inputs ``a_1..a_6``."""
    level = powers[..., :1, :, :].mean(-1, keepdims=True)  # (..., 1, T, 1)
    relative = np.log((powers + POWER_FLOOR) / (level + POWER_FLOOR))
    absolute = np.broadcast_to(np.log(level + POWER_FLOOR), relative[..., :1, :, :].shape)
    return (np.concatenate([relative, absolute], axis=-3) / LEVEL_SCALE).astype(np.float32)


def hide_slots(inputs: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """``(6, T, F)`` inputs with the stem slots where ``hidden (4,)`` is True set to what a
    zero-power stem gives, ``log(e / (Pbar_X + e)) / 8`` (training's stand-in for a run
    that does not extract them)."""
    out = inputs.clone()
    silent = float(np.log(POWER_FLOOR)) / LEVEL_SCALE - inputs[SOURCES]
    for slot in torch.nonzero(hidden).flatten().tolist():
        out[1 + slot] = silent
    return out


class FrequencyGrid:
    """Maps between a frame's bins from ``f_e / 2`` up and the network's grid of ``GRID_HZ`` bins.

    At 44.1 kHz with 2 048-point frames the two coincide (no interpolation); at other
    rates the inputs are interpolated linearly onto the grid along frequency and the
    logits back onto the frame's bins above ``f_c``.
    """

    def __init__(self, freqs: np.ndarray, edge_hz: float, high: np.ndarray):
        self.input = np.flatnonzero(freqs >= edge_hz / 2)
        native = freqs[self.input]
        first = int(np.ceil(native[0] / GRID_HZ - 1e-9))
        self.grid = GRID_HZ * np.arange(first, int(np.ceil(native[-1] / GRID_HZ - 1e-9)) + 1)  # covers every bin
        self.native, self.high_freqs = native, freqs[high]
        self.exact = self.grid.size == native.size and np.allclose(self.grid, native)
        self.places = torch.from_numpy(np.log2(self.grid / edge_hz).astype(np.float32))
        self.high_on_grid = np.flatnonzero(self.grid >= self.high_freqs[0] - 1e-9)

    def to_grid(self, values: np.ndarray) -> np.ndarray:
        """``(..., F_in)`` on the frame's input bins -> ``(..., F_grid)``."""
        if self.exact:
            return values
        flat = values.reshape(-1, values.shape[-1])
        out = np.stack([np.interp(self.grid, self.native, row) for row in flat])
        return out.reshape(*values.shape[:-1], self.grid.size)

    def to_high_bins(self, logits: np.ndarray) -> np.ndarray:
        """``(..., F_grid)`` -> ``(..., H)`` on the frame's bins above ``f_c``."""
        if self.exact:
            return logits[..., self.high_on_grid]
        flat = logits.reshape(-1, logits.shape[-1])
        out = np.stack([np.interp(self.high_freqs, self.grid, row) for row in flat])
        return out.reshape(*logits.shape[:-1], self.high_freqs.size)


class LearnedHighBandMasks:
    """The learned masks ``M_i(t, f)`` (module docstring), a drop-in for
    :class:`core.audio.high_band.HighBandMasks` in :class:`HighBandAssigner`.

    Stateful: keeps the last :attr:`HighBandNet.history` frames of input, so that blocks
    give exactly what one call on the whole stream gives.

    Args:
        network: the trained :class:`HighBandNet`.
        slots: the slot of each stem the caller passes (see :func:`instrument_slots`).
        freqs, edge_hz, settings, frame_seconds: as for :class:`HighBandMasks` (which
            bins are high).
    """

    def __init__(self, network: HighBandNet, slots: Sequence[int], freqs: np.ndarray, edge_hz: float,
                 settings: HighBandSettings, frame_seconds: float):
        self.network, self.slots = network, list(slots)
        self.high = HighBandMasks(freqs, edge_hz, settings, frame_seconds).high
        self.grid = FrequencyGrid(freqs, edge_hz, self.high)
        self.reset()

    def reset(self) -> None:
        """Forget the kept frames (the next call starts a new stream)."""
        self._past: np.ndarray | None = None

    def inputs(self, stems: np.ndarray, mix: np.ndarray) -> np.ndarray:
        """``stems (C, S, T, F)``, ``mix (C, T, F)`` complex -> ``(C, 6, T, F_grid)`` inputs."""
        band = self.grid.input
        powers = slot_powers(stems[..., band], mix[..., band], self.slots)
        return log_inputs(self.grid.to_grid(powers))

    def __call__(self, stems: np.ndarray, mix: np.ndarray) -> np.ndarray:
        """``stems (C, S, T, F)``, ``mix (C, T, F)`` complex spectra -> masks ``(C, S, T, H)``
        for the bins ``self.high``."""
        frames = mix.shape[1]
        fresh = self.inputs(stems, mix)
        inputs = fresh if self._past is None else np.concatenate([self._past, fresh], axis=2)
        keep = self.network.history
        self._past = inputs[:, :, -keep:] if keep else inputs[:, :, :0]
        with torch.no_grad():
            logits = self.network(torch.from_numpy(np.ascontiguousarray(inputs)), self.grid.places)[:, :, -frames:]
        logits = self.grid.to_high_bins(logits.numpy()) * self.network.sharpness
        shares = torch.softmax(torch.from_numpy(np.ascontiguousarray(logits)), dim=1).numpy()
        return np.ascontiguousarray(shares[:, self.slots])


def learned_masks_maker(instruments: Sequence[str], model_id: str, path: Path | None = None):
    """``make_masks`` for :class:`core.audio.high_band.HighBandAssigner`: the learned masks
    for the stems ``instruments`` with the weights at ``path`` (default: :func:`find_weights`)."""
    network = load_network(path or find_weights(model_id))
    slots = instrument_slots(instruments)

    def make(freqs: np.ndarray, edge_hz: float, settings: HighBandSettings, frame_seconds: float):
        return LearnedHighBandMasks(network, slots, freqs, edge_hz, settings, frame_seconds)

    return make
