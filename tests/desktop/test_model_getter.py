""""Get model…" in the real window: the confirmation shows origin, hashes and licence and
starts nothing when declined; the progress dialog's Cancel stops the download with nothing
installed; a confirmed download installs the model, which becomes the chosen one; a server
error is one readable line. Weights come from a server on 127.0.0.1 (made by the test)."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton

from core.fileio import sha256_bytes
from core.models import store
from tests.desktop.test_main_window import RUN_TIMEOUT_MS

pytest.importorskip("demucs.htdemucs")
from tests.core.models.demucs_files import save_like_demucs, tiny_htdemucs  # noqa: E402
from tests.core.models.weights_server import WeightsServer, only_local_connections  # noqa: E402


@pytest.fixture
def user_models(monkeypatch, tmp_path, single_thread):
    monkeypatch.setenv("STEMFORGE_MODELS", str(tmp_path / "user-models"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path / "user-models"


@pytest.fixture
def server(tmp_path, monkeypatch):
    only_local_connections(monkeypatch)
    th = save_like_demucs(tiny_htdemucs(0), tmp_path / "made", "tiny")
    served = WeightsServer({th.name: th.read_bytes()})
    yield served
    if served.gate is not None:
        served.gate.set()
    served.close()


def download_button(box: QMessageBox) -> QPushButton:
    return next(button for button in box.buttons() if button.text() == "Download")


def test_get_model_asks_first_cancels_and_installs(make_window, qtbot, server, user_models):
    window = make_window(model=None)
    picker = window.options_panel.model_picker
    getter = picker.getter
    name = next(n for n in server.files if n.startswith("tiny-"))
    getter.catalogue = server.catalogue({"tiny": ([name], None)})
    errors = []
    picker.error.connect(lambda title, text: errors.append((title, text)))

    menu = picker.get_button.menu()
    menu.aboutToShow.emit()
    assert [action.text() for action in menu.actions()] == ["tiny — 0.3 MB: drums, bass, other, vocals"]

    menu.actions()[0].trigger()  # declined: nothing is requested
    box = getter.confirm_box
    assert box is not None and box.isVisible() and box.text() == "Download tiny (0.3 MB) and install it?"
    details = box.informativeText()
    assert f"sha256 {sha256_bytes(server.files[name])}" in details and f"from: {server.root_url}" in details
    assert "licence: test weights, no licence" in details and "origin: made by the test" in details
    assert "pickle" in details
    with qtbot.waitSignal(picker.get_finished, timeout=RUN_TIMEOUT_MS) as declined:
        box.button(QMessageBox.StandardButton.Cancel).click()
    assert declined.args == [False] and server.served == [] and errors == []

    server.gate = threading.Event()  # the server holds its answer until the test has cancelled
    getter.ask("tiny")
    with qtbot.waitSignal(picker.get_finished, timeout=RUN_TIMEOUT_MS) as cancelled:
        download_button(getter.confirm_box).click()
        dialog = getter.progress_dialog
        assert dialog is not None and dialog.isVisible() and dialog.labelText() == "Downloading tiny…"
        dialog.findChild(QPushButton).click()  # its Cancel
        server.gate.set()
    assert cancelled.args == [False] and getter.progress_dialog is None and errors == []
    assert len(server.served) == 1 and store.list_installed()[0] == []
    assert picker.current().model_id != "tiny"

    server.gate = None
    getter.ask("tiny")
    with qtbot.waitSignal(picker.get_finished, timeout=RUN_TIMEOUT_MS) as got:
        download_button(getter.confirm_box).click()
    assert got.args == [True] and errors == []
    assert picker.current().model_id == "tiny" and window.model_info.model_id == "tiny"
    assert list(window.options_panel.stem_chips) == ["drums", "bass", "other", "vocals", "residual"]
    assert "Licence: test weights" in picker.note.text()
    assert (user_models / "tiny" / name).read_bytes() == server.files[name]


def test_a_server_error_is_one_readable_line_and_nothing_is_installed(make_window, qtbot, server, user_models):
    window = make_window(model=None)
    picker = window.options_panel.model_picker
    name = next(n for n in server.files if n.startswith("tiny-"))
    picker.getter.catalogue = server.catalogue({"tiny": ([name], None)})
    server.status[name] = 503
    errors = []
    picker.error.connect(lambda title, text: errors.append((title, text)))
    picker.getter.ask("tiny")
    with qtbot.waitSignal(picker.get_finished, timeout=RUN_TIMEOUT_MS) as failed:
        download_button(picker.getter.confirm_box).click()
    assert failed.args == [False]
    assert errors == [("The model cannot be downloaded",
                       f"{server.root_url}{name}: the server answered 503 Service Unavailable; nothing installed")]
    assert store.list_installed()[0] == []
