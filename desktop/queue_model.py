"""The queue as a Qt table (file, duration, format, status): model, view, progress-bar delegate."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    Qt,
)
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QTableView,
)

from core.jobs import FileStatus
from desktop.eta import format_duration
from desktop.queue import JobQueue, QueueItem, QueueState

COLUMNS = ("File", "Duration", "Format", "Status")
STATUS_COLUMN = 3
STATUS_COLORS = {
    QueueState.WAITING: "#8d94a0",
    QueueState.RUNNING: "#f2a33a",
    FileStatus.DONE: "#6fd08c",
    FileStatus.FAILED: "#ff7b7b",
    FileStatus.SKIPPED: "#f2c14e",
    FileStatus.CANCELLED: "#b0b6c0",
}
ItemRole = Qt.ItemDataRole.UserRole + 1
FractionRole = Qt.ItemDataRole.UserRole + 2


class QueueTableModel(QAbstractTableModel):
    def __init__(self, queue: JobQueue, parent=None):
        super().__init__(parent)
        self.queue = queue

    def rowCount(self, parent=None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(self.queue)

    def columnCount(self, parent=None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def item(self, row: int) -> QueueItem:
        return self.queue.items[row]

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        item = self.item(index.row())
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (item.name,
                    format_duration(item.duration) if item.duration is not None else "?",
                    item.format_label,
                    item.status_text)[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == STATUS_COLUMN and item.message:
                return item.message
            if column == 2 and item.probe_error:
                return item.probe_error
            return str(item.path)
        if role == Qt.ItemDataRole.ForegroundRole and column == STATUS_COLUMN:
            return QColor(STATUS_COLORS[item.status])
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == ItemRole:
            return item.id
        if role == FractionRole:
            return item.fraction if item.status is QueueState.RUNNING else None
        return None

    # updates from the window ----------------------------------------------------
    def append(self, items: list[QueueItem]) -> None:
        """Items already appended to the queue by :meth:`JobQueue.add`."""
        if not items:
            return
        first = len(self.queue) - len(items)
        self.beginInsertRows(QModelIndex(), first, len(self.queue) - 1)
        self.endInsertRows()

    def refresh(self, item_ids: Iterable[int]) -> None:
        """Redraw the rows of ``item_ids`` (what a :class:`JobQueue` transition returned)."""
        rows = [row for row in map(self.queue.row_of, item_ids) if row >= 0]
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(COLUMNS) - 1))

    def remove(self, item_ids: list[int]) -> None:
        self.beginResetModel()
        self.queue.remove(item_ids)
        self.endResetModel()


class StatusDelegate(QStyledItemDelegate):
    """Draws a slim progress bar behind the status text of the running file."""

    TRACK = QColor("#2a2d35")
    CHUNK = QColor("#a86d24")

    def paint(self, painter, option, index) -> None:
        fraction = index.data(FractionRole)
        if fraction is None:
            super().paint(painter, option, index)
            return
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar = QRectF(option.rect.adjusted(4, 5, -6, -5))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.TRACK)
        painter.drawRoundedRect(bar, 4, 4)
        done = QRectF(bar)
        done.setWidth(bar.width() * min(max(fraction, 0.0), 1.0))
        painter.setBrush(self.CHUNK)
        painter.drawRoundedRect(done, 4, 4)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(bar, Qt.AlignmentFlag.AlignCenter, index.data(Qt.ItemDataRole.DisplayRole))
        painter.restore()


class QueueTableView(QTableView):
    """The queue table: whole-row extended selection, a progress bar in the status column."""

    def __init__(self, model: QueueTableModel, parent=None):
        super().__init__(parent)
        self.setObjectName("queueTable")
        self.setModel(model)
        self.setItemDelegateForColumn(STATUS_COLUMN, StatusDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(26)
        header = self.horizontalHeader()
        stretch, fit = QHeaderView.ResizeMode.Stretch, QHeaderView.ResizeMode.ResizeToContents
        for column, mode in enumerate((stretch, fit, fit, stretch)):
            header.setSectionResizeMode(column, mode)
        header.setHighlightSections(False)

    def select_row(self, row: int) -> None:
        """Make ``row`` the current, only selected row (nothing happens outside the table)."""
        if 0 <= row < self.model().rowCount():
            self.selectionModel().setCurrentIndex(
                self.model().index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)

    def selected_rows(self) -> list[int]:
        """The selected rows, in order."""
        return sorted({index.row() for index in self.selectionModel().selectedRows()})
