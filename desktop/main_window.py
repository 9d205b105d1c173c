"""The main window: queue, options, waveforms, audition, progress, log.

The window owns the state (:class:`~desktop.queue.JobQueue`, options) and the one
engine worker (:class:`~desktop.worker.SeparationWorker` in its QThread). It
never calls the engine's compute itself: Start builds a :class:`BatchJob` and
hands it to the worker through a queued signal; progress and results come back
as signals.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QItemSelectionModel,
    QModelIndex,
    QSettings,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtMultimedia import QAudioDevice
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.audio.reader import AUDIO_EXTENSIONS, is_audio_file
from core.jobs import FileResult, find_audio_files
from desktop.about import AboutDialog
from desktop.drop_zone import DropZone, paths_from_mime
from desktop.envelope import PeakEnvelope
from desktop.envelope_loader import EnvelopeLoader
from desktop.eta import ThroughputClock, format_duration
from desktop.logs import LogPanel
from desktop.mixer import MIXTURE, FileTrack, StemMixer
from desktop.model_info import ModelInfo, describe
from desktop.options import AppOptions
from desktop.options_panel import OptionsPanel
from desktop.player import AudioPlayer
from desktop.queue import ItemStatus, JobQueue, QueueItem
from desktop.queue_model import STATUS_COLUMN, QueueTableModel, StatusDelegate
from desktop.resources import app_icon
from desktop.settings import AppSettings
from desktop.stem_list import StemList
from desktop.waveforms import WaveformPanel
from desktop.worker import BatchJob, ModelLoader, WorkerThread

log = logging.getLogger(__name__)

AUDIO_FILTER = "Audio files (" + " ".join(f"*{ext}" for ext in sorted(AUDIO_EXTENSIONS)) + ");;All files (*)"
STATUS_OF_RESULT = {
    "done": ItemStatus.DONE,
    "failed": ItemStatus.FAILED,
    "skipped": ItemStatus.SKIPPED,
    "cancelled": ItemStatus.CANCELLED,
}


class MainWindow(QMainWindow):
    """Stemforge's window.

    Args:
        model_loader: ``(spec, device) -> StemModel``; default :func:`core.bundle.load_model`
            (tests inject a tiny model). It runs in the worker thread.
        model_info: presets/model card to show; default: the installed bundle, if any.
        settings: where choices persist; default ``QSettings("Stemforge", "Stemforge")``.
        devices: ``{"auto": True, "cpu": True, "cuda": bool, "mps": bool}``; default:
            :func:`core.devices.available_devices`.
        audio_output: output device for audition; default: the system's default output.
        log_file: shown in Help so users can find it.

    Signals:
        start_requested(object): a :class:`BatchJob` for the worker (queued connection).
        run_finished(object): the batch's list of FileResult (also after a cancel).
    """

    start_requested = Signal(object)
    run_finished = Signal(object)

    def __init__(self, model_loader: ModelLoader | None = None, model_info: ModelInfo | None = None,
                 settings: QSettings | None = None, devices: dict[str, bool] | None = None,
                 audio_output: QAudioDevice | None = None, log_file: Path | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Stemforge")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.log_file = log_file
        self.settings = AppSettings(settings)
        if model_info is None:
            model_info = ModelInfo(model_id="custom model") if model_loader is not None else describe(None)
        self.model_info = model_info
        self.model_available = model_loader is not None or model_info.installed
        if devices is None:
            from core.devices import available_devices

            devices = available_devices()
        self.queue = JobQueue()
        self.table_model = QueueTableModel(self.queue, self)
        self.clock = ThroughputClock()
        self.job: BatchJob | None = None
        self._batch_ids: list[int] = []
        self._done_audio = 0.0
        self._shown_item: int | None = None
        self._shown_tracks: dict[str, Path] = {}
        self._error_box: QMessageBox | None = None
        self._closed = False

        self.mixer = StemMixer(self)
        self.player = AudioPlayer(self.mixer, self, output=audio_output)
        self.envelopes = EnvelopeLoader(self)
        self.engine = WorkerThread(model_loader)
        self._connect_worker()

        self._build_ui(devices)
        self._build_actions()
        self.options_panel.set_options(self.settings.load_options())
        self._restore_window_state()
        self._update_controls()

        self._tick = QTimer(self)
        self._tick.setInterval(250)
        self._tick.timeout.connect(self._update_run_label)
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(400)
        self._save_timer.timeout.connect(self.save_settings)
        self.options_panel.changed.connect(self._on_options_changed)
        log.info("Stemforge ready; model: %s",
                 self.model_info.model_id if self.model_available else "none installed")

    # construction ---------------------------------------------------------------------
    def _connect_worker(self) -> None:
        worker = self.engine.worker
        self.start_requested.connect(worker.run)
        worker.status.connect(self._on_worker_status)
        worker.model_ready.connect(self._on_model_ready)
        worker.file_progress.connect(self._on_file_progress)
        worker.file_finished.connect(self._on_file_finished)
        worker.batch_finished.connect(self._on_batch_finished)
        worker.batch_failed.connect(self._on_batch_failed)

    def _build_ui(self, devices: dict[str, bool]) -> None:
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setVisible(not self.model_available)
        if not self.model_available:
            self.banner.setText(
                f"<b>No model installed.</b> {self.model_info.missing} You can queue tracks now; "
                "Start becomes available once a model bundle is installed.")

        self.options_panel = OptionsPanel(self.model_info, devices)
        options_scroll = QScrollArea()
        options_scroll.setObjectName("optionsScroll")
        options_scroll.setWidgetResizable(True)
        options_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        options_scroll.setWidget(self.options_panel)
        options_scroll.setMinimumWidth(270)

        self.drop_zone = DropZone()
        self.drop_zone.paths_dropped.connect(self.add_paths)
        self.table = QTableView()
        self.table.setObjectName("queueTable")
        self.table.setModel(self.table_model)
        self.table.setItemDelegateForColumn(STATUS_COLUMN, StatusDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._queue_menu)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        queue_box = QWidget()
        queue_layout = QVBoxLayout(queue_box)
        queue_layout.setContentsMargins(0, 0, 0, 0)
        queue_layout.setSpacing(6)
        queue_layout.addWidget(self.drop_zone)
        queue_layout.addWidget(self.table, 1)

        self.waveforms = WaveformPanel()
        self.waveforms.seek_requested.connect(self.player.seek)
        self.waveforms.setMinimumHeight(180)
        self.stem_list = StemList()
        self.stem_list.setFixedWidth(200)
        self.stem_list.solo_toggled.connect(self.mixer.set_soloed)
        self.stem_list.mute_toggled.connect(self.mixer.set_muted)
        self.mixer.routing_changed.connect(self._on_routing_changed)
        self.envelopes.loaded.connect(self._on_envelope_loaded)
        self.player.position_changed.connect(self._on_play_position)
        self.player.playing_changed.connect(self._on_playing_changed)

        self.play_button = QToolButton()
        self.play_button.setObjectName("playButton")
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.setText("Play")
        self.play_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.play_button.clicked.connect(self.player.toggle)
        self.time_label = QLabel("0:00.0 / 0:00.0")
        self.time_label.setObjectName("timeLabel")
        self.open_folder_button = QPushButton("Open output folder")
        self.open_folder_button.clicked.connect(self.open_output_folder)
        transport = QHBoxLayout()
        transport.setContentsMargins(0, 0, 0, 0)
        transport.addWidget(self.play_button)
        transport.addWidget(self.time_label)
        transport.addStretch(1)
        transport.addWidget(self.open_folder_button)
        wave_box = QWidget()
        wave_layout = QVBoxLayout(wave_box)
        wave_layout.setContentsMargins(0, 0, 0, 0)
        wave_layout.setSpacing(6)
        lanes_row = QHBoxLayout()
        lanes_row.setSpacing(8)
        lanes_row.addWidget(self.waveforms, 1)
        lanes_row.addWidget(self.stem_list)
        wave_layout.addLayout(lanes_row, 1)
        wave_layout.addLayout(transport)

        self.log_panel = LogPanel()
        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.setObjectName("rightSplitter")
        self.right_splitter.addWidget(queue_box)
        self.right_splitter.addWidget(wave_box)
        self.right_splitter.addWidget(self.log_panel)
        self.right_splitter.setStretchFactor(0, 2)
        self.right_splitter.setStretchFactor(1, 3)
        self.right_splitter.setStretchFactor(2, 1)
        self.right_splitter.setSizes([200, 330, 90])
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.setObjectName("mainSplitter")
        self.main_splitter.addWidget(options_scroll)
        self.main_splitter.addWidget(self.right_splitter)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setSizes([290, 900])

        self.overall = QProgressBar()
        self.overall.setObjectName("overallProgress")
        self.overall.setRange(0, 1000)
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
        run_bar = QHBoxLayout()
        run_bar.setSpacing(10)
        run_bar.addWidget(self.overall, 2)
        run_bar.addWidget(self.run_label, 3)
        run_bar.addWidget(self.cancel_button)
        run_bar.addWidget(self.start_button)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(8)
        layout.addWidget(self.banner)
        layout.addWidget(self.main_splitter, 1)
        layout.addLayout(run_bar)
        self.setCentralWidget(central)
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None and screen.width() > 0:
            self.resize(min(1280, int(screen.width() * 0.92)), min(820, int(screen.height() * 0.92)))
        else:
            self.resize(1280, 820)

        if not self.player.available:
            for control in (self.play_button,):
                control.setEnabled(False)
                control.setToolTip(self.player.unavailable_reason)
            self.time_label.setToolTip(self.player.unavailable_reason)

    def _build_actions(self) -> None:
        def action(text: str, slot, shortcut=None, tip: str = "") -> QAction:
            act = QAction(text, self)
            act.triggered.connect(slot)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            if tip:
                act.setStatusTip(tip)
            self.addAction(act)
            return act

        self.add_files_action = action("Add &Files…", self.choose_files, QKeySequence.StandardKey.Open,
                                       "Add audio files to the queue")
        self.add_folder_action = action("Add F&older…", self.choose_folder, "Ctrl+Shift+O",
                                        "Add every audio file in a folder (and its subfolders)")
        self.open_output_action = action("Open &Output Folder", self.open_output_folder)
        self.quit_action = action("&Quit", self.close, "Ctrl+Q")
        self.start_action = action("&Start", self.start, "Ctrl+Return", "Separate the queued tracks")
        self.cancel_action = action("&Cancel", self.cancel, "Esc", "Stop after the current chunk")
        self.play_action = action("&Play / Pause", self.player.toggle, "Space")
        self.remove_action = action("&Remove From Queue", self.remove_selected, QKeySequence.StandardKey.Delete)
        self.clear_finished_action = action("Clear &Finished", self.clear_finished)
        self.about_action = action("&About Stemforge", self.show_about)
        self.play_action.setEnabled(self.player.available)

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for act in (self.add_files_action, self.add_folder_action, self.open_output_action):
            file_menu.addAction(act)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        queue_menu = bar.addMenu("&Queue")
        for act in (self.start_action, self.cancel_action, self.remove_action, self.clear_finished_action):
            queue_menu.addAction(act)
        play_menu = bar.addMenu("&Playback")
        play_menu.addAction(self.play_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    # adding files ---------------------------------------------------------------------
    def add_paths(self, paths: list[Path]) -> list[QueueItem]:
        """Queue files and folders (searched recursively); returns the new items."""
        files = []
        for path in find_audio_files([Path(p) for p in paths]):
            if path.is_file() and not is_audio_file(path):
                log.info("ignored %s (not an audio file)", path.name)
                continue
            files.append(path)
        added = self.queue.add(files)
        self.table_model.append(added)
        if added:
            log.info("queued %d file%s", len(added), "s" if len(added) != 1 else "")
            for item in added:
                if item.probe_error:
                    log.warning("%s", item.probe_error)
            if self.table.currentIndex().row() < 0:
                self.select_row(self.queue.row_of(added[0].id))
        elif paths:
            self.statusBar().showMessage("No new audio files found.", 4000)
        self._update_controls()
        return added

    def handle_drop(self, mime) -> list[QueueItem]:
        return self.add_paths(paths_from_mime(mime))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if paths_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = paths_from_mime(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add tracks", self.settings.last_folder(), AUDIO_FILTER)
        if files:
            self.settings.set_last_folder(Path(files[0]).parent)
            self.add_paths([Path(f) for f in files])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of tracks", self.settings.last_folder())
        if folder:
            self.settings.set_last_folder(Path(folder))
            self.add_paths([Path(folder)])

    # queue management ------------------------------------------------------------------
    def select_row(self, row: int) -> None:
        if 0 <= row < len(self.queue):
            self.table.selectionModel().setCurrentIndex(
                self.table_model.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)

    def selected_items(self) -> list[QueueItem]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.queue.items[row] for row in rows if row < len(self.queue)]

    def remove_selected(self) -> None:
        if self.running:
            self.statusBar().showMessage("The queue cannot be edited during a run.", 4000)
            return
        doomed = [item.id for item in self.selected_items()]
        if doomed:
            if self._shown_item in doomed:
                self._show_item(None)
            self.table_model.remove(doomed)
            self._update_controls()

    def clear_finished(self) -> None:
        if self.running:
            return
        finished = [item.id for item in self.queue if item.status in (ItemStatus.DONE, ItemStatus.SKIPPED)]
        if self._shown_item in finished:
            self._show_item(None)
        self.table_model.remove(finished)
        self._update_controls()

    def reset_selected(self) -> None:
        if self.running:
            return
        for item in self.selected_items():
            item.status, item.fraction, item.message = ItemStatus.WAITING, 0.0, ""
            item.outputs, item.recipe = {}, None
            self.table_model.refresh(item.id)
        self._update_controls()

    def _queue_menu(self, position) -> None:
        menu = QMenu(self)
        menu.addAction(self.remove_action)
        menu.addAction("Run Again", self.reset_selected).setEnabled(not self.running)
        menu.addAction(self.clear_finished_action)
        menu.addSeparator()
        menu.addAction(self.open_output_action)
        menu.popup(self.table.viewport().mapToGlobal(position))

    # running ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None

    def current_options(self) -> AppOptions:
        return self.options_panel.options()

    def start(self) -> bool:
        """Start the queue's unfinished files; False (with a message) when it cannot."""
        if self.running:
            return False
        if not self.model_available:
            self.show_error("No model installed", self.model_info.missing or "No model is installed.")
            return False
        items = self.queue.runnable()
        if not items:
            self.statusBar().showMessage("Nothing to do: add tracks first (everything queued is done).", 5000)
            return False
        options = self.current_options()
        problems = options.problems()
        if problems:
            self.show_error("Check the options", "\n".join(problems))
            return False
        self.save_settings()
        for item in items:
            item.status, item.fraction, item.message = ItemStatus.WAITING, 0.0, ""
            item.outputs, item.recipe, item.null_db = {}, None, None
        self.table_model.refresh_all()
        self.job = BatchJob(
            item_ids=[item.id for item in items],
            paths=[item.path for item in items],
            options=options.to_separation_options(),
            model_spec=self.model_info.spec,
        )
        self._batch_ids = list(self.job.item_ids)
        self._done_audio = 0.0
        if self._shown_item in self._batch_ids:  # release its old stems (Windows cannot replace open files)
            self._show_item(self.queue.by_id(self._shown_item))
        self.clock = ThroughputClock()
        self.overall.setValue(0)
        self.run_label.setText("Starting…")
        log.info("starting %d file%s: %s, preset %s, device %s -> %s", len(items), "s" if len(items) != 1 else "",
                 ", ".join(options.stems) + (" + other" if options.residual else ""), options.preset,
                 options.device, options.out_dir)
        self._update_controls()
        self._tick.start()
        self.start_requested.emit(self.job)
        return True

    def cancel(self) -> None:
        if self.job is None or self.job.cancel.cancelled:
            return
        self.job.cancel.cancel()
        self.run_label.setText("Cancelling after the current chunk…")
        log.info("cancel requested")
        self._update_controls()

    def _batch_audio(self) -> float:
        return sum(item.duration or 0.0 for item in map(self.queue.by_id, self._batch_ids) if item)

    def _on_worker_status(self, message: str) -> None:
        self.run_label.setText(message)

    def _on_model_ready(self, model_id: str) -> None:
        self.clock.start(self._batch_audio())
        self.run_label.setText(f"Separating with {model_id}…")

    def _on_file_progress(self, item_id: int, fraction: float, message: str) -> None:
        item = self.queue.by_id(item_id)
        if item is None:
            return
        item.status = ItemStatus.RUNNING
        item.fraction = fraction
        self.table_model.refresh(item_id)
        self.clock.update(self._done_audio + fraction * (item.duration or 0.0))
        self.overall.setValue(int(round(self.clock.fraction * 1000)))
        self.statusBar().showMessage(message)

    def _on_file_finished(self, item_id: int, result: FileResult) -> None:
        item = self.queue.by_id(item_id)
        if item is None:
            return
        item.status = STATUS_OF_RESULT.get(result.status, ItemStatus.FAILED)
        item.message = result.message
        item.fraction = 1.0 if item.status is ItemStatus.DONE else 0.0
        item.outputs = dict(result.outputs)
        item.recipe = result.recipe
        item.null_db = result.null_db
        if item.status is ItemStatus.DONE:
            self._done_audio += item.duration or 0.0
            log.info("done: %s (%.1f s)", result.message, result.seconds)
        else:
            self.clock.drop(item.duration or 0.0)
            level = logging.INFO if item.status is ItemStatus.CANCELLED else logging.WARNING
            log.log(level, "%s: %s", item.status.value, result.message)
        self.clock.update(self._done_audio)
        self.overall.setValue(int(round(self.clock.fraction * 1000)))
        self.table_model.refresh(item_id)
        if item_id == self._shown_item:
            self._show_item(item)

    def _on_batch_finished(self, results: list[FileResult]) -> None:
        counts = {status: sum(r.status == status for r in results) for status in STATUS_OF_RESULT}
        elapsed = self.clock.elapsed
        self._finish_run()
        parts = [f"{counts[s]} {s}" for s in ("done", "failed", "skipped", "cancelled") if counts[s]]
        summary = ", ".join(parts) or "nothing to do"
        self.run_label.setText(f"Finished: {summary} in {format_duration(elapsed)}.")
        if counts["done"] and not counts["failed"] and not counts["cancelled"]:
            self.overall.setValue(1000)
        log.info("batch finished: %s", summary)
        self.run_finished.emit(results)

    def _on_batch_failed(self, message: str, details: str) -> None:
        for item_id in self._batch_ids:
            item = self.queue.by_id(item_id)
            if item is not None and item.status in (ItemStatus.RUNNING, ItemStatus.WAITING):
                item.status, item.fraction = ItemStatus.WAITING, 0.0
        self.table_model.refresh_all()
        self._finish_run()
        self.run_label.setText("The run could not start; see the message.")
        self.show_error("Separation failed", message, details)
        self.run_finished.emit([])

    def _finish_run(self) -> None:
        self.clock.stop()
        self._tick.stop()
        self.job = None
        self._update_controls()

    def _update_run_label(self) -> None:
        if not self.running or not self.clock.running:
            return
        finished = sum(1 for i in map(self.queue.by_id, self._batch_ids) if i and i.status.finished)
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

    def _update_controls(self) -> None:
        running = self.running
        can_start = self.model_available and not running and bool(self.queue.runnable())
        self.start_button.setEnabled(can_start)
        self.start_action.setEnabled(can_start)
        cancellable = running and not self.job.cancel.cancelled
        self.cancel_button.setEnabled(cancellable)
        self.cancel_action.setEnabled(cancellable)
        self.options_panel.setEnabled(not running)
        self.remove_action.setEnabled(not running)
        self.clear_finished_action.setEnabled(not running)
        if not self.model_available:
            self.start_button.setToolTip("No model installed: " + (self.model_info.missing or ""))
        else:
            self.start_button.setToolTip("Separate the queued tracks (Ctrl+Return)")

    # showing a track --------------------------------------------------------------------
    def _on_current_row(self, current: QModelIndex, previous: QModelIndex) -> None:
        item = self.queue.items[current.row()] if current.isValid() and current.row() < len(self.queue) else None
        self._show_item(item)

    def _show_item(self, item: QueueItem | None) -> None:
        """Lanes, stem rows and audition tracks of one queue item (mixture + finished stems)."""
        self._shown_item = item.id if item else None
        if item is None:
            self._shown_tracks = {}
            self.waveforms.clear_lanes()
            self.stem_list.set_tracks({})
            self.mixer.clear()
            self._update_time_label(0.0)
            return
        if item.probe_error:
            self._shown_tracks = {}
            self.waveforms.clear_lanes(f"Cannot show {item.name}: it is not readable audio.")
            self.stem_list.set_tracks({})
            self.mixer.clear()
            return
        tracks = {MIXTURE: item.path}
        if item.status is ItemStatus.DONE:
            tracks.update({name: path for name, path in item.outputs.items() if path.exists()})
        if tracks == self._shown_tracks:
            return
        self._shown_tracks = tracks
        self.waveforms.set_lanes(list(tracks), item.duration or 0.0)
        for name, path in tracks.items():
            envelope = self.envelopes.request(path)
            if envelope is not None:
                self.waveforms.set_envelope(name, envelope)
            else:
                self.waveforms.show_lane_status(name, "reading…")
        self.stem_list.set_tracks(tracks)
        try:
            self.mixer.set_tracks({name: FileTrack(path) for name, path in tracks.items()})
        except Exception as error:  # unreadable for playback: lanes still show what they can
            log.warning("cannot prepare playback of %s: %s", item.name, error)
            self.mixer.clear()
        self.waveforms.set_playhead(self.player.position())
        self._update_time_label(self.player.position())

    def _on_envelope_loaded(self, path: str, envelope: PeakEnvelope | None) -> None:
        for name, track_path in self._shown_tracks.items():
            if str(track_path) == path:
                self.waveforms.set_envelope(name, envelope)

    def _on_routing_changed(self) -> None:
        self.stem_list.sync(self.mixer.soloed, self.mixer.muted)
        self.waveforms.set_audible(self.mixer.audible())

    def _on_play_position(self, seconds: float) -> None:
        self.waveforms.set_playhead(seconds)
        self._update_time_label(seconds)

    def _on_playing_changed(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setText("Pause" if playing else "Play")

    def _update_time_label(self, seconds: float) -> None:
        def clock(value: float) -> str:
            minutes, secs = divmod(max(value, 0.0), 60)
            return f"{int(minutes)}:{secs:04.1f}"

        self.time_label.setText(f"{clock(seconds)} / {clock(self.mixer.duration)}")

    # output folder, about, errors -----------------------------------------------------------
    def output_folder(self) -> Path:
        """The shown track's stem folder when it is done, else the chosen output folder."""
        item = self.queue.by_id(self._shown_item) if self._shown_item else None
        if item is not None and item.recipe is not None:
            return item.recipe.parent
        return self.current_options().out_dir

    def open_output_folder(self) -> None:
        folder = self.output_folder()
        if not folder.exists():
            self.statusBar().showMessage(f"{folder} does not exist yet: it is created by the first run.", 5000)
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def show_about(self) -> None:
        AboutDialog(self.model_info, str(self.log_file) if self.log_file else None, self).exec()

    def show_error(self, title: str, text: str, details: str = "") -> QMessageBox:
        """A readable, non-blocking error dialog (also logged)."""
        log.error("%s: %s", title, text)
        box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        if self.log_file:
            box.setInformativeText(f"Details are in the log file:\n{self.log_file}")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self._error_box = box
        return box

    # settings and closing -------------------------------------------------------------------
    def _on_options_changed(self) -> None:
        self._save_timer.start()

    def save_settings(self) -> None:
        self.settings.save_options(self.current_options())
        self.settings.save_window_state({
            "geometry": self.saveGeometry(),
            "main_splitter": self.main_splitter.saveState(),
            "right_splitter": self.right_splitter.saveState(),
        })
        self.settings.sync()

    def _restore_window_state(self) -> None:
        state = self.settings.window_state()
        restorers = {"geometry": self.restoreGeometry, "main_splitter": self.main_splitter.restoreState,
                     "right_splitter": self.right_splitter.restoreState}
        for key, restore in restorers.items():
            value = state.get(key)
            if isinstance(value, QByteArray):
                restore(value)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """Save settings; a running batch is cancelled (the engine removes partial files)."""
        if self._closed:
            super().closeEvent(event)
            return
        self._closed = True
        self._save_timer.stop()
        self.save_settings()
        if self.job is not None:
            log.info("closing during a run: cancelling")
            self.job.cancel.cancel()
        self.player.stop()
        self.engine.stop()
        self.envelopes.shutdown()
        self.mixer.clear()
        self.log_panel.detach()
        super().closeEvent(event)
