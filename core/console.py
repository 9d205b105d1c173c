"""The command line's one-line progress bar on stderr (separate, eval, sweep, tune, bench),
and :func:`one_line`, which keeps a message on one line whatever file names it quotes.

Standard library only: :mod:`core.cli` imports it while ``stemforge --help`` stays fast.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(32), 127)} | {
    ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", 0x85: "\\x85", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters written as escapes
    (``\\n``, ``\\x1b``): a file name holding a newline cannot split a message in two."""
    return str(text).translate(_ESCAPES)


class ProgressBar:
    """``progress(fraction, message)`` callable drawing ``[####....]  42.0%  12.3s  message``.

    Draws only when ``enabled`` (by default: when the stream is a terminal), at most ten
    times a second; :meth:`clear` erases the line before a result is printed.
    """

    WIDTH = 30

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def __call__(self, fraction: float, message: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and fraction < 1.0:
            return
        self._last = now
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(self.WIDTH * fraction))
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction * 100:5.1f}% "
            f"{now - self.started:7.1f}s  {one_line(message)[:48]:<48}"
        )
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\r" + " " * (self.WIDTH + 70) + "\r")
            self.stream.flush()
            self._drawn = False
