"""The preview of one queue item: waveform lanes, stem rows, playhead, transport, time.

:class:`PreviewPanel` shows the mixture of the selected track and, once it is done, its
stems: one lane per track (peak envelopes read in the background by
:class:`~desktop.envelope_loader.EnvelopeLoader`), solo/mute rows, and a transport (play
button, time label, "Open output folder"). It owns the audition chain: the
:class:`~desktop.mixer.StemMixer` and the :class:`~desktop.player.AudioPlayer`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtMultimedia import QAudioDevice
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.jobs import FileStatus
from desktop.envelope import PeakEnvelope
from desktop.envelope_loader import EnvelopeLoader
from desktop.mixer import MIXTURE, FileTrack, StemMixer
from desktop.player import AudioPlayer
from desktop.queue import QueueItem
from desktop.stem_list import StemList
from desktop.waveforms import WaveformPanel

log = logging.getLogger(__name__)


def clock_text(seconds: float) -> str:
    """``m:ss.s`` for the time label (negative times show as 0)."""
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)}:{secs:04.1f}"


class PreviewPanel(QWidget):
    """Lanes, stem rows and audition of the shown queue item.

    Args:
        audio_output: output device for audition; default: the system's default output.

    Attributes:
        open_folder_button: the transport's "Open output folder" (the window connects it).
    """

    def __init__(self, audio_output: QAudioDevice | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.shown_item: int | None = None
        self._shown_tracks: dict[str, Path] = {}
        self.mixer = StemMixer(self)
        self.player = AudioPlayer(self.mixer, self, output=audio_output)
        self.envelopes = EnvelopeLoader(self)

        self.waveforms = WaveformPanel()
        self.waveforms.seek_requested.connect(self.player.seek)
        self.waveforms.setMinimumHeight(180)
        self.stem_list = StemList()
        self.stem_list.setFixedWidth(200)
        self.stem_list.solo_toggled.connect(self.mixer.set_soloed)
        self.stem_list.mute_toggled.connect(self.mixer.set_muted)
        self.mixer.routing_changed.connect(self._on_routing_changed)
        self.envelopes.loaded.connect(self._on_envelope_loaded)
        self.player.position_changed.connect(self._on_play_position)
        self.player.playing_changed.connect(self._on_playing_changed)

        self.play_button = QToolButton()
        self.play_button.setObjectName("playButton")
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.setText("Play")
        self.play_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.play_button.clicked.connect(self.player.toggle)
        self.time_label = QLabel("0:00.0 / 0:00.0")
        self.time_label.setObjectName("timeLabel")
        self.open_folder_button = QPushButton("Open output folder")
        transport = QHBoxLayout()
        transport.setContentsMargins(0, 0, 0, 0)
        transport.addWidget(self.play_button)
        transport.addWidget(self.time_label)
        transport.addStretch(1)
        transport.addWidget(self.open_folder_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        lanes_row = QHBoxLayout()
        lanes_row.setSpacing(8)
        lanes_row.addWidget(self.waveforms, 1)
        lanes_row.addWidget(self.stem_list)
        layout.addLayout(lanes_row, 1)
        layout.addLayout(transport)

        if not self.player.available:
            self.play_button.setEnabled(False)
            self.play_button.setToolTip(self.player.unavailable_reason)
            self.time_label.setToolTip(self.player.unavailable_reason)

    def show_item(self, item: QueueItem | None) -> None:
        """Lanes, stem rows and audition tracks of one queue item (mixture + finished stems)."""
        self.shown_item = item.id if item else None
        if item is None:
            self._clear()
            self._update_time_label(0.0)
            return
        if item.probe_error:
            self._clear(f"Cannot show {item.name}: it is not readable audio.")
            return
        tracks = {MIXTURE: item.path}
        if item.status is FileStatus.DONE:
            tracks.update({name: path for name, path in item.outputs.items() if path.exists()})
        if tracks == self._shown_tracks:
            return
        self._shown_tracks = tracks
        self.waveforms.set_lanes(list(tracks), item.duration or 0.0)
        for name, path in tracks.items():
            envelope = self.envelopes.request(path)
            if envelope is not None:
                self.waveforms.set_envelope(name, envelope)
            else:
                self.waveforms.show_lane_status(name, "reading…")
        self.stem_list.set_tracks(tracks)
        try:
            self.mixer.set_tracks({name: FileTrack(path) for name, path in tracks.items()})
        except Exception as error:  # unreadable for playback: lanes still show what they can
            log.warning("cannot prepare playback of %s: %s", item.name, error)
            self.mixer.clear()
        self.waveforms.set_playhead(self.player.position())
        self._update_time_label(self.player.position())

    def shutdown(self) -> None:
        """Stop the background envelope reads and release the shown files (window closing)."""
        self.envelopes.shutdown()
        self.mixer.clear()

    def _clear(self, message: str | None = None) -> None:
        self._shown_tracks = {}
        if message is None:
            self.waveforms.clear_lanes()
        else:
            self.waveforms.clear_lanes(message)
        self.stem_list.set_tracks({})
        self.mixer.clear()

    def _on_envelope_loaded(self, path: str, envelope: PeakEnvelope | None) -> None:
        for name, track_path in self._shown_tracks.items():
            if str(track_path) == path:
                self.waveforms.set_envelope(name, envelope)

    def _on_routing_changed(self) -> None:
        self.stem_list.sync(self.mixer.soloed, self.mixer.muted)
        self.waveforms.set_audible(self.mixer.audible())

    def _on_play_position(self, seconds: float) -> None:
        self.waveforms.set_playhead(seconds)
        self._update_time_label(seconds)

    def _on_playing_changed(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setText("Pause" if playing else "Play")

    def _update_time_label(self, seconds: float) -> None:
        self.time_label.setText(f"{clock_text(seconds)} / {clock_text(self.mixer.duration)}")
