"""Waveform lanes (pyqtgraph): the mixture and each stem in its colour, a playhead, click to seek.

Each lane draws a :class:`~desktop.envelope.PeakEnvelope` as a min/max band. When
the visible range or the width changes, every lane asks its envelope for the
visible buckets only, about one per pixel (clip to view + peak downsampling), so
zooming and scrolling cost the same for a ten-second or a ten-minute file.
Lanes share the time axis: drag to scroll, wheel to zoom, click to seek.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor

from desktop.envelope import PeakEnvelope, zigzag
from desktop.theme import MUTED_TEXT, PLOT_BACKGROUND, stem_color

PLAYHEAD_COLOR = "#ffd75e"
LANE_BACKGROUND = "#181a20"


class Lane:
    """One track's plot: the envelope curve, its name and a playhead line."""

    def __init__(self, name: str, plot: pg.PlotItem):
        self.name = name
        self.plot = plot
        self.envelope: PeakEnvelope | None = None
        colour = QColor(stem_color(name))
        self.curve = pg.PlotCurveItem(pen=pg.mkPen(colour, width=1), antialias=False)
        plot.addItem(self.curve)
        fill = QColor(colour)
        fill.setAlpha(40)
        self.zero_line = pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen(fill, width=1))
        plot.addItem(self.zero_line, ignoreBounds=True)
        self.playhead = pg.InfiniteLine(pos=0, angle=90, movable=False,
                                        pen=pg.mkPen(PLAYHEAD_COLOR, width=1.5))
        plot.addItem(self.playhead, ignoreBounds=True)
        self.label = pg.TextItem(name, color=colour, anchor=(0, 0))
        self.label.setParentItem(plot.vb)
        self.label.setPos(6, 2)
        self.status = pg.TextItem("", color=QColor(MUTED_TEXT), anchor=(0.5, 0.5))
        self.status.setParentItem(plot.vb)

    def set_audible(self, audible: bool) -> None:
        """Dim the lane of a track that is muted or not soloed."""
        colour = QColor(stem_color(self.name))
        if not audible:  # a solid blend toward the background: overlapping strokes stay dim
            background = QColor(LANE_BACKGROUND)
            colour = QColor.fromRgbF(*(0.3 * a + 0.7 * b for a, b in zip(
                colour.getRgbF()[:3], background.getRgbF()[:3], strict=True)))
        self.curve.setPen(pg.mkPen(colour, width=1))

    def show_status(self, text: str) -> None:
        self.status.setText(text)
        rect = self.plot.vb.boundingRect()
        self.status.setPos(rect.width() / 2, rect.height() / 2)

    def redraw(self, start: float, end: float, pixels: int) -> None:
        if self.envelope is None:
            self.curve.setData([], [])
            return
        x, y = zigzag(self.envelope.view(start, end, pixels))
        self.curve.setData(x, y)


