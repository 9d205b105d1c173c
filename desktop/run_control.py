"""Running the queue: Start, Cancel, the worker's reports, the run bar.

:class:`RunControl` is the bar at the bottom of the window (overall progress, run label,
Cancel, Start) and everything a run does. Start checks that a run can begin, moves the
queue's unfinished items to waiting (:meth:`JobQueue.begin`), and hands a
:class:`~desktop.worker.BatchJob` to the one engine worker through a queued signal; the
worker's signals come back here and become queue transitions (one call each, whose
returned ids refresh the table), progress, the time estimate and log lines. It never
calls the engine itself.

What belongs to the window is asked for or announced: the options come from a callable,
errors and status-bar messages leave as signals, and :attr:`running_changed` tells the
window to enable or disable the controls that must not change during a run.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from core.jobs import FileResult, FileStatus
from desktop.eta import ThroughputClock, format_duration
from desktop.model_info import ModelInfo
from desktop.options import AppOptions
from desktop.queue import JobQueue
from desktop.queue_model import QueueTableModel
from desktop.worker import BatchJob, ModelLoader, WorkerThread

log = logging.getLogger(__name__)

PROGRESS_STEPS = 1000
"""Resolution of the overall progress bar."""


class RunControl(QWidget):
    """The run bar and the run's logic.

    Args:
        queue, table_model: the window's queue and its table.
        options: returns the options a Start uses.
        model_loader: passed to the worker (None: the installed bundles).
        model_info: the model a run uses (its ``spec``), or why there is none.
        model_available: whether Start may run at all.

    Signals:
        start_requested(object): a :class:`BatchJob` for the worker (queued connection).
        batch_started(object): the ids of the items a run just began with (after they
            were reset, before the worker starts).
        item_finished(int): a queue item got its outcome.
        run_finished(object): the batch's list of FileResult (also after a cancel; an
            empty list when the run could not start).
        running_changed(bool): a run began or ended (also sent when Cancel was pressed).
        error(str, str, str): title, text and details of a problem to show.
        status_message(str, int): a status-bar message and its timeout in ms (0: until replaced).
    """

    start_requested = Signal(object)
    batch_started = Signal(object)
    item_finished = Signal(int)
    run_finished = Signal(object)
    running_changed = Signal(bool)
    error = Signal(str, str, str)
    status_message = Signal(str, int)

    def __init__(self, queue: JobQueue, table_model: QueueTableModel,
                 options: Callable[[], AppOptions], model_loader: ModelLoader | None,
                 model_info: ModelInfo, model_available: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self.queue = queue
        self.table_model = table_model
        self.options = options
        self.model_info = model_info
        self.model_available = model_available
        self.job: BatchJob | None = None
        self.clock = ThroughputClock()
        self._batch_ids: list[int] = []
        self._done_audio = 0.0

        self.engine = WorkerThread(model_loader)
        worker = self.engine.worker
        self.start_requested.connect(worker.run)
        worker.status.connect(self._on_worker_status)
        worker.model_ready.connect(self._on_model_ready)
        worker.file_progress.connect(self._on_file_progress)
        worker.file_finished.connect(self._on_file_finished)
        worker.batch_finished.connect(self._on_batch_finished)
        worker.batch_failed.connect(self._on_batch_failed)

        self.overall = QProgressBar()
        self.overall.setObjectName("overallProgress")
        self.overall.setRange(0, PROGRESS_STEPS)
        self.overall.setValue(0)
        self.overall.setFormat("%p%")
        self.run_label = QLabel("Add tracks, choose instruments, press Start.")
        self.run_label.setObjectName("runLabel")
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("startButton")
        self.start_button.setMinimumWidth(110)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.overall, 2)
        layout.addWidget(self.run_label, 3)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.start_button)

        self.start_action = QAction("&Start", self)
        self.start_action.setShortcut(QKeySequence("Ctrl+Return"))
        self.start_action.setStatusTip("Separate the queued tracks")
        self.start_action.triggered.connect(self.start)
        self.cancel_action = QAction("&Cancel", self)
        self.cancel_action.setShortcut(QKeySequence("Esc"))
        self.cancel_action.setStatusTip("Stop after the current chunk")
        self.cancel_action.triggered.connect(self.cancel)

        self._tick = QTimer(self)
        self._tick.setInterval(250)
        self._tick.timeout.connect(self._update_run_label)
        self.update_controls()

    @property
    def running(self) -> bool:
        return self.job is not None

    # start and cancel ------------------------------------------------------------------
    def start(self) -> bool:
        """Start the queue's unfinished files; False (with a message) when it cannot."""
        if self.running:
            return False
        if not self.model_available:
            self.error.emit("No model installed", self.model_info.missing or "No model is installed.", "")
            return False
        if not self.queue.runnable():
            self.status_message.emit("Nothing to do: add tracks first (everything queued is done).", 5000)
            return False
        options = self.options()
        problems = options.problems()
        if problems:
            self.error.emit("Check the options", "\n".join(problems), "")
            return False
        item_ids = self.queue.begin()
        self.table_model.refresh(item_ids)
        items = [self.queue.by_id(item_id) for item_id in item_ids]
        self.job = BatchJob(
            item_ids=item_ids,
            paths=[item.path for item in items],
            options=options.to_separation_options(),
            model_spec=self.model_info.spec,
        )
        self._batch_ids = list(item_ids)
        self._done_audio = 0.0
        self.batch_started.emit(list(item_ids))
        self.clock = ThroughputClock()
        self.overall.setValue(0)
        self.run_label.setText("Starting…")
        log.info("starting %d file%s: %s, preset %s, device %s -> %s", len(items), "s" if len(items) != 1 else "",
                 ", ".join(options.stems) + (" + the residual" if options.residual else ""), options.preset,
                 options.device, options.out_dir)
        self.update_controls()
        self._tick.start()
        self.start_requested.emit(self.job)
        return True

    def cancel(self) -> None:
        """Ask the engine to stop after the current chunk (it removes partial files)."""
        if self.job is None or self.job.cancel.cancelled:
            return
        self.job.cancel.cancel()
        self.run_label.setText("Cancelling after the current chunk…")
        log.info("cancel requested")
        self.update_controls()

    def stop(self) -> None:
        """Window closing: cancel a running batch and stop the worker thread."""
        if self.job is not None:
            log.info("closing during a run: cancelling")
            self.job.cancel.cancel()
        self.engine.stop()

    def update_controls(self) -> None:
        """Enable Start and Cancel for the current state; announce it to the window."""
        running = self.running
        can_start = self.model_available and not running and bool(self.queue.runnable())
        self.start_button.setEnabled(can_start)
        self.start_action.setEnabled(can_start)
        cancellable = running and not self.job.cancel.cancelled
        self.cancel_button.setEnabled(cancellable)
        self.cancel_action.setEnabled(cancellable)
        if not self.model_available:
            self.start_button.setToolTip("No model installed: " + (self.model_info.missing or ""))
        else:
            self.start_button.setToolTip("Separate the queued tracks (Ctrl+Return)")
        self.running_changed.emit(running)

    # the worker's reports ------------------------------------------------------------------
    def _batch_audio(self) -> float:
        return sum(item.duration or 0.0 for item in map(self.queue.by_id, self._batch_ids) if item)

    def _show_progress(self, audio_done: float) -> None:
        self.clock.update(audio_done)
        self.overall.setValue(int(round(self.clock.fraction * PROGRESS_STEPS)))

    def _on_worker_status(self, message: str) -> None:
        self.run_label.setText(message)

    def _on_model_ready(self, model_id: str) -> None:
        self.clock.start(self._batch_audio())
        self.run_label.setText(f"Separating with {model_id}…")

    def _on_file_progress(self, item_id: int, fraction: float, message: str) -> None:
        changed = self.queue.advance(item_id, fraction)
        if not changed:
            return
        self.table_model.refresh(changed)
        self._show_progress(self._done_audio + fraction * (self.queue.by_id(item_id).duration or 0.0))
        self.status_message.emit(message, 0)

    def _on_file_finished(self, item_id: int, result: FileResult) -> None:
        changed = self.queue.apply(item_id, result)
        if not changed:
            return
        duration = self.queue.by_id(item_id).duration or 0.0
        if result.status is FileStatus.DONE:
            self._done_audio += duration
            log.info("done: %s (%.1f s)", result.message, result.seconds)
        else:
            self.clock.drop(duration)
            level = logging.INFO if result.status is FileStatus.CANCELLED else logging.WARNING
            log.log(level, "%s: %s", result.status.value, result.message)
        self._show_progress(self._done_audio)
        self.table_model.refresh(changed)
        self.item_finished.emit(item_id)

    def _on_batch_finished(self, results: list[FileResult]) -> None:
        counts = Counter(result.status for result in results)
        elapsed = self.clock.elapsed
        self._finish_run()
        summary = ", ".join(f"{counts[status]} {status.value}" for status in FileStatus if counts[status])
        summary = summary or "nothing to do"
        self.run_label.setText(f"Finished: {summary} in {format_duration(elapsed)}.")
        if counts[FileStatus.DONE] and not counts[FileStatus.FAILED] and not counts[FileStatus.CANCELLED]:
            self.overall.setValue(PROGRESS_STEPS)
        log.info("batch finished: %s", summary)
        self.run_finished.emit(results)

    def _on_batch_failed(self, message: str, details: str) -> None:
        self.table_model.refresh(self.queue.abandon(self._batch_ids))
        self._finish_run()
        self.run_label.setText("The run could not start; see the message.")
        self.error.emit("Separation failed", message, details)
        self.run_finished.emit([])

    def _finish_run(self) -> None:
        self.clock.stop()
        self._tick.stop()
        self.job = None
        self.update_controls()

    def _update_run_label(self) -> None:
        if not self.running or not self.clock.running:
            return
        finished = sum(1 for i in map(self.queue.by_id, self._batch_ids) if i and i.finished)
        text = (f"File {min(finished + 1, len(self._batch_ids))} of {len(self._batch_ids)} · "
                f"{format_duration(self.clock.elapsed)} elapsed · ")
        remaining = self.clock.remaining
        if remaining is None:
            text += "estimating time left…"
        else:
            text += f"about {format_duration(remaining)} left · {self.clock.rate:.2g}× realtime"
        if self.job is not None and self.job.cancel.cancelled:
            text = "Cancelling after the current chunk…"
        self.run_label.setText(text)
