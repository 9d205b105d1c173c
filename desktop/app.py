"""Starting the app: ``stemforge-gui [FILES...]`` (console script ``desktop.app:main``).

Its options and start (:func:`add_arguments`, :func:`run`) also serve ``stemforge gui``
through :mod:`desktop.command`, which imports this module (never the other way round).
Both entry points end through :func:`core.cli.run_command`, the one place that turns an
error into a line and an exit code.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
import traceback
from pathlib import Path

from core.errors import ConfigError, Outcome, StemforgeError

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
    # Python's cyclic garbage collector runs in whichever thread happens to allocate; run
    # in the model worker it may destroy Qt objects of the window off the GUI thread, which
    # crashes Qt. pyqtgraph's collector turns automatic collection off and collects on a
    # GUI-thread timer instead (kept alive by this reference until the loop ends).
    import gc

    from pyqtgraph.util.garbage_collector import GarbageCollector

    automatic_collection = gc.isenabled()
    collector = GarbageCollector(interval=1.0)

    from desktop.main_window import MainWindow
    from desktop.model_info import describe_model

    info = describe_model(model) if model else None
    window = MainWindow(model_info=info, log_file=log_file)
    if files:
        window.add_paths(list(files))
    window.show()
    code = app.exec()
    window.close()  # stops the worker thread if the loop ended some other way
    collector.timer.stop()
    if automatic_collection:
        gc.enable()
    return code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``stemforge-gui`` and of ``stemforge gui`` (one definition for both)."""
    parser.add_argument("inputs", nargs="*", type=Path, metavar="FILE_OR_FOLDER",
                        help="tracks or folders (searched recursively) to put in the queue")
    parser.add_argument("--model", metavar="MODEL", default=None,
                        help="model to start with: an installed model id ('stemforge models' lists them) or a "
                             "model folder or file (default: the one chosen last time, else the default model)")


def run(args: argparse.Namespace) -> Outcome | None:
    """Check the inputs and that the Qt libraries are installed, then open the app
    (FAILED when its event loop ends with a non-zero code)."""
    missing = [str(p) for p in args.inputs if not Path(p).exists()]
    if missing:
        raise ConfigError(f"no such file or folder: {', '.join(missing)}")
    absent = [name for name in ("PySide6", "pyqtgraph") if importlib.util.find_spec(name) is None]
    if absent:
        raise StemforgeError(f"the desktop app cannot start (no {', '.join(absent)}); "
                             "install PySide6 and pyqtgraph")
    # The funnel turns SIGTERM into an exception, which inside the event loop would surface
    # in whatever Qt slot runs next: the window ends on SIGTERM as any process does.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    code = launch(list(args.inputs), args.model, getattr(args, "qt_args", None))
    return Outcome.FAILED if code else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stemforge-gui", description="Stemforge desktop app.")
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``stemforge-gui``."""
    from core.cli import run_command

    args, qt_args = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    args.qt_args = qt_args
    return run_command(run, args)


if __name__ == "__main__":
    sys.exit(main())
