"""Choosing where the networks run: ``auto`` picks CUDA, then Apple MPS, then the CPU.

:data:`DEVICE_NAMES` is the one list of device names (the CLI's and the app's choices);
this module imports torch only when asked which devices exist, so option parsers can
read the names without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ConfigError

if TYPE_CHECKING:
    import torch

DEVICE_NAMES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> dict[str, bool]:
    """Which device names can be used on this machine."""
    import torch

    return {
        "auto": True,
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": _mps_available(),
    }


def resolve_device(name: str) -> torch.device:
    """Turn a device name into a ``torch.device``; an absent device is a clear error."""
    import torch

    name = name.lower()
    if name not in DEVICE_NAMES:
        raise ConfigError(f"unknown device {name!r}; choose from {', '.join(DEVICE_NAMES)}")
    available = available_devices()
    if name == "auto":
        for candidate in ("cuda", "mps"):
            if available[candidate]:
                return torch.device(candidate)
        return torch.device("cpu")
    if not available[name]:
        raise ConfigError(f"device {name!r} is not available on this machine")
    return torch.device(name)
