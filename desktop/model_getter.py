""""Get model…": download an official Demucs model, after a confirmation, with a progress
dialog and Cancel.

The menu lists the catalogue's models (:data:`core.models.official.OFFICIAL`). Choosing one
opens a confirmation box (window-modal, not blocking) showing the model's origin, files,
sizes, pinned sha256 and licence situation; only "Download" starts anything. The download
(:func:`core.models.download.get_official`) runs in a background thread and reports through
signals to a progress dialog whose Cancel sets the engine's cancel flag: what was received
is kept and the next "Get model…" of the same model resumes it. The downloader is imported
only then: the app uses no network until a user asks.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMenu, QMessageBox, QProgressDialog, QPushButton, QWidget

from core.models import official

log = logging.getLogger(__name__)

PROGRESS_STEPS = 1000


class ModelGetter(QObject):
    """The "Get model…" flow for one parent widget.

    Signals:
        finished(object, str, bool): the installed model's description (None when nothing
            was installed), a one-line message (empty on success) and whether the user
            cancelled (at the confirmation or during the download).

    Attributes:
        catalogue: where models come from (None: :data:`~core.models.official.OFFICIAL`).
        confirm_box: the open confirmation box, if any.
        progress_dialog: the open progress dialog, if any.
    """

    finished = Signal(object, str, bool)
    _progress = Signal(float, str)
    _done = Signal(object, str, bool)

    def __init__(self, parent: QWidget, catalogue: official.Catalogue | None = None):
        super().__init__(parent)
        self._parent = parent
        self.catalogue = catalogue
        self.confirm_box: QMessageBox | None = None
        self.progress_dialog: QProgressDialog | None = None
        self._token = None
        self._progress.connect(self._on_progress)
        self._done.connect(self._on_done)

    @property
    def busy(self) -> bool:
        return self.confirm_box is not None or self.progress_dialog is not None

    def current_catalogue(self) -> official.Catalogue:
        return self.catalogue if self.catalogue is not None else official.OFFICIAL

    def button(self) -> QPushButton:
        """A "Get model…" button whose menu lists the catalogue's models."""
        button = QPushButton("Get model…")
        button.setToolTip("Download an official Demucs model (Meta's htdemucs family): its origin and licence are "
                          "shown first, and nothing is downloaded unless you confirm")
        menu = QMenu(button)
        menu.aboutToShow.connect(lambda: self.fill_menu(menu))
        button.setMenu(menu)
        return button

    def fill_menu(self, menu: QMenu) -> None:
        menu.clear()
        for model in self.current_catalogue().models.values():
            action = menu.addAction(f"{model.id} — {official.megabytes(model.total_size)}: {', '.join(model.stems)}")
            action.setToolTip(model.about)
            action.triggered.connect(lambda checked=False, model_id=model.id: self.ask(model_id))

    # the confirmation ---------------------------------------------------------------------
    def ask(self, model_id: str) -> None:
        """Show what ``model_id`` is and ask; "Download" starts it (:meth:`start`)."""
        if self.busy:
            return
        from core.errors import StemforgeError
        from core.models.download import find_official
        from core.models.store import models_folder

        catalogue = self.current_catalogue()
        try:
            model = find_official(model_id, catalogue)
        except StemforgeError as error:
            self.finished.emit(None, str(error), False)
            return
        box = QMessageBox(QMessageBox.Icon.Question, f"Get {model.id}",
                          f"Download {model.id} ({official.megabytes(model.total_size)}) and install it?",
                          QMessageBox.StandardButton.Cancel, self._parent)
        box.setInformativeText("\n".join(line.strip() for line in
                                         official.summary_lines(model, catalogue, str(models_folder() / model.id))))
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        download = box.addButton("Download", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _: self._answered(model.id, box.clickedButton() is download))
        self.confirm_box = box
        box.open()

    def _answered(self, model_id: str, confirmed: bool) -> None:
        box, self.confirm_box = self.confirm_box, None
        if box is not None:
            box.deleteLater()
        if confirmed:
            self.start(model_id)
        else:
            self.finished.emit(None, f"{model_id}: not downloaded", True)

    # the download ----------------------------------------------------------------------------
    def start(self, model_id: str) -> None:
        """Download and install ``model_id`` (already confirmed) in a background thread."""
        from core.progress import CancelToken

        catalogue = self.current_catalogue()
        token = CancelToken()
        self._token = token
        dialog = QProgressDialog(f"Downloading {model_id}…", "Cancel", 0, PROGRESS_STEPS, self._parent)
        dialog.setWindowTitle("Get model")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(token.cancel)
        self.progress_dialog = dialog
        dialog.show()
        log.info("downloading model %s from %s", model_id, catalogue.root_url)

        def work() -> None:
            from core.errors import Cancelled
            from core.models.download import get_official

            try:
                description = get_official(model_id, catalogue, progress=self._progress.emit, cancel=token)
            except Cancelled as error:
                self._done.emit(None, str(error), True)
            except Exception as error:  # reported as a dialog, never a crash
                self._done.emit(None, str(error) or type(error).__name__, False)
            else:
                self._done.emit(description, "", False)

        threading.Thread(target=work, name="stemforge-get-model", daemon=True).start()

    def cancel(self) -> None:
        """Cancel the running download (as its dialog's Cancel does)."""
        if self._token is not None:
            self._token.cancel()

    def _on_progress(self, fraction: float, message: str) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.setValue(int(round(fraction * PROGRESS_STEPS)))
            self.progress_dialog.setLabelText(message)

    def _on_done(self, description, message: str, cancelled: bool) -> None:
        dialog, self.progress_dialog, self._token = self.progress_dialog, None, None
        if dialog is not None:
            dialog.close()
            dialog.deleteLater()
        if description is not None:
            log.info("installed model %s", description.id)
        else:
            log.info("model download ended: %s", message)
        self.finished.emit(description, message, cancelled)
