"""The log file and the log panel (records from other threads included)."""

import logging
import threading

from desktop.logs import LogPanel, setup_log_file


def test_log_file_is_written(tmp_path):
    path = setup_log_file(tmp_path / "appdata")
    try:
        logging.getLogger("desktop.test").warning("hello file")
        for handler in logging.getLogger().handlers:
            handler.flush()
        assert path == tmp_path / "appdata" / "stemforge.log"
        assert "hello file" in path.read_text()
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, "baseFilename", None) == str(path):
                root.removeHandler(handler)
                handler.close()


def test_panel_shows_records_from_a_worker_thread(qtbot):
    panel = LogPanel()
    qtbot.addWidget(panel)
    try:
        worker = threading.Thread(target=lambda: logging.getLogger("core.jobs").error("file failed: x.wav"))
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: "file failed: x.wav" in panel.toPlainText())
        logging.getLogger("desktop.x").info("ready")
        qtbot.waitUntil(lambda: "ready" in panel.toPlainText())
    finally:
        panel.detach()
    logging.getLogger("desktop.x").info("after detach")
    assert "after detach" not in panel.toPlainText()