class WaveformPanel(pg.GraphicsLayoutWidget):
    """Stacked lanes with a shared time axis.

    Signals:
        seek_requested(float): seconds, when the user clicks in a lane.
    """

    seek_requested = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent, show=False)
        self.setObjectName("waveforms")
        self.setBackground(PLOT_BACKGROUND)
        self.ci.layout.setSpacing(2)
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.lanes: dict[str, Lane] = {}
        self.duration = 0.0
        self._placeholder = self.addLabel("Select a track in the queue to see its waveform",
                                          color=MUTED_TEXT, size="10pt")
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(0)
        self._redraw_timer.timeout.connect(self._redraw_now)
        self.scene().sigMouseClicked.connect(self._on_click)

    # lanes ------------------------------------------------------------------
    def clear_lanes(self, message: str = "Select a track in the queue to see its waveform") -> None:
        self.clear()
        self.lanes = {}
        self.duration = 0.0
        self._placeholder = self.addLabel(message, color=MUTED_TEXT, size="10pt")

    def lane_names(self) -> list[str]:
        return list(self.lanes)

    def set_lanes(self, names: list[str], duration: float) -> None:
        """Lay out one lane per name (the first is the mixture); envelopes come later.

        The zoom is kept when the duration is unchanged (stems arriving for the shown track).
        """
        keep = self.visible_range() if self.lanes and abs(self.duration - duration) < 1e-6 else None
        self.clear()
        self._placeholder = None
        self.lanes = {}
        self.duration = max(duration, 1e-3)
        first: pg.PlotItem | None = None
        for row, name in enumerate(names):
            plot = self.addPlot(row=row, col=0)
            self._style_plot(plot, last=row == len(names) - 1)
            if first is None:
                first = plot
                plot.vb.sigXRangeChanged.connect(self.schedule_redraw)
            else:
                plot.setXLink(first)
            self.lanes[name] = Lane(name, plot)
        if first is not None:
            start, end = keep if keep is not None else (0.0, self.duration)
            first.setXRange(start, end, padding=0)
        self.schedule_redraw()

    def _style_plot(self, plot: pg.PlotItem, last: bool) -> None:
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=True, y=False)
        plot.hideAxis("left")
        if not last:
            plot.hideAxis("bottom")
        else:
            axis = plot.getAxis("bottom")
            axis.setTextPen(pg.mkPen(MUTED_TEXT))
            axis.setPen(pg.mkPen("#3a3e48"))
            axis.setHeight(22)
        plot.setYRange(-1.0, 1.0, padding=0.04)
        plot.setLimits(xMin=0, xMax=self.duration, minXRange=min(0.01, self.duration),
                       yMin=-1.05, yMax=1.05)
        plot.vb.setBackgroundColor(LANE_BACKGROUND)

    def set_envelope(self, name: str, envelope: PeakEnvelope | None) -> None:
        lane = self.lanes.get(name)
        if lane is None:
            return
        lane.envelope = envelope
        lane.show_status("" if envelope is not None else "cannot read this file")
        self.schedule_redraw()

    def set_audible(self, audible: list[str]) -> None:
        for name, lane in self.lanes.items():
            lane.set_audible(name in audible)

    def show_lane_status(self, name: str, text: str) -> None:
        if name in self.lanes:
            self.lanes[name].show_status(text)

    # drawing ----------------------------------------------------------------
    def schedule_redraw(self, *args) -> None:
        self._redraw_timer.start()

    def visible_range(self) -> tuple[float, float]:
        lane = next(iter(self.lanes.values()), None)
        if lane is None:
            return 0.0, 0.0
        (start, end), _ = lane.plot.vb.viewRange()
        return max(start, 0.0), min(end, self.duration)

    def _redraw_now(self) -> None:
        start, end = self.visible_range()
        for lane in self.lanes.values():
            pixels = max(int(lane.plot.vb.width()), 50)
            lane.redraw(start, end, pixels)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if not hasattr(self, "_redraw_timer"):  # pyqtgraph resizes during its own __init__
            return
        for lane in self.lanes.values():
            if lane.status.toPlainText():
                lane.show_status(lane.status.toPlainText())
        self.schedule_redraw()

    # playhead and seeking -----------------------------------------------------
    def set_playhead(self, seconds: float) -> None:
        for lane in self.lanes.values():
            lane.playhead.setPos(seconds)

    def playhead(self) -> float:
        lane = next(iter(self.lanes.values()), None)
        return float(lane.playhead.value()) if lane else 0.0

    def lane_at(self, scene_pos) -> Lane | None:
        for lane in self.lanes.values():
            if lane.plot.vb.sceneBoundingRect().contains(scene_pos):
                return lane
        return None

    def seconds_at(self, scene_pos) -> float | None:
        lane = self.lane_at(scene_pos)
        if lane is None:
            return None
        seconds = lane.plot.vb.mapSceneToView(scene_pos).x()
        return float(np.clip(seconds, 0.0, self.duration))

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        seconds = self.seconds_at(event.scenePos())
        if seconds is not None:
            self.set_playhead(seconds)
            self.seek_requested.emit(seconds)
