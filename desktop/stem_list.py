"""The track list next to the waveforms: solo/mute per track, and stems dragged out as files.

Dragging a row (or "all stems") out of the window carries the files as URLs
(``QMimeData.setUrls``), which DAWs and file managers accept as a file drop.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QDrag, QMouseEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.mixer import MIXTURE


def mime_for_files(paths: list[Path]) -> QMimeData:
    """Mime data carrying local files as ``file://`` URLs (text/uri-list)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(Path(p).resolve())) for p in paths])
    return mime


class _DragSource(QFrame):
    """A frame that starts a file drag when the mouse moves far enough with a button held."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._press: QPoint | None = None
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    def drag_paths(self) -> list[Path]:
        raise NotImplementedError

    def mime_data(self) -> QMimeData:
        return mime_for_files(self.drag_paths())

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._press is None or not event.buttons() & Qt.MouseButton.LeftButton:
            return
        if (event.position().toPoint() - self._press).manhattanLength() < QApplication.startDragDistance():
            return
        self._press = None
        paths = [p for p in self.drag_paths() if p.exists()]
        if not paths:
            return
        drag = QDrag(self)
        drag.setMimeData(mime_for_files(paths))
        drag.setPixmap(self.grab())
        drag.exec(Qt.DropAction.CopyAction)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._press = None
        super().mouseReleaseEvent(event)


class TrackRow(_DragSource):
    """``[swatch] name [S] [M]``; drag the row to export the file."""

    solo_toggled = Signal(str, bool)
    mute_toggled = Signal(str, bool)

    def __init__(self, name: str, path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.name = name
        self.path = Path(path)
        self.setObjectName("trackRow")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(6)
        swatch = QLabel()
        swatch.setObjectName("stemSwatch")
        swatch.setProperty("stem", name)
        swatch.setFixedSize(6, 22)
        label = QLabel(name if name != MIXTURE else "mixture (input)")
        label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.solo = self._toggle("S", f"Solo {name}", "soloButton")
        self.mute = self._toggle("M", f"Mute {name}", "muteButton")
        self.solo.toggled.connect(lambda on: self.solo_toggled.emit(self.name, on))
        self.mute.toggled.connect(lambda on: self.mute_toggled.emit(self.name, on))
        for widget in (swatch, label, self.solo, self.mute):
            layout.addWidget(widget)
        self.setToolTip(f"{self.path}\nDrag into your DAW or a folder to copy the file.")

    def _toggle(self, text: str, tip: str, object_name: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setCheckable(True)
        button.setToolTip(tip)
        button.setObjectName(object_name)
        button.setFixedSize(24, 22)
        button.setCursor(Qt.CursorShape.ArrowCursor)
        return button

    def drag_paths(self) -> list[Path]:
        return [self.path]

    def set_state(self, soloed: bool, muted: bool) -> None:
        for button, on in ((self.solo, soloed), (self.mute, muted)):
            button.blockSignals(True)
            button.setChecked(on)
            button.blockSignals(False)


class AllStemsHandle(_DragSource):
    """Drag every stem of the track at once."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("allStemsHandle")
        self.paths: list[Path] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 3, 6, 3)
        self.label = QLabel("⇲  Drag all stems")
        layout.addWidget(self.label)
        self.setToolTip("Drag into your DAW or a folder to copy every stem of this track.")

    def drag_paths(self) -> list[Path]:
        return list(self.paths)


class StemList(QWidget):
    """Rows for the shown track (mixture first), in the lanes' order.

    Signals:
        solo_toggled(str, bool), mute_toggled(str, bool): forwarded from the rows.
    """

    solo_toggled = Signal(str, bool)
    mute_toggled = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("stemList")
        self.rows: dict[str, TrackRow] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(3)
        self.all_stems = AllStemsHandle()
        self.all_stems.hide()
        self._hint = QLabel("Stems appear here when a track is done.\nDrag them into your DAW.")
        self._hint.setObjectName("hint")
        self._hint.setWordWrap(True)
        self._layout.addWidget(self._hint)
        self._layout.addStretch(1)
        self._layout.addWidget(self.all_stems)

    def set_tracks(self, tracks: dict[str, Path]) -> None:
        """``name -> file``, the mixture first."""
        for row in self.rows.values():
            self._layout.removeWidget(row)
            row.deleteLater()
        self.rows = {}
        for index, (name, path) in enumerate(tracks.items()):
            row = TrackRow(name, path)
            row.solo_toggled.connect(self.solo_toggled)
            row.mute_toggled.connect(self.mute_toggled)
            self._layout.insertWidget(index, row)
            self.rows[name] = row
        stems = [path for name, path in tracks.items() if name != MIXTURE]
        self.all_stems.paths = stems
        self.all_stems.setVisible(bool(stems))
        self._hint.setVisible(not stems)

    def sync(self, soloed: set[str], muted: set[str]) -> None:
        for name, row in self.rows.items():
            row.set_state(name in soloed, name in muted)
