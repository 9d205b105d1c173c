"""The main window: assembles the queue, the options, the preview, the run bar and the log.

The window owns the state (:class:`~desktop.queue.JobQueue`, options, settings) and
lays out its parts: the options panel, the queue table with its drop zone, the
:class:`~desktop.preview.PreviewPanel` (lanes, stems, audition), the
:class:`~desktop.run_control.RunControl` (Start, Cancel, progress; it owns the engine
worker) and the log. What remains here is adding and removing files, the menus,
the output folder, error dialogs, and saving settings.

Why it is a little over 400 lines: what remains is the window's own wiring (every part
is built, connected and saved here, once), and each method is a few lines of it. Moving
the queue's add/remove actions out would leave a second class that reaches into the
window's table, queue, run control and status bar for every line; the split along the
parts above is the one that carries a concept.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QByteArray, QModelIndex, QSettings, Qt, QTimer, QUrl
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
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.audio.reader import AUDIO_EXTENSIONS, is_audio_file
from core.jobs import FileStatus, scan_inputs
from desktop.about import AboutDialog
from desktop.drop_zone import DropZone, paths_from_mime
from desktop.logs import LogPanel
from desktop.model_info import ModelInfo, describe, list_models
from desktop.options import AppOptions
from desktop.options_panel import OptionsColumn, OptionsPanel
from desktop.preview import PreviewPanel
from desktop.queue import JobQueue, QueueItem
from desktop.queue_model import QueueTableModel, QueueTableView
from desktop.resources import app_icon
from desktop.run_control import RunControl
from desktop.settings import AppSettings
from desktop.worker import ModelLoader

log = logging.getLogger(__name__)

AUDIO_FILTER = "Audio files (" + " ".join(f"*{ext}" for ext in sorted(AUDIO_EXTENSIONS)) + ");;All files (*)"


class MainWindow(QMainWindow):
    """Stemforge's window.

    Args:
        model_loader: ``(spec, device) -> StemModel``; default :func:`core.bundle.load_model`
            (tests inject a tiny model). It runs in the worker thread.
        model_info: the model to start with; default: the one chosen last time, else the
            default installed model. Without ``model_loader`` the options offer every
            installed model (:class:`~desktop.model_picker.ModelPicker`); with it, only this one.
        settings: where choices persist; default ``QSettings("Stemforge", "Stemforge")``.
        devices: ``{"auto": True, "cpu": True, "cuda": bool, "mps": bool}``; default:
            :func:`core.devices.available_devices`.
        audio_output: output device for audition; default: the system's default output.
        log_file: shown in Help so users can find it.

    Attributes:
        preview: the shown track's lanes, stem rows and audition.
        run_control: the run bar; its ``run_finished`` signal reports each batch.
    """

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
        chosen_model = model_info is not None
        models, model_info = self._models(model_loader, model_info)
        self._injected_loader = model_loader is not None
        self._offered_models = models
        self.model_info = model_info
        self.model_available = model_loader is not None or model_info.installed
        if devices is None:
            from core.devices import available_devices

            devices = available_devices()
        self.queue = JobQueue()
        self.table_model = QueueTableModel(self.queue, self)
        self._error_box: QMessageBox | None = None
        self._closed = False

        self.preview = PreviewPanel(audio_output)
        self.run_control = RunControl(self.queue, self.table_model, self.current_options, model_loader,
                                      self.model_info, self.model_available)
        self._build_ui(devices)
        self._build_actions()
        self._connect_run_control()
        saved = self.settings.load_options()
        if chosen_model:  # a model named at start-up wins over the one chosen last time
            saved = replace(saved, model=self.model_info.model_id or "")
        self.options_panel.set_options(saved)
        self._restore_window_state()
        self.run_control.update_controls()

        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(400)
        self._save_timer.timeout.connect(self.save_settings)
        self.options_panel.changed.connect(self._save_timer.start)  # saved 400 ms after the last change
        log.info("Stemforge ready; model: %s",
                 self.model_info.model_id if self.model_available else "none installed")

    # construction ---------------------------------------------------------------------
    @staticmethod
    def _models(model_loader: ModelLoader | None, model_info: ModelInfo | None) -> tuple[list[ModelInfo], ModelInfo]:
        """The models to offer and the one to start with."""
        if model_loader is not None:
            model_info = model_info or ModelInfo(model_id="custom model")
            return [model_info], model_info
        models, problems = list_models()
        for problem in problems:
            log.warning("%s", problem)
        if model_info is None:
            model_info = models[0] if models else describe(None)  # describe says why there is none
        elif model_info.installed and model_info.model_id not in {m.model_id for m in models}:
            models.insert(0, model_info)
        return models, model_info

    def _on_model_changed(self, info: ModelInfo) -> None:
        """Another model was chosen (or added, or removed): runs use it from now on."""
        self.model_info = info
        self.model_available = self._injected_loader or info.installed
        self.run_control.model_info = info
        self.run_control.model_available = self.model_available
        self.banner.setVisible(not self.model_available)
        self.run_control.update_controls()
        log.info("model: %s", info.model_id)

    def _connect_run_control(self) -> None:
        run = self.run_control
        run.batch_started.connect(self._on_batch_started)
        run.item_finished.connect(self._on_item_finished)
        run.running_changed.connect(self._on_running_changed)
        run.error.connect(self.show_error)
        run.status_message.connect(self.statusBar().showMessage)

    def _build_ui(self, devices: dict[str, bool]) -> None:
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setVisible(not self.model_available)
        if not self.model_available:
            self.banner.setText(
                f"<b>No model installed.</b> {self.model_info.missing} You can queue tracks now; "
                "Start becomes available once a model is installed (\"Add model…\" in the options).")

        self.options_panel = OptionsPanel(self.model_info, devices, models=self._offered_models)
        self.options_panel.model_picker.model_changed.connect(self._on_model_changed)
        self.options_panel.model_picker.error.connect(self.show_error)
        self.options_column = OptionsColumn(self.options_panel)

        self.drop_zone = DropZone()
        self.drop_zone.paths_dropped.connect(self.add_paths)
        self.table = QueueTableView(self.table_model)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._queue_menu)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        queue_box = QWidget()
        queue_layout = QVBoxLayout(queue_box)
        queue_layout.setContentsMargins(0, 0, 0, 0)
        queue_layout.setSpacing(6)
        queue_layout.addWidget(self.drop_zone)
        queue_layout.addWidget(self.table, 1)

        self.preview.open_folder_button.clicked.connect(self.open_output_folder)

        self.log_panel = LogPanel()
        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.setObjectName("rightSplitter")
        self.right_splitter.addWidget(queue_box)
        self.right_splitter.addWidget(self.preview)
        self.right_splitter.addWidget(self.log_panel)
        self.right_splitter.setStretchFactor(0, 2)
        self.right_splitter.setStretchFactor(1, 3)
        self.right_splitter.setStretchFactor(2, 1)
        self.right_splitter.setSizes([200, 330, 90])
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.setObjectName("mainSplitter")
        self.main_splitter.addWidget(self.options_column)
        self.main_splitter.addWidget(self.right_splitter)
        self.main_splitter.setCollapsible(0, False)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setSizes([self.options_column.sizeHint().width(), 900])

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(8)
        layout.addWidget(self.banner)
        layout.addWidget(self.main_splitter, 1)
        layout.addWidget(self.run_control)
        self.setCentralWidget(central)
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None and screen.width() > 0:
            self.resize(min(1280, int(screen.width() * 0.92)), min(820, int(screen.height() * 0.92)))
        else:
            self.resize(1280, 820)

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
        start, cancel = self.run_control.start_action, self.run_control.cancel_action
        self.addActions([start, cancel])
        self.play_action = action("&Play / Pause", self.preview.player.toggle, "Space")
        self.remove_action = action("&Remove From Queue", self.remove_selected, QKeySequence.StandardKey.Delete)
        self.clear_finished_action = action("Clear &Finished", self.clear_finished)
        self.about_action = action("&About Stemforge", self.show_about)
        self.play_action.setEnabled(self.preview.player.available)

        menus = {  # None: a separator
            "&File": (self.add_files_action, self.add_folder_action, self.open_output_action, None,
                      self.quit_action),
            "&Queue": (start, cancel, self.remove_action, self.clear_finished_action),
            "&Playback": (self.play_action,),
            "&Help": (self.about_action,),
        }
        for title, actions in menus.items():
            menu = self.menuBar().addMenu(title)
            for act in actions:
                if act is None:
                    menu.addSeparator()
                else:
                    menu.addAction(act)

    # adding files ---------------------------------------------------------------------
    def add_paths(self, paths: list[Path]) -> list[QueueItem]:
        """Queue files and folders (searched recursively); returns the new items."""
        files = []
        found, empty = scan_inputs([Path(p) for p in paths])
        for folder in empty:
            log.info("ignored %s (no audio files in this folder)", folder.name)
        for path in found:
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
                self.table.select_row(self.queue.row_of(added[0].id))
        elif paths:
            self.statusBar().showMessage("No new audio files found.", 4000)
        self.run_control.update_controls()
        return added

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
    def selected_ids(self) -> list[int]:
        return [self.queue.items[row].id for row in self.table.selected_rows() if row < len(self.queue)]

    def remove_selected(self) -> None:
        if self.running:
            self.statusBar().showMessage("The queue cannot be edited during a run.", 4000)
            return
        self._remove(self.selected_ids())

    def clear_finished(self) -> None:
        if self.running:
            return
        self._remove([item.id for item in self.queue if item.status in (FileStatus.DONE, FileStatus.SKIPPED)])

    def _remove(self, item_ids: list[int]) -> None:
        if not item_ids:
            return
        if self.preview.shown_item in item_ids:
            self.preview.show_item(None)
        self.table_model.remove(item_ids)
        self.run_control.update_controls()

    def reset_selected(self) -> None:
        if self.running:
            return
        self.table_model.refresh(self.queue.reset(self.selected_ids()))
        self.run_control.update_controls()

    def _queue_menu(self, position) -> None:
        menu = QMenu(self)
        menu.addAction(self.remove_action)
        menu.addAction("Run Again", self.reset_selected).setEnabled(not self.running)
        menu.addAction(self.clear_finished_action)
        menu.addSeparator()
        menu.addAction(self.open_output_action)
        menu.popup(self.table.viewport().mapToGlobal(position))

    # running (the run bar does it; the window saves and shows) ---------------------------
    @property
    def running(self) -> bool:
        return self.run_control.running

    def current_options(self) -> AppOptions:
        return self.options_panel.options()

    def _on_batch_started(self, item_ids: list[int]) -> None:
        self.save_settings()
        if self.preview.shown_item in item_ids:  # release its old stems (Windows cannot replace open files)
            self.preview.show_item(self.queue.by_id(self.preview.shown_item))

    def _on_item_finished(self, item_id: int) -> None:
        if item_id == self.preview.shown_item:
            self.preview.show_item(self.queue.by_id(item_id))

    def _on_running_changed(self, running: bool) -> None:
        self.options_panel.setEnabled(not running)
        self.remove_action.setEnabled(not running)
        self.clear_finished_action.setEnabled(not running)

    def _on_current_row(self, current: QModelIndex, previous: QModelIndex) -> None:
        item = self.queue.items[current.row()] if current.isValid() and current.row() < len(self.queue) else None
        self.preview.show_item(item)

    # output folder, about, errors -----------------------------------------------------------
    def output_folder(self) -> Path:
        """The shown track's stem folder when it is done, else the chosen output folder."""
        shown = self.preview.shown_item
        item = self.queue.by_id(shown) if shown else None
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
        self.preview.player.stop()
        self.run_control.stop()
        self.preview.shutdown()
        self.log_panel.detach()
        super().closeEvent(event)
