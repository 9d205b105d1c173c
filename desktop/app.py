"""Starting the app: ``stemforge-gui [FILES...]`` (console script ``desktop.app:main``)."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

log = logging.getLogger("desktop.app")


def _install_excepthook(app) -> None:
    """Unexpected errors in Qt slots: log them and show a readable dialog instead of dying silently."""
    from PySide6.QtWidgets import QMessageBox

    def hook(kind, value, tb) -> None:
        details = "".join(traceback.format_exception(kind, value, tb))
        log.error("unexpected error: %s", details)
        window = app.activeWindow()
        box = QMessageBox(QMessageBox.Icon.Critical, "Unexpected error",
                          f"Something went wrong: {kind.__name__}: {value}\n\n"
                          "Your queue is intact; the details are in the log.",
                          QMessageBox.StandardButton.Ok, window)
        box.setDetailedText(details)
        box.open()

    sys.excepthook = hook


def launch(files: list[Path] | None = None, model: str | None = None, qt_args: list[str] | None = None) -> int:
    """Create the application and the window, queue ``files``, run the event loop."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from desktop.logs import setup_log_file
    from desktop.resources import app_icon
    from desktop.settings import APPLICATION, ORGANISATION
    from desktop.theme import apply_theme

    QCoreApplication.setOrganizationName(ORGANISATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "stemforge-gui", *(qt_args or [])])
    app.setApplicationDisplayName("Stemforge")
    app.setDesktopFileName("stemforge")
    app.setWindowIcon(app_icon())
    apply_theme(app)
    log_file = setup_log_file()
    _install_excepthook(app)

    from desktop.main_window import MainWindow
    from desktop.model_info import describe

    info = describe(model) if model else None
    window = MainWindow(model_info=info, log_file=log_file)
    if files:
        window.add_paths(list(files))
    window.show()
    code = app.exec()
    window.close()  # stops the worker thread if the loop ended some other way
    return code


def build_parser() -> argparse.ArgumentParser:
    from desktop.command import add_arguments

    parser = argparse.ArgumentParser(prog="stemforge-gui", description="Stemforge desktop app.")
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``stemforge-gui``."""
    from desktop.command import run

    args, qt_args = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    args.qt_args = qt_args
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
