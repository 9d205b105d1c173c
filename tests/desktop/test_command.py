"""``stemforge gui`` / ``stemforge-gui``: arguments and input checks, without opening a window."""

import argparse

from core.cli import run_command
from desktop import app, command


def parse(argv):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(argv)


def test_arguments(tmp_path):
    args = parse([str(tmp_path), "--model", "bundle"])
    assert args.inputs == [tmp_path] and args.model == "bundle"
    assert parse([]).inputs == []


def test_missing_inputs_are_a_one_line_error(tmp_path, capsys):
    assert run_command(command.run, parse([str(tmp_path / "nope.wav")])) == 2
    err = capsys.readouterr().err
    assert err.startswith("stemforge: error: no such file or folder") and err.count("\n") == 1


def test_main_passes_files_to_the_app(monkeypatch, tmp_path):
    seen = {}

    def fake_launch(files, model, qt_args):
        seen.update(files=files, model=model, qt_args=qt_args)
        return 0

    monkeypatch.setattr(app, "launch", fake_launch)
    assert app.main([str(tmp_path), "-style", "fusion"]) == 0
    assert seen["files"] == [tmp_path] and seen["model"] is None
    assert seen["qt_args"] == ["-style", "fusion"]


def test_launch_opens_the_themed_window_with_the_files_queued(qapp, monkeypatch, make_audio, tmp_path):
    import gc
    import logging
    import sys

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.main_window import MainWindow

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    track = make_audio("cli.wav", seconds=0.2)
    seen = {}

    def inspect_and_quit():
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        seen["queued"] = [item.path for item in windows[0].queue] if windows else None
        seen["dark"] = qapp.palette().window().color().lightness() < 60
        seen["styled"] = "dropZone" in qapp.styleSheet()
        seen["icon"] = not qapp.windowIcon().isNull()
        seen["automatic gc"] = gc.isenabled()  # collected on the GUI thread's timer instead
        qapp.quit()

    QTimer.singleShot(0, inspect_and_quit)
    handlers = list(logging.getLogger().handlers)
    palette, sheet = qapp.palette(), qapp.styleSheet()
    gc.enable()  # as in a fresh process (the desktop tests' fixture turns it off)
    try:
        assert app.launch([track]) == 0
        assert gc.isenabled()  # restored when the loop ends
    finally:
        for handler in logging.getLogger().handlers:
            if handler not in handlers:
                logging.getLogger().removeHandler(handler)
                handler.close()
        qapp.setStyleSheet(sheet)
        qapp.setPalette(palette)
    assert seen == {"queued": [track], "dark": True, "styled": True, "icon": True, "automatic gc": False}
