"""Elapsed time and an estimate of the time left, from measured throughput (no Qt).

Throughput is audio seconds processed per wall second since the engine started
computing: ``rate = processed / elapsed``; ``remaining = (total - processed) / rate``.
Every progress report refines the rate, so the estimate gets better as the run goes.
Files that fail or are skipped leave the total (they cost almost nothing).
"""

from __future__ import annotations

import time
from collections.abc import Callable

MIN_ELAPSED_FOR_ESTIMATE = 0.5
"""Seconds of measurement before an estimate is shown (the first ones are noise)."""


class ThroughputClock:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._started: float | None = None
        self._stopped: float | None = None
        self.total_audio = 0.0
        self.processed_audio = 0.0

    def start(self, total_audio_seconds: float) -> None:
        self._started = self._clock()
        self._stopped = None
        self.total_audio = max(total_audio_seconds, 0.0)
        self.processed_audio = 0.0

    def stop(self) -> None:
        if self._started is not None and self._stopped is None:
            self._stopped = self._clock()

    @property
    def running(self) -> bool:
        return self._started is not None and self._stopped is None

    def update(self, processed_audio_seconds: float) -> None:
        self.processed_audio = min(max(processed_audio_seconds, 0.0), self.total_audio)

    def drop(self, audio_seconds: float) -> None:
        """Take a file that will not be processed (failed, skipped) out of the total."""
        self.total_audio = max(self.total_audio - max(audio_seconds, 0.0), self.processed_audio)

    @property
    def elapsed(self) -> float:
        if self._started is None:
            return 0.0
        end = self._stopped if self._stopped is not None else self._clock()
        return end - self._started

    @property
    def fraction(self) -> float:
        return self.processed_audio / self.total_audio if self.total_audio > 0 else 0.0

    @property
    def rate(self) -> float | None:
        """Audio seconds per wall second (the realtime factor's inverse)."""
        elapsed = self.elapsed
        if elapsed < MIN_ELAPSED_FOR_ESTIMATE or self.processed_audio <= 0:
            return None
        return self.processed_audio / elapsed

    @property
    def remaining(self) -> float | None:
        """Seconds left, or None while there is not enough to measure."""
        rate = self.rate
        if rate is None:
            return None
        return (self.total_audio - self.processed_audio) / rate


def format_duration(seconds: float | None) -> str:
    """``75.3 -> "1:15"``, ``3725 -> "1:02:05"``; ``None -> "–"``."""
    if seconds is None:
        return "–"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
