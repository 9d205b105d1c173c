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


DEFAULT_SEPARATE_THREADS = 1
"""torch's CPU threads for ``stemforge separate`` and the app when not told otherwise.

Chosen by measurement (resources/docs/experiments.md, "CPU threads for separation"): on the
2-core build machine loaded by a training run, separating the 20 s demo track with the
shipped model took 14.7-18.5 s wall on one thread and 45.7-55.6 s on torch's default two
(three runs each, interleaved);
threads that wait for a busy core cost more than they share. An idle machine with more
cores may gain from more (``--threads N``)."""
DEFAULT_THREADS_REASON = "the fastest on a busy machine; an idle one with more cores may gain from more"


def use_cpu_threads(threads: int | None) -> None:
    """Run torch's CPU work in the calling thread on ``threads`` threads (None: leave the
    count as it is). torch keeps the count per OS thread for threads already running, so
    this is called in the thread that runs the model (:func:`core.jobs.run_batch`: the
    CLI's main thread, the app's worker thread)."""
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)
