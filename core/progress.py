"""The one progress/cancel protocol of the engine.

Work reports progress through a callable ``progress(fraction, message)`` with
``fraction`` in [0, 1], and checks a :class:`CancelToken` at every chunk and every
sampler step. Cancelling raises :class:`core.errors.Cancelled`, never
``KeyboardInterrupt``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.errors import Cancelled

ProgressCallback = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """A progress callback that ignores everything."""


class CancelToken:
    """A thread-safe flag: the UI thread sets it, the engine checks it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


NEVER_CANCELLED = CancelToken()
