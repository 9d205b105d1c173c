"""The preview panel on its own: which tracks it shows for a queue item, and its clock."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtMultimedia import QAudioDevice

from core.jobs import FileStatus
from desktop.mixer import MIXTURE
from desktop.preview import PreviewPanel, clock_text
from desktop.queue import QueueItem, probe_item


def make_panel(qtbot) -> PreviewPanel:
    panel = PreviewPanel(audio_output=QAudioDevice())  # no audio output: nothing plays in tests
    qtbot.addWidget(panel)
    return panel


def test_clock_text():
    assert clock_text(0.0) == "0:00.0"
    assert clock_text(75.26) == "1:15.3"
    assert clock_text(-3.0) == "0:00.0"


def test_a_waiting_item_shows_its_mixture_and_a_done_item_its_stems(qtbot, make_audio):
    panel = make_panel(qtbot)
    item = probe_item(make_audio("song.wav", seconds=1.0))
    panel.show_item(item)
    assert panel.shown_item == item.id
    assert panel.waveforms.lane_names() == [MIXTURE] and list(panel.stem_list.rows) == [MIXTURE]
    assert panel.mixer.names == [MIXTURE]
    assert panel.time_label.text() == "0:00.0 / 0:01.0"

    bass = make_audio("song/bass.wav", seconds=1.0, seed=1)
    item.status, item.outputs = FileStatus.DONE, {"bass": bass, "drums": bass.with_name("absent.wav")}
    panel.show_item(item)
    assert panel.waveforms.lane_names() == [MIXTURE, "bass"]  # a missing output is left out
    assert panel.mixer.names == [MIXTURE, "bass"]


def test_nothing_or_an_unreadable_item_clears_the_panel(qtbot, make_audio):
    panel = make_panel(qtbot)
    panel.show_item(probe_item(make_audio("song.wav", seconds=1.0)))
    panel.show_item(QueueItem(Path("broken.wav"), probe_error="broken.wav: not audio"))
    assert panel.waveforms.lane_names() == [] and panel.stem_list.rows == {} and panel.mixer.names == []
    panel.show_item(None)
    assert panel.shown_item is None and panel.waveforms.lane_names() == []
    assert panel.time_label.text() == "0:00.0 / 0:00.0"
