"""Fixtures for the desktop tests: isolated settings, windows driven by tiny models."""

from __future__ import annotations

import gc
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QStandardPaths

from desktop.main_window import MainWindow
from desktop.model_info import ModelInfo
from desktop.options import AppOptions
from tests.fakes import FilterBankModel

NO_GPU = {"auto": True, "cpu": True, "cuda": False, "mps": False}


@pytest.fixture(autouse=True)
def isolated_qt_paths(tmp_path_factory):
    """Nothing a test does may touch the user's real settings or app-data folder."""
    QStandardPaths.setTestModeEnabled(True)
    folder = tmp_path_factory.mktemp("qsettings")
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
    yield


@pytest.fixture(autouse=True)
def garbage_collected_on_the_gui_thread():
    """As the app does (desktop.app.launch): no automatic garbage collection while a test
    runs, so that a collection started in a worker thread cannot destroy Qt objects off the
    GUI thread (a rare segfault seen in CI); the test's garbage is collected after it, here."""
    enabled = gc.isenabled()
    gc.disable()
    yield
    gc.collect()
    if enabled:
        gc.enable()


@pytest.fixture
def settings_file(tmp_path) -> Path:
    return tmp_path / "settings" / "stemforge.ini"


class SlowModel(FilterBankModel):
    """FilterBankModel that takes ``delay`` seconds per call (in the worker thread) and
    records which thread ran it."""

    def __init__(self, delay: float = 0.05):
        super().__init__()
        self.delay = delay
        self.threads: set[int] = set()

    def separate(self, mixture, instruments, preset, generator, cancel):
        self.threads.add(threading.get_ident())
        threading.Event().wait(self.delay)  # simulated compute time, not test synchronisation
        return super().separate(mixture, instruments, preset, generator, cancel)


class GateModel(FilterBankModel):
    """Lets ``open_calls`` calls through, then holds the next call until the run is cancelled."""

    def __init__(self, open_calls: int = 0):
        super().__init__()
        self.open_calls = open_calls
        self.holding = threading.Event()
        self.calls_started = 0

    def separate(self, mixture, instruments, preset, generator, cancel):
        self.calls_started += 1
        if self.calls_started > self.open_calls:
            self.holding.set()
            waited = 0.0
            while not cancel.cancelled and waited < 20.0:  # bounded: a broken cancel fails the test
                threading.Event().wait(0.01)
                waited += 0.01
        return super().separate(mixture, instruments, preset, generator, cancel)


@pytest.fixture
def make_window(qtbot, tmp_path, settings_file):
    """``make_window(model=FilterBankModel(), keep_options=False, **kwargs)`` -> a shown MainWindow
    with settings in ``settings_file`` and, unless ``keep_options``, stems going to tmp_path/stems.
    ``model=None`` (with ``model_info=...``) makes a window without an injected model."""

    windows: list[MainWindow] = []

    def make(model=..., keep_options: bool = False, **kwargs) -> MainWindow:
        if model is ...:
            model = FilterBankModel()
        if model is not None:
            kwargs.setdefault("model_loader", lambda spec, device: model)
            kwargs.setdefault("model_info", ModelInfo.from_model(model))
        kwargs.setdefault("devices", NO_GPU)
        kwargs.setdefault("settings", QSettings(str(settings_file), QSettings.Format.IniFormat))
        window = MainWindow(**kwargs)
        qtbot.addWidget(window)
        if not keep_options:
            window.options_panel.set_options(replace(window.current_options(), out_dir=tmp_path / "stems"))
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:  # close (stops the worker thread) before the window can be collected
        window.close()


def fast_options(window: MainWindow, **changes) -> AppOptions:
    """Switch the window to the draft preset (fewest model calls) plus ``changes``."""
    options = replace(window.current_options(), preset="draft", **changes)
    window.options_panel.set_options(options)
    return options
