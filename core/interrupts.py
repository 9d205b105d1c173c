"""Holding Ctrl-C and SIGTERM back while an output set is swapped into place.

The swap (:func:`core.outputs.replace_set`) moves the previous files aside, moves the
new ones in and deletes what was moved aside. An interrupt in the middle would leave it
half done: a new set in place with hidden ``.previous`` files beside it, while the
message says that unfinished files were removed. Inside :func:`held_signals` the two
signals are only recorded; the caller delivers them once the set is whole and reported
(:func:`deliver`), so an interrupt means "stop after this", never "stop inside this".

Only the main thread can install signal handlers; elsewhere (the app's worker thread,
where Ctrl-C never arrives) :func:`held_signals` holds nothing.

:func:`signals_after` is the other guard: libsndfile reads an input through Python
callbacks (cffi), and an exception a signal handler raises inside one is printed and
dropped by cffi: a Ctrl-C or SIGTERM would vanish (the run then ends 0, or fails on a
short read). Blocked at the OS level around such a call, the signal's handler runs just
after it, where its exception unwinds the run as it should.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def held_signals(received: list[int] | None = None) -> Iterator[list[int]]:
    """Record SIGINT and SIGTERM instead of acting on them until the block ends.

    Args:
        received: the caller's list to append to; pass it rather than copying the
            yielded list inside the block, or a signal arriving between the copy and
            the handlers' restoration is lost.

    Yields:
        The list the signals received are appended to (in order); the previous
        handlers are back in place when the block ends.
    """
    received = [] if received is None else received
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {number: signal.getsignal(number) for number in HELD_SIGNALS}
    try:
        for number in HELD_SIGNALS:
            signal.signal(number, lambda number, frame: received.append(number))
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


def deliver(received: list[int]) -> None:
    """Act now on the first signal held back (its own handler runs: Ctrl-C raises
    KeyboardInterrupt); nothing when none was."""
    if received:
        signal.raise_signal(received[0])


@contextlib.contextmanager
def signals_after() -> Iterator[None]:
    """Delay SIGINT and SIGTERM until the block ends (POSIX, main thread; elsewhere a
    no-op): for calls into C code that calls back into Python."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
