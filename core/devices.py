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


SMALL_NETWORK_PARAMETERS = 1_000_000
"""Networks with fewer parameters run on one torch CPU thread (:func:`threads_for_network`).

Their layers (``tiny``: about 0.12 M parameters, 16-32 channels) are too small for
torch's intra-op threads to pay, and on a CPU shared with other jobs the threads' waiting
costs many times the work: on the 2-core build machine next to two training runs, one
``tiny`` extractor step (batch 8, 0.5 s crops) took 3.6-5.4 s of CPU on 2 threads and
0.15-0.27 s on one, and separating 10 s with a ``tiny`` bundle 112 s of CPU against 5.5 s."""


def threads_for_network(parameters: int, device: str | torch.device = "cpu") -> int | None:
    """The torch CPU thread count for a network of ``parameters`` parameters: 1 when it is
    small (:data:`SMALL_NETWORK_PARAMETERS`) and runs on the CPU, else None (torch's
    choice, one per core). ``auto`` counts as the CPU: a small network gains nothing from
    threads wherever it runs."""
    return 1 if parameters < SMALL_NETWORK_PARAMETERS and str(device) in ("auto", "cpu") else None
