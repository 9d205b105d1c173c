"""The batch queue as plain data: which files, what happened to each (no Qt).

Each :class:`QueueItem` moves through ``waiting -> running -> done | failed |
skipped | cancelled``. The table model (:mod:`desktop.queue_model`) and the main
window only read and update this state.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from core.audio.reader import probe
from core.errors import StemforgeError


class ItemStatus(str, Enum):
    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (ItemStatus.WAITING, ItemStatus.RUNNING)


_ids = itertools.count(1)


@dataclass
class QueueItem:
    """One input file and its state.

    Attributes:
        duration: seconds of audio, or None when the file could not be probed.
        format_label: e.g. ``"WAV PCM_24 · 44.1 kHz · stereo"``; ``"unreadable"`` when
            probing failed (the run then fails it with the engine's reason).
        fraction: progress of the running file in [0, 1].
        message: the engine's one-line reason (failed/skipped) or summary (done).
        outputs: stem name -> file written (done items).
    """

    path: Path
    duration: float | None = None
    format_label: str = ""
    samplerate: int | None = None
    channels: int | None = None
    probe_error: str | None = None
    status: ItemStatus = ItemStatus.WAITING
    fraction: float = 0.0
    message: str = ""
    outputs: dict[str, Path] = field(default_factory=dict)
    recipe: Path | None = None
    null_db: float | None = None
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def status_text(self) -> str:
        """Short text for the status column: ``running 42%``, ``failed: <reason>``, ..."""
        if self.status is ItemStatus.RUNNING:
            return f"running {self.fraction * 100:.0f}%"
        if self.status in (ItemStatus.FAILED, ItemStatus.SKIPPED) and self.message:
            return f"{self.status.value}: {short_reason(self.message, self.path)}"
        return self.status.value


def short_reason(message: str, path: Path) -> str:
    """The engine's messages start with the file path; drop it for the table."""
    for prefix in (str(path), path.name):
        if message.startswith(prefix + ":"):
            return message[len(prefix) + 1:].strip()
    return message


def describe_format(fmt: str, subtype: str, samplerate: int, channels: int) -> str:
    layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels} ch")
    return f"{fmt} {subtype} · {samplerate / 1000:g} kHz · {layout}"


def probe_item(path: Path) -> QueueItem:
    """A waiting item with its duration and format read from the file header."""
    item = QueueItem(Path(path))
    try:
        info = probe(item.path)
    except StemforgeError as error:
        item.format_label = "unreadable"
        item.probe_error = str(error)
        return item
    item.duration = info.duration
    item.samplerate = info.samplerate
    item.channels = info.channels
    item.format_label = describe_format(info.format, info.subtype, info.samplerate, info.channels)
    return item


class JobQueue:
    """Ordered items, at most one per file (by resolved path)."""

    def __init__(self) -> None:
        self.items: list[QueueItem] = []

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def contains(self, path: Path) -> bool:
        resolved = Path(path).resolve()
        return any(item.path.resolve() == resolved for item in self.items)

    def add(self, paths: Iterable[Path]) -> list[QueueItem]:
        """Probe and append files not already queued; returns the new items."""
        added = []
        for path in paths:
            if self.contains(path):
                continue
            item = probe_item(Path(path))
            self.items.append(item)
            added.append(item)
        return added

    def by_id(self, item_id: int) -> QueueItem | None:
        return next((item for item in self.items if item.id == item_id), None)

    def row_of(self, item_id: int) -> int:
        return next((row for row, item in enumerate(self.items) if item.id == item_id), -1)

    def remove(self, item_ids: Iterable[int]) -> None:
        doomed = set(item_ids)
        self.items = [item for item in self.items if item.id not in doomed]

    def runnable(self) -> list[QueueItem]:
        """Items a Start runs: everything not done yet (failed and cancelled ones retry)."""
        return [item for item in self.items if item.status is not ItemStatus.DONE]

    def counts(self) -> dict[ItemStatus, int]:
        counts = {status: 0 for status in ItemStatus}
        for item in self.items:
            counts[item.status] += 1
        return counts
