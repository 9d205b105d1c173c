"""Waveform lanes: drawn from envelopes, clipped to the view, click to seek, playhead."""

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from desktop.envelope import PeakEnvelope
from desktop.mixer import MIXTURE
from desktop.waveforms import WaveformPanel


def make_panel(qtbot, duration=10.0, rate=1000):
    panel = WaveformPanel()
    qtbot.addWidget(panel)
    panel.resize(800, 300)
    panel.show()
    qtbot.waitExposed(panel)
    samples = np.sin(np.arange(int(duration * rate)) / 5.0).astype(np.float32) * 0.5
    panel.set_lanes([MIXTURE, "bass"], duration)
    for name in (MIXTURE, "bass"):
        panel.set_envelope(name, PeakEnvelope.from_array(samples, rate))
    return panel


def curve_points(panel, name):
    return panel.lanes[name].curve.getData()[0]


def test_lanes_draw_only_the_visible_part(qtbot):
    panel = make_panel(qtbot)
    qtbot.waitUntil(lambda: len(curve_points(panel, "bass")) > 0)
    full = curve_points(panel, "bass")
    assert full.min() < 0.1 and full.max() > 9.9
    width = int(panel.lanes["bass"].plot.vb.width())
    assert len(full) <= 2 * (2 * width + 2)  # zigzag: two points per bucket, about one bucket per pixel

    panel.lanes[MIXTURE].plot.setXRange(4.0, 5.0, padding=0)  # zoom in: lanes are x-linked
    qtbot.waitUntil(lambda: curve_points(panel, "bass").max() < 5.1)
    zoomed = curve_points(panel, "bass")
    assert zoomed.min() > 3.9


def test_click_seeks_and_moves_the_playhead(qtbot):
    panel = make_panel(qtbot)
    vb = panel.lanes["bass"].plot.vb
    scene_point = vb.mapViewToScene(QPointF(2.5, 0.0))
    widget_point = panel.mapFromScene(scene_point)
    with qtbot.waitSignal(panel.seek_requested) as blocker:
        QTest.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         widget_point)
    assert abs(blocker.args[0] - 2.5) < 0.05
    assert abs(panel.playhead() - 2.5) < 0.05
    panel.set_playhead(7.0)
    assert all(lane.playhead.value() == 7.0 for lane in panel.lanes.values())


def test_restacking_keeps_the_zoom_when_stems_arrive(qtbot):
    panel = make_panel(qtbot)
    panel.lanes[MIXTURE].plot.setXRange(2.0, 3.0, padding=0)
    panel.set_lanes([MIXTURE, "bass", "drums"], 10.0)
    start, end = panel.visible_range()
    assert abs(start - 2.0) < 1e-6 and abs(end - 3.0) < 1e-6
    assert panel.lane_names() == [MIXTURE, "bass", "drums"]
    panel.clear_lanes()
    assert panel.lane_names() == []


def test_lanes_of_tracks_not_heard_are_dimmed(qtbot):
    panel = make_panel(qtbot)
    panel.set_audible(["bass"])
    heard = panel.lanes["bass"].curve.opts["pen"].color()
    silent = panel.lanes[MIXTURE].curve.opts["pen"].color()
    assert heard.name() == "#5b8def"
    assert silent.value() < 0.5 * 0xC9  # the mixture's grey, pulled toward the background
