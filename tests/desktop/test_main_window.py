"""The real window driven headless with tiny models: queue, runs, cancel, failures, settings."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QElapsedTimer, QMimeData, QPointF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtMultimedia import QAudioDevice

from core.instruments import INSTRUMENTS
from core.jobs import FileStatus
from desktop.mixer import MIXTURE
from desktop.model_info import ModelInfo
from desktop.queue import QueueState
from desktop.queue_model import STATUS_COLUMN
from tests.conftest import FifoWatchdog
from tests.desktop.conftest import GateModel, SlowModel, fast_options

RUN_TIMEOUT_MS = 20000


def drop(window, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def files_under(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_dropping_files_and_folders_fills_the_queue(make_window, make_audio, tmp_path):
    window = make_window()
    single = make_audio("single.wav", seconds=0.5, samplerate=48000, channels=1, subtype="PCM_24")
    make_audio("album/01.wav", seconds=1.0)
    make_audio("album/disc2/02.flac", seconds=0.25)
    (tmp_path / "album" / "notes.txt").write_text("not audio")

    drop(window, [single, tmp_path / "album"])

    names = [item.name for item in window.queue]
    assert names == ["single.wav", "01.wav", "02.flac"]
    model = window.table_model
    assert model.rowCount() == 3
    assert model.index(0, 1).data() == "0:00"  # half a second, rounded
    assert "PCM_24" in model.index(0, 2).data() and "48 kHz" in model.index(0, 2).data()
    assert "mono" in model.index(0, 2).data()
    assert model.index(2, 2).data().startswith("FLAC")
    assert all(model.index(r, STATUS_COLUMN).data() == "waiting" for r in range(3))
    assert window.queue.items[1].duration == 1.0

    drop(window, [tmp_path / "album"])  # already queued: nothing added twice
    assert len(window.queue) == 3
    assert window.run_control.start_button.isEnabled()
    # the first added track is selected and its waveform lane appears
    assert window.preview.waveforms.lane_names() == [MIXTURE]


def test_drop_zone_forwards_dropped_paths(make_window, make_audio, qtbot):
    window = make_window()
    path = make_audio("zone.wav", seconds=0.2)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)), QUrl("https://example.com/x.wav")])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.drop_zone.paths_dropped) as blocker:
        window.drop_zone.dropEvent(event)
    assert blocker.args == [[path]]
    assert [item.path for item in window.queue] == [path]


def test_run_finishes_shows_stems_and_a_bad_file_fails_alone(make_window, make_audio, tmp_path, qtbot):
    window = make_window()
    fast_options(window)
    good_a = make_audio("a.wav", seconds=1.0, subtype="PCM_16", seed=1)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....this is not a wave file at all" * 10)
    good_b = make_audio("b.wav", seconds=0.6, channels=1, subtype="FLOAT", seed=2)
    window.add_paths([good_a, bad, good_b])
    progress = []
    window.run_control.engine.worker.file_progress.connect(lambda i, f, m: progress.append((i, f)))

    with qtbot.waitSignal(window.run_control.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert window.run_control.start()
        assert not window.run_control.start_button.isEnabled() and window.run_control.cancel_button.isEnabled()
        assert not window.options_panel.isEnabled()
    results = blocker.args[0]

    assert [r.status for r in results] == ["done", "failed", "done"]
    statuses = [item.status for item in window.queue]
    assert statuses == [FileStatus.DONE, FileStatus.FAILED, FileStatus.DONE]
    failed_row = window.table_model.index(1, STATUS_COLUMN)
    assert failed_row.data().startswith("failed: ")
    assert "broken.wav" in failed_row.data(Qt.ItemDataRole.ToolTipRole)
    assert "not a readable audio file" in failed_row.data()
    stems_dir = tmp_path / "stems"
    for track, reference in (("a", good_a), ("b", good_b)):
        info = sf.info(str(reference))
        for stem in (*INSTRUMENTS, "other"):
            written = sf.info(str(stems_dir / track / f"{stem}.wav"))
            assert (written.frames, written.samplerate, written.channels) == (info.frames, info.samplerate,
                                                                               info.channels)
    # per-file progress went forward to 1 and the batch bar is full
    first_file = [f for i, f in progress if i == window.queue.items[0].id]
    assert first_file and first_file == sorted(first_file) and first_file[-1] == 1.0
    assert window.run_control.overall.value() == 1000
    assert "1 failed" in window.run_control.run_label.text() and "2 done" in window.run_control.run_label.text()

    # the selected (first) track shows the mixture and every stem, each drawn
    window.table.select_row(0)
    expected = [MIXTURE, *INSTRUMENTS, "other"]
    qtbot.waitUntil(lambda: window.preview.waveforms.lane_names() == expected, timeout=5000)
    qtbot.waitUntil(lambda: all(lane.envelope is not None for lane in window.preview.waveforms.lanes.values()),
                    timeout=5000)
    qtbot.waitUntil(lambda: all(len(lane.curve.getData()[0]) > 0 for lane in window.preview.waveforms.lanes.values()),
                    timeout=5000)
    assert list(window.preview.stem_list.rows) == expected
    assert window.preview.mixer.names == expected
    assert window.preview.mixer.muted == {MIXTURE}  # stems sum to the mix: the mixture starts muted
    assert window.output_folder() == stems_dir / "a"
    dragged = window.preview.stem_list.rows["bass"].mime_data().urls()
    assert [url.toLocalFile() for url in dragged] == [str((stems_dir / "a" / "bass.wav").resolve())]


def test_a_dropped_folder_without_audio_is_said_in_the_log(make_window, make_audio, tmp_path, caplog):
    window = make_window()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not audio")
    with caplog.at_level("INFO"):
        drop(window, [tmp_path / "empty", make_audio("one.wav", seconds=0.3)])
    assert [item.name for item in window.queue] == ["one.wav"]
    assert any("empty" in r.getMessage() and "no audio files" in r.getMessage() for r in caplog.records)


def test_start_button_state_after_failures(make_window, make_audio, tmp_path, qtbot):
    """A failed file stays runnable: Start is enabled again after the batch."""
    window = make_window()
    fast_options(window)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope")
    window.add_paths([bad, make_audio("ok.wav", seconds=0.3)])
    with qtbot.waitSignal(window.run_control.run_finished, timeout=RUN_TIMEOUT_MS):
        window.run_control.start()
    assert [i.status for i in window.queue] == [FileStatus.FAILED, FileStatus.DONE]
    assert window.run_control.start_button.isEnabled()


def test_cancel_stops_within_a_chunk_and_leaves_nothing(make_window, make_audio, tmp_path, qtbot):
    model = GateModel(open_calls=3)  # some stem blocks are written to temp files before the cancel
    window = make_window(model=model)
    fast_options(window)
    window.add_paths([make_audio("long.wav", seconds=4.0), make_audio("next.wav", seconds=1.0, seed=3)])

    with qtbot.waitSignal(window.run_control.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.run_control.start()
        qtbot.waitUntil(model.holding.is_set, timeout=RUN_TIMEOUT_MS)
        calls_before = model.calls
        window.run_control.cancel()
        assert not window.run_control.cancel_button.isEnabled()
    assert [r.status for r in blocker.args[0]] == ["cancelled", "cancelled"]
    assert [i.status for i in window.queue] == [FileStatus.CANCELLED, FileStatus.CANCELLED]
    assert model.calls == calls_before + 1  # only the held call ran, and it stopped at its first check
    assert files_under(tmp_path / "stems") == []
    assert not (tmp_path / "stems" / "long").exists()
    assert window.run_control.start_button.isEnabled()  # cancelled files can be started again


def test_closing_during_a_run_cancels_and_leaves_nothing(make_window, make_audio, tmp_path, qtbot):
    model = GateModel(open_calls=2)
    window = make_window(model=model)
    fast_options(window)
    window.add_paths([make_audio("closing.wav", seconds=3.0)])
    window.run_control.start()
    qtbot.waitUntil(model.holding.is_set, timeout=RUN_TIMEOUT_MS)
    window.close()  # returns once the worker has stopped
    assert not window.run_control.engine.thread.isRunning()
    assert files_under(tmp_path / "stems") == []


def test_event_loop_keeps_answering_during_a_run(make_window, make_audio, qtbot):
    """A timer keeps ticking and the time-left estimate appears while a slowed model runs."""
    model = SlowModel(delay=0.15)
    window = make_window(model=model)
    fast_options(window)
    window.add_paths([make_audio(f"t{i}.wav", seconds=1.0, seed=i) for i in range(2)])
    ticks: list[int] = []
    clock = QElapsedTimer()
    clock.start()
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(clock.elapsed()))
    timer.start()
    started = time.monotonic()
    with qtbot.waitSignal(window.run_control.run_finished, timeout=RUN_TIMEOUT_MS):
        window.run_control.start()
        qtbot.waitUntil(lambda: "left ·" in window.run_control.run_label.text(), timeout=RUN_TIMEOUT_MS)
        assert "elapsed" in window.run_control.run_label.text() and "realtime" in window.run_control.run_label.text()
        assert window.run_control.clock.remaining is not None
    run_seconds = time.monotonic() - started
    timer.stop()

    assert model.threads and threading.get_ident() not in model.threads  # the model ran elsewhere
    assert run_seconds > 0.8  # the slowed model really took a while
    assert len(ticks) >= 10
    gaps = np.diff(ticks)
    assert gaps.max() < 1000, f"the GUI thread stalled for {gaps.max()} ms"
    assert all(i.status is FileStatus.DONE for i in window.queue)


def test_settings_survive_a_restart(make_window, tmp_path, settings_file):
    first = make_window()
    chosen = replace(first.current_options(), stems=("bass", "piano"), residual=False, preset="best",
                     format="flac", bit_depth="PCM_16", template="{preset}/{track}-{stem}.{ext}",
                     out_dir=tmp_path / "elsewhere", overwrite=True, high_band="residual")
    first.options_panel.set_options(chosen)
    first.options_panel.stem_chips["drums"].click()  # a real click on a chip is saved too
    first.close()
    assert settings_file.exists()

    second = make_window(keep_options=True)
    assert second.current_options() == replace(chosen, stems=("bass", "drums", "piano"))
    assert second.options_panel.stem_chips["drums"].isChecked()
    assert not second.options_panel.stem_chips["other"].isChecked()


def test_without_a_model_the_window_opens_and_start_explains(make_window, make_audio, qtbot):
    info = ModelInfo(missing="Put a model bundle in resources/models.")
    window = make_window(model=None, model_info=info)
    window.add_paths([make_audio("x.wav", seconds=0.2)])
    assert window.banner.isVisible()
    assert "No model installed" in window.banner.text()
    assert not window.run_control.start_button.isEnabled()
    assert "No model installed" in window.run_control.start_button.toolTip()
    assert window.run_control.start() is False
    box = window._error_box
    assert box is not None and "resources/models" in box.text()
    box.close()


def test_a_model_that_fails_to_load_shows_a_readable_error(make_window, make_audio, qtbot):
    from core.errors import ModelLoadError

    def broken_loader(spec, device):
        raise ModelLoadError("bundle.safetensors: checksum mismatch (file corrupted?)")

    window = make_window(model=None, model_loader=broken_loader, model_info=ModelInfo(model_id="x"))
    window.add_paths([make_audio("y.wav", seconds=0.2)])
    with qtbot.waitSignal(window.run_control.run_finished, timeout=RUN_TIMEOUT_MS):
        window.run_control.start()
    assert "checksum mismatch" in window._error_box.text()
    assert [i.status for i in window.queue] == [QueueState.WAITING]
    assert window.run_control.start_button.isEnabled()
    window._error_box.close()


def test_invalid_options_are_refused_before_running(make_window, make_audio):
    window = make_window()
    window.add_paths([make_audio("z.wav", seconds=0.2)])
    window.options_panel.set_options(replace(window.current_options(), template="{track}.{ext}"))
    assert window.run_control.start() is False
    assert "{stem}" in window._error_box.text()
    assert not window.running
    window._error_box.close()


def test_playback_is_disabled_without_an_audio_output(make_window):
    window = make_window(audio_output=QAudioDevice())  # a null device, as on a headless machine
    assert not window.preview.player.available
    assert not window.preview.play_button.isEnabled()
    assert "No audio output" in window.preview.play_button.toolTip()
    assert not window.play_action.isEnabled()


def test_presets_and_devices_in_the_options(make_window):
    info = ModelInfo(model_id="m", presets={
        "draft": {"steps": 0, "sigma_max": 0.0, "rtf": 0.05, "si_sdri": 8.0},
        "fast": {"steps": 1, "sigma_max": 0.0124},
        "balanced": {"steps": 2, "sigma_max": 0.25, "rtf": 0.4, "si_sdri": 9.5},
        "best": {"steps": 4, "sigma_max": 0.25},
    })
    window = make_window(model_info=info)
    panel = window.options_panel
    assert [panel.preset.itemData(i) for i in range(panel.preset.count())] == ["draft", "fast", "balanced",
                                                                               "best"]
    panel.preset.setCurrentIndex(panel.preset.findData("balanced"))
    assert "2 steps" in panel.preset_summary.text() and "+9.5 dB" in panel.preset_summary.text()
    assert "0.4× realtime" in panel.preset_summary.text()
    model = panel.device.model()
    enabled = {panel.device.itemData(i): model.item(i).isEnabled() for i in range(panel.device.count())}
    assert enabled == {"auto": True, "cpu": True, "cuda": False, "mps": False}
    panel.format.setCurrentIndex(panel.format.findData("flac"))
    float_index = panel.bit_depth.findData("FLOAT")
    assert not panel.bit_depth.model().item(float_index).isEnabled()


def test_a_preset_that_does_not_beat_a_faster_one_is_greyed_out_with_the_reason(make_window):
    info = ModelInfo(model_id="m", presets={
        "draft": {"steps": 0, "sigma_max": 0.0, "gain_db": 0.0},
        "fast": {"steps": 1, "sigma_max": 0.05, "gain_db": 0.6},
        "balanced": {"steps": 2, "sigma_max": 0.1, "gain_db": 0.65},
        "best": {"steps": 4, "sigma_max": 0.1, "gain_db": 0.9},
    })
    window = make_window(model_info=info)
    panel = window.options_panel
    model = panel.preset.model()
    enabled = {panel.preset.itemData(i): model.item(i).isEnabled() for i in range(panel.preset.count())}
    assert enabled == {"draft": True, "fast": True, "balanced": False, "best": True}
    balanced = model.item(panel.preset.findData("balanced"))
    assert "+0.65 dB over draft" in balanced.toolTip() and "fast (+0.60 dB)" in balanced.toolTip()
    # the default (balanced) is withheld: the nearest faster offered preset is chosen
    assert panel.preset.currentData() == "fast"
    panel.set_options(replace(window.current_options(), preset="balanced"))
    assert panel.preset.currentData() == "fast"
    panel.preset.setCurrentIndex(panel.preset.findData("best"))
    assert "+0.90 dB over draft" in panel.preset_summary.text()


def test_a_bundle_without_balanced_starts_on_its_two_view_fast_as_the_cli_does(make_window):
    from core.model import Preset, default_preset

    info = ModelInfo(model_id="m", presets={
        "draft": {"steps": 0, "sigma_max": 0.0, "gain_db": 0.0},
        "fast": {"steps": 0, "sigma_max": 0.0, "views": 2, "gain_db": 0.33},
    })
    panel = make_window(model_info=info).options_panel
    assert panel.preset.currentData() == "fast"
    assert "2 views" in panel.preset_summary.text() and "+0.33 dB over draft" in panel.preset_summary.text()
    presets = {"draft": Preset("draft", 0, 0.0, gain_db=0.0), "fast": Preset("fast", 0, 0.0, gain_db=0.33, views=2)}
    assert default_preset(presets) == "fast"


def test_shortcuts_are_bound(make_window):
    window = make_window()
    bound = {a.text().replace("&", ""): a.shortcut().toString() for a in window.actions()}
    assert bound["Add Files…"] == "Ctrl+O"
    assert bound["Add Folder…"] == "Ctrl+Shift+O"
    assert bound["Start"] == "Ctrl+Return"
    assert bound["Cancel"] == "Esc"
    assert bound["Play / Pause"] == "Space"
    assert bound["Quit"] == "Ctrl+Q"


def test_settings_go_to_the_given_file_only(make_window, settings_file):
    window = make_window()
    window.save_settings()
    stored = QSettings(str(settings_file), QSettings.Format.IniFormat)
    assert stored.value("options/preset") == window.current_options().preset


def test_the_learned_high_band_setting_reaches_the_stems(make_window, make_audio, qtbot):
    """"Share (learned)", the default, runs the learned mask: recorded in the recipe, and
    the stems plus Other still null against the 44.1 kHz input."""
    import json

    window = make_window()
    fast_options(window)
    combo = window.options_panel.high_band
    assert combo.currentData() == "learned" and window.current_options().high_band == "learned"
    path = make_audio("hi.wav", seconds=0.8, samplerate=44100, channels=2, subtype="FLOAT", seed=3)
    window.add_paths([path])
    with qtbot.waitSignal(window.run_control.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert window.run_control.start()
    (result,) = blocker.args[0]
    assert result.status == "done", result.message
    recipe = json.loads(result.recipe.read_text())
    assert recipe["high_band"]["mode"] == "learned" and recipe["high_band"]["applied"]
    original = sf.read(str(path), dtype="float64")[0]
    total = sum(sf.read(str(p), dtype="float64")[0] for p in result.outputs.values())
    assert np.abs(total - original).max() <= 1e-6


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_or_a_link_loop_never_holds_the_gui_thread(make_window, make_audio, tmp_path, qtbot):
    """Issue 32 case 12: `stemforge gui f.wav` (f.wav a FIFO) froze the main thread after
    "ready": the queue probed the file on it and open() waited for a writer. A watchdog
    opens the write end after 30 s, so a regression fails instead of hanging. A loop of
    symbolic links (case 1) raised from Path.resolve() in the queue."""
    fifo = tmp_path / "f.wav"
    os.mkfifo(fifo)
    loop = tmp_path / "self.wav"
    loop.symlink_to("self.wav")
    good = make_audio("good.wav", seconds=0.3)
    window = make_window()
    watchdog = FifoWatchdog(fifo)
    try:
        added = window.add_paths([fifo, loop, good])
        window.table.select_row(0)  # the preview shows the FIFO's row
    finally:
        watchdog.stop()
    assert not watchdog.fired
    assert [item.probe_error for item in added] == [
        f"{fifo}: is a named pipe, not a regular file; Stemforge reads audio files only",
        f"{loop}: a loop of symbolic links, not a file", None]
    fast_options(window)
    with qtbot.waitSignal(window.run_control.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert window.run_control.start()
    assert [r.status for r in blocker.args[0]] == ["failed", "failed", "done"]


# -- issue 30: the options column fits; CPU threads ------------------------------------------------


def test_the_options_column_fits_the_default_window_and_scrolls_only_vertically(make_window, qtbot):
    window = make_window()
    window.resize(1280, 820)
    column, panel = window.options_column, window.options_panel
    qtbot.waitUntil(lambda: window.size().width() == 1280 and panel.width() > 0)
    assert column.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    assert panel.width() >= panel.minimumSizeHint().width()  # nothing cut off on the right
    assert not column.verticalScrollBar().isVisible()  # the whole panel shows at the default size

    window.resize(900, 560)  # smaller: the panel keeps its width and scrolls up and down
    window.main_splitter.setSizes([120, 780])  # a user dragging the splitter far left
    qtbot.waitUntil(lambda: window.size().height() == 560)
    qtbot.waitUntil(lambda: column.verticalScrollBar().isVisible())
    assert column.width() >= column.minimumSizeHint().width()
    assert panel.width() >= panel.minimumSizeHint().width()
    assert panel.width() + column.verticalScrollBar().width() <= column.width()


def test_the_threads_setting_reaches_torch_in_the_worker_thread(make_window, make_audio, qtbot, settings_file):
    from core.devices import DEFAULT_SEPARATE_THREADS
    from tests.fakes import ThreadCountingModel

    model = ThreadCountingModel()
    window = make_window(model=model)
    spin = window.options_panel.threads
    assert spin.value() == window.current_options().threads == DEFAULT_SEPARATE_THREADS
    spin.setValue(spin.maximum())  # the machine's cores
    chosen = spin.value()
    assert window.current_options().threads == chosen
    fast_options(window)
    window.add_paths([make_audio("t.wav", seconds=0.3)])
    with qtbot.waitSignal(window.run_control.run_finished, timeout=RUN_TIMEOUT_MS):
        assert window.run_control.start()
    assert model.thread_counts == {chosen}
    window.save_settings()
    assert QSettings(str(settings_file), QSettings.Format.IniFormat).value("options/threads") == str(chosen)
