"""Training checkpoints: written atomically, read without unpickling code.

A checkpoint is one ``torch.save`` file holding only plain containers, numbers, strings
and tensors (state dicts of the network, its EMA and the optimiser, the step, the RNG
states, the elapsed training time and the last logged metrics). It is loaded with
``torch.load(weights_only=True)``, which refuses anything else, so opening a checkpoint
never runs code from the file.

Writes go to ``NAME.tmp`` first, are flushed to disk, then renamed over ``NAME``: a run
killed while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from core.errors import ConfigError
from core.fileio import atomic_file

CHECKPOINT_FORMAT = 1
"""Version of the checkpoint layout; bumped when its keys change meaning."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "wb", fsync=True) as handle:
        torch.save({"format": CHECKPOINT_FORMAT, **state}, handle)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint onto the CPU (tensors only; no arbitrary unpickling).

    Raises:
        ConfigError: the file is missing, unreadable, not a checkpoint or of another format.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no checkpoint") from None
    except Exception as error:  # truncated files, foreign pickles: all one answer
        raise ConfigError(f"{path}: not a readable training checkpoint ({error})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path}: not a training checkpoint of format {CHECKPOINT_FORMAT}")
    return state


def rng_states(generator: torch.Generator | None = None) -> dict[str, Any]:
    """The global CPU (and CUDA) RNG states, and ``generator``'s, as tensors."""
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        states["generator"] = generator.get_state()
    return states


def restore_rng_states(states: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Inverse of :func:`rng_states` (CUDA states only when the device count matches)."""
    torch.set_rng_state(states["torch"])
    cuda = states.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    if generator is not None and "generator" in states:
        generator.set_state(states["generator"])
