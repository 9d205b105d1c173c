"""Logging for the app: a rotating log file in the app-data folder and the log panel.

Records from any thread reach the panel through a Qt signal (queued into the GUI
thread), so the engine's worker can log freely.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QPlainTextEdit, QWidget

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
PANEL_FORMAT = "%(asctime)s  %(message)s"
LOG_FILE_NAME = "stemforge.log"


def default_log_dir() -> Path:
    """``QStandardPaths.AppDataLocation`` (e.g. ``~/.local/share/Stemforge/Stemforge``)."""
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))


def setup_log_file(folder: Path | None = None, level: int = logging.INFO) -> Path | None:
    """Send the root logger to ``<folder>/stemforge.log`` (1 MB x 3 files); returns the path."""
    folder = Path(folder) if folder is not None else default_log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / LOG_FILE_NAME
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1 << 20, backupCount=3,
                                                       encoding="utf-8")
    except OSError as error:
        logging.getLogger(__name__).warning("cannot write the log file in %s: %s", folder, error)
        return None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    return path


class _Emitter(QObject):
    record = Signal(str, int)


class QtLogHandler(logging.Handler):
    """A logging handler that forwards formatted records as a Qt signal ``(text, levelno)``."""

    def __init__(self, level: int = logging.INFO):
        super().__init__(level)
        self.emitter = _Emitter()
        self.setFormatter(logging.Formatter(PANEL_FORMAT, datefmt="%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.emitter.record.emit(self.format(record), record.levelno)
        except RuntimeError:  # the panel was deleted while a thread still logged
            pass


class LogPanel(QPlainTextEdit):
    """Read-only view of recent log lines (warnings and errors coloured)."""

    MAX_LINES = 2000
    LOGGERS = ("core", "desktop")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("logPanel")
        self.setReadOnly(True)
        self.setMaximumBlockCount(self.MAX_LINES)
        self.setFont(QFont("monospace", 9))
        self.setPlaceholderText("Log messages appear here.")
        self.handler = QtLogHandler()
        self.handler.emitter.record.connect(self.append_record)
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self.handler)
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)

    def append_record(self, text: str, level: int) -> None:
        if level >= logging.ERROR:
            colour = "#ff7b7b"
        elif level >= logging.WARNING:
            colour = "#f2c14e"
        else:
            colour = "#b9bfca"
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        self.appendHtml(f'<span style="color:{colour}">{escaped}</span>')

    def detach(self) -> None:
        """Stop receiving records (call before the panel is destroyed)."""
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self.handler)
