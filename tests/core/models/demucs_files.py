"""Tiny HTDemucs models with random weights, saved as the demucs package saves them.

``demucs.states.serialize_model`` builds ``{"klass", "args", "kwargs", "state", "training_args"}``
(the state in fp16, ``get_state(model, None, half=True)``) and ``save_with_checksum`` writes it
as ``<name>-<first 8 hex of its sha256>.th``; :func:`save_like_demucs` does the same (calling
``serialize_model`` itself when omegaconf, which it needs, is installed).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import torch

demucs_htdemucs = pytest.importorskip("demucs.htdemucs")

SOURCES = ["drums", "bass", "other", "vocals"]
TINY = dict(channels=4, depth=4, dconv_comp=2, t_heads=4, t_layers=1, bottom_channels=0)
"""Shrunk channels (the released model: 48 channels, 5 transformer layers, 512 bottom channels)."""
SEGMENT = Fraction(4)
"""Seconds: longer than the 3 s file, shorter than the 20 s one."""


def tiny_htdemucs(seed: int = 0, sources: list[str] = SOURCES, channels: int = 2, segment=SEGMENT):
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return demucs_htdemucs.HTDemucs(sources=list(sources), audio_channels=channels, samplerate=44100,
                                        segment=segment, **TINY)
    finally:
        torch.random.set_rng_state(state)


def save_like_demucs(model, folder: Path, name: str) -> Path:
    """Write ``model`` as ``folder/<name>-<sha8>.th``, exactly as demucs.states does; returns it."""
    from demucs import states

    folder.mkdir(parents=True, exist_ok=True)
    try:
        from omegaconf import OmegaConf

        package = states.serialize_model(model, OmegaConf.create({"seed": 0}), half=True)
    except ImportError:
        args, kwargs = model._init_args_kwargs
        package = {"klass": model.__class__, "args": args, "kwargs": kwargs,
                   "state": states.get_state(model, None, half=True), "training_args": {"seed": 0}}
    before = set(folder.glob(f"{name}-*.th"))
    states.save_with_checksum(package, folder / f"{name}.th")
    (written,) = set(folder.glob(f"{name}-*.th")) - before
    return written


def write_bag(folder: Path, name: str, signatures: list[str], weights=None, segment=None) -> Path:
    lines = ["models: [" + ", ".join(repr(s) for s in signatures) + "]"]
    if weights is not None:
        lines.append("weights: " + repr([list(map(float, row)) for row in weights]))
    if segment is not None:
        lines.append(f"segment: {segment}")
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path
