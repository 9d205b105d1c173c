"""The batch queue as plain data: which files, what happened to each (no Qt).

Each :class:`QueueItem` moves through ``waiting -> running ->`` one of the engine's
:class:`core.jobs.FileStatus` outcomes (done, failed, skipped, cancelled). Only the
:class:`JobQueue` transitions (:meth:`~JobQueue.begin`, :meth:`~JobQueue.advance`,
:meth:`~JobQueue.apply`, :meth:`~JobQueue.reset`, :meth:`~JobQueue.abandon`) change an
item's state; each returns the ids it changed, for the table to refresh.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from core.audio.reader import probe
from core.errors import StemforgeError
from core.fileio import resolved
from core.jobs import FileResult, FileStatus


class QueueState(StrEnum):
    """An item without an outcome yet."""

    WAITING = "waiting"
    RUNNING = "running"


ItemStatus = QueueState | FileStatus
"""An item's status: waiting or running, then the engine's outcome for its file."""
ITEM_STATUSES: tuple[ItemStatus, ...] = (*QueueState, *FileStatus)


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
    status: ItemStatus = QueueState.WAITING
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
    def finished(self) -> bool:
        """Whether the engine gave this item an outcome."""
        return isinstance(self.status, FileStatus)

    @property
    def status_text(self) -> str:
        """Short text for the status column: ``running 42%``, ``failed: <reason>``, ..."""
        if self.status is QueueState.RUNNING:
            return f"running {self.fraction * 100:.0f}%"
        if self.status in (FileStatus.FAILED, FileStatus.SKIPPED) and self.message:
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
        target = resolved(path)  # a loop of symbolic links stays unresolved, never an error
        return any(resolved(item.path) == target for item in self.items)

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
        return [item for item in self.items if item.status is not FileStatus.DONE]

    def counts(self) -> dict[ItemStatus, int]:
        counts = {status: 0 for status in ITEM_STATUSES}
        for item in self.items:
            counts[item.status] += 1
        return counts

    # transitions: each returns the ids of the items it changed ---------------------------

    def begin(self) -> list[int]:
        """Start a run: every runnable item goes back to waiting, without its old outcome.

        Returns the ids of the run's items, in queue order.
        """
        return self.reset(item.id for item in self.runnable())

    def advance(self, item_id: int, fraction: float) -> list[int]:
        """The engine reports ``fraction`` in [0, 1] of an item's file: it is running."""
        item = self.by_id(item_id)
        if item is None:
            return []
        item.status, item.fraction = QueueState.RUNNING, fraction
        return [item_id]

    def apply(self, item_id: int, result: FileResult) -> list[int]:
        """Record the engine's outcome for an item's file."""
        item = self.by_id(item_id)
        if item is None:
            return []
        item.status = result.status
        item.message = result.message
        item.fraction = 1.0 if result.status is FileStatus.DONE else 0.0
        item.outputs = dict(result.outputs)
        item.recipe = result.recipe
        item.null_db = result.null_db
        return [item_id]

    def reset(self, item_ids: Iterable[int]) -> list[int]:
        """Items back to waiting, forgetting any outcome (progress, message, outputs)."""
        changed = []
        for item_id in item_ids:
            item = self.by_id(item_id)
            if item is not None:
                item.status, item.fraction, item.message = QueueState.WAITING, 0.0, ""
                item.outputs, item.recipe, item.null_db = {}, None, None
                changed.append(item_id)
        return changed

    def abandon(self, item_ids: Iterable[int]) -> list[int]:
        """A run that could not go on: its items without an outcome go back to waiting."""
        return self.reset(i for i in item_ids if (item := self.by_id(i)) is not None and not item.finished)
