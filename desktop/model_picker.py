"""The model selector: installed models, "Add model…", "Get model…" (an official Demucs model,
downloaded on request: :mod:`desktop.model_getter`), "Remove", and the chosen model's stems
and licence note.

The list comes from :func:`desktop.model_info.list_models` (or a fixed list when the window
was given its model). Adding reads and checks the chosen files with
:func:`core.models.registry.add_model`, which builds the networks (torch), so it runs in a
background thread and reports back through a signal; removing only deletes a folder
(:func:`core.models.registry.remove_model`) and asks first. A ``.th`` file is a pickle: the
file dialog says so, and the engine reads it with torch's weights-only unpickler.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.model_getter import ModelGetter
from desktop.model_info import ModelInfo, list_models

log = logging.getLogger(__name__)

MODEL_FILTER = ("Models (*.th *.yaml *.yml manifest.json);;Demucs model (*.th);;Demucs bag (*.yaml *.yml);;"
                "Stemforge bundle (manifest.json);;All files (*)")
PICKLE_NOTE = ("A Demucs .th file is a Python pickle, which can run code when loaded. Stemforge reads it "
               "with torch's weights-only reader, which refuses anything but Demucs models; still, add only "
               "files from a source you trust.")


class ModelPicker(QGroupBox):
    """Signals:
        model_changed(object): the chosen :class:`ModelInfo` (also after adding or removing).
        error(str, str): a title and a readable message (adding or removing failed).
        add_finished(bool): an "Add model…" ended (True: a model was added).
        get_finished(bool): a "Get model…" ended (True: a model was downloaded and installed).
    """

    model_changed = Signal(object)
    error = Signal(str, str)
    add_finished = Signal(bool)
    get_finished = Signal(bool)
    _added = Signal(object, str)  # from the adding thread: description or None, error message

    def __init__(self, models: list[ModelInfo] | None = None,
                 lister: Callable[[], tuple[list[ModelInfo], list[str]]] | None = None,
                 parent: QWidget | None = None):
        super().__init__("Model", parent)
        self._lister = lister or list_models
        self.models: list[ModelInfo] = []
        self.combo = QComboBox()
        self.combo.setObjectName("modelSelector")
        self.combo.currentIndexChanged.connect(self._on_index)
        self.add_button = QPushButton("Add model…")
        self.add_button.setToolTip("Install a model from files you have: a Demucs .th, a bag's .yaml beside its "
                                   ".th files, or a Stemforge bundle's manifest.json.\n" + PICKLE_NOTE)
        self.add_button.clicked.connect(self.choose_files)
        self.getter = ModelGetter(self)
        self.getter.finished.connect(self._on_got)
        self.get_button = self.getter.button()
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the chosen model from your model folder (built-in models stay)")
        self.remove_button.clicked.connect(lambda: self.remove_current())
        self.note = QLabel()
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.get_button)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setSpacing(6)
        layout.addWidget(self.combo)
        layout.addLayout(buttons)
        layout.addWidget(self.note)
        self._added.connect(self._on_added)
        self._adding = False
        self.set_models(models if models is not None else self._lister()[0])

    # the list ----------------------------------------------------------------------------
    def set_models(self, models: list[ModelInfo], current_id: str | None = None) -> None:
        """Show ``models``; choose ``current_id`` (default: the current one, else the first)."""
        current_id = current_id or (self.current().model_id if self.current() else None)
        self.models = list(models)
        self.combo.blockSignals(True)
        self.combo.clear()
        for info in self.models:
            self.combo.addItem(info.model_id + ("" if info.family == "stemforge" else f"  ({info.family})"))
            self.combo.setItemData(self.combo.count() - 1, info.stems_note(), Qt.ItemDataRole.ToolTipRole)
        index = next((i for i, info in enumerate(self.models) if info.model_id == current_id), 0)
        self.combo.setCurrentIndex(index if self.models else -1)
        self.combo.blockSignals(False)
        self._show(self.current())
        if self.current() is not None:
            self.model_changed.emit(self.current())

    def refresh(self, current_id: str | None = None) -> None:
        """List the installed models again (after adding or removing); report unreadable ones."""
        models, problems = self._lister()
        for problem in problems:
            log.warning("%s", problem)
        self.set_models(models, current_id)

    def current(self) -> ModelInfo | None:
        index = self.combo.currentIndex()
        return self.models[index] if 0 <= index < len(self.models) else None

    def select(self, model_id: str) -> bool:
        """Choose the model ``model_id`` if it is listed (emits ``model_changed`` on a change)."""
        for index, info in enumerate(self.models):
            if info.model_id == model_id:
                self.combo.setCurrentIndex(index)
                return True
        return False

    def _on_index(self, index: int) -> None:
        self._show(self.current())
        if self.current() is not None:
            self.model_changed.emit(self.current())

    def _show(self, info: ModelInfo | None) -> None:
        self.note.setText(info.stems_note() if info else "No model installed: add one.")
        self.note.setToolTip(info.origin if info and info.origin else "")
        self.remove_button.setEnabled(bool(info and info.removable) and not self._adding)
        self.add_button.setEnabled(not self._adding)

    # adding and removing ------------------------------------------------------------------
    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add a model — " + PICKLE_NOTE, str(Path.home()), MODEL_FILTER)
        if files:
            self.add_files([Path(f) for f in files])

    def add_files(self, paths: list[Path]) -> None:
        """Install the model in ``paths`` in the background; ``add_finished`` reports the end."""
        if self._adding:
            return
        self._adding = True
        self._show(self.current())
        log.info("adding a model from %s", ", ".join(map(str, paths)))

        def work() -> None:
            try:
                from core.models.registry import add_model

                self._added.emit(add_model(paths), "")
            except Exception as error:  # reported as a dialog, never a crash
                self._added.emit(None, str(error) or type(error).__name__)

        threading.Thread(target=work, name="stemforge-add-model", daemon=True).start()

    def _on_added(self, description, message: str) -> None:
        self._adding = False
        if description is None:
            self._show(self.current())
            self.error.emit("The model cannot be added", message)
            self.add_finished.emit(False)
            return
        log.info("added model %s (%s)", description.id, description.family)
        self.refresh(description.id)
        self.add_finished.emit(True)

    def _on_got(self, description, message: str, cancelled: bool) -> None:
        if description is not None:
            self.refresh(description.id)
        elif message and not cancelled:
            self.error.emit("The model cannot be downloaded", message)
        self.get_finished.emit(description is not None)

    def remove_current(self, confirm: bool = True) -> bool:
        """Remove the chosen model (asks first unless ``confirm`` is False)."""
        info = self.current()
        if info is None or not info.removable:
            return False
        if confirm and QMessageBox.question(
                self, "Remove model", f"Remove the model {info.model_id} from your model folder?\n{info.spec}"
        ) != QMessageBox.StandardButton.Yes:
            return False
        try:
            from core.models.registry import remove_model

            remove_model(info.model_id)
        except Exception as error:
            self.error.emit("The model cannot be removed", str(error))
            return False
        log.info("removed model %s", info.model_id)
        self.refresh()
        return True
