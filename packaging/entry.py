"""Entry point of the frozen app: one executable for the command line and the window.

``stemforge ...`` runs the command line; ``stemforge-gui`` (a name or a link to the
same executable) or ``stemforge gui`` opens the window. ``stemforge --smoke-gui``
opens the main window offscreen-capable, lets it paint once, closes it and exits 0:
the packaging smoke test uses it to prove the GUI starts in the frozen app.
"""

import multiprocessing
import os
import sys


def smoke_gui() -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.main_window import MainWindow
    from desktop.resources import app_icon
    from desktop.theme import apply_theme

    app = QApplication(["stemforge-gui"])
    app.setWindowIcon(app_icon())
    apply_theme(app)
    window = MainWindow()
    window.show()
    QTimer.singleShot(200, app.quit)
    app.exec()
    pixels = window.grab()
    window.close()
    print(f"gui ok: main window {pixels.width()}x{pixels.height()}, icon {'found' if not app_icon().isNull() else 'MISSING'}")
    return 0 if pixels.width() > 0 and not app_icon().isNull() else 1


def main() -> int:
    multiprocessing.freeze_support()
    if sys.argv[1:2] == ["--smoke-gui"]:
        return smoke_gui()
    if os.path.basename(sys.argv[0]).startswith("stemforge-gui"):
        from desktop.app import main as gui_main

        return gui_main()
    from core.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
