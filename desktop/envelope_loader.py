"""Computing peak envelopes off the GUI thread, with a small cache.

Reading a ten-minute file takes a noticeable fraction of a second, so envelopes
are built in one background thread (file I/O and numpy only, never the engine)
and delivered through the :attr:`EnvelopeLoader.loaded` signal.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from desktop.envelope import PeakEnvelope

log = logging.getLogger(__name__)


def _cache_key(path: Path) -> tuple[str, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


class EnvelopeLoader(QObject):
    """Signals:
        loaded(str, object): path, :class:`PeakEnvelope` (or None when the file cannot be read).
    """

    loaded = Signal(str, object)
    _computed = Signal(str, object, object)  # from the pool thread: path, cache key, envelope
    CACHE_SIZE = 32

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._computed.connect(self._store)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stemforge-envelopes")
        self._cache: OrderedDict[tuple, PeakEnvelope] = OrderedDict()
        self._pending: set[tuple] = set()
        self._closed = False

    def cached(self, path: Path) -> PeakEnvelope | None:
        key = _cache_key(Path(path))
        if key is not None and key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        return None

    def request(self, path: Path) -> PeakEnvelope | None:
        """The envelope if cached; otherwise start computing it and return None."""
        path = Path(path)
        envelope = self.cached(path)
        if envelope is not None or self._closed:
            return envelope
        key = _cache_key(path)
        if key is None:
            self.loaded.emit(str(path), None)
            return None
        if key not in self._pending:
            self._pending.add(key)
            self._pool.submit(self._compute, path, key)
        return None

    def _compute(self, path: Path, key: tuple) -> None:
        try:
            envelope = PeakEnvelope.from_file(path)
        except Exception as error:  # unreadable: the window shows an empty lane
            log.warning("cannot draw %s: %s", path.name, error)
            envelope = None
        if not self._closed:
            self._computed.emit(str(path), key, envelope)

    def _store(self, path: str, key: tuple, envelope: PeakEnvelope | None) -> None:
        """Runs in the GUI thread (queued connection)."""
        self._pending.discard(key)
        if envelope is not None:
            self._cache[key] = envelope
            while len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
        self.loaded.emit(path, envelope)

    def shutdown(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
