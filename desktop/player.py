"""Audition: a QAudioSink pulling from the :class:`~desktop.mixer.StemMixer`.

On a machine without an audio output (a headless server, a CI runner)
:attr:`AudioPlayer.available` is False with a readable reason, and the window
disables its transport controls; the mixer itself still works.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtMultimedia import QAudio, QAudioDevice, QAudioFormat, QAudioSink, QMediaDevices

from desktop.mixer import StemMixer

log = logging.getLogger(__name__)

NO_OUTPUT_REASON = "No audio output was found on this computer, so playback is disabled."


class AudioPlayer(QObject):
    """Play/pause/seek over the mixer.

    Signals:
        position_changed(float): seconds heard now (the mixer's position minus what
            is still queued in the output buffer), about 30 times a second while playing.
        playing_changed(bool)
    """

    position_changed = Signal(float)
    playing_changed = Signal(bool)

    def __init__(self, mixer: StemMixer, parent: QObject | None = None,
                 output: QAudioDevice | None = None):
        super().__init__(parent)
        self.mixer = mixer
        self._output = output if output is not None else QMediaDevices.defaultAudioOutput()
        self._sink: QAudioSink | None = None
        self._playing = False
        self._timer = QTimer(self)
        self._timer.setInterval(33)
        self._timer.timeout.connect(self._tick)
        self.unavailable_reason = NO_OUTPUT_REASON if self._output.isNull() else ""
        mixer.tracks_changed.connect(self.stop)

    @property
    def available(self) -> bool:
        return not self.unavailable_reason

    @property
    def playing(self) -> bool:
        return self._playing

    def _format(self) -> QAudioFormat | None:
        fmt = QAudioFormat()
        fmt.setSampleRate(self.mixer.samplerate)
        fmt.setChannelCount(self.mixer.channels)
        for sample_format, name in ((QAudioFormat.SampleFormat.Float, "float32"),
                                    (QAudioFormat.SampleFormat.Int16, "int16")):
            fmt.setSampleFormat(sample_format)
            if self._output.isFormatSupported(fmt):
                self.mixer.sample_format = name
                return fmt
        return None

    def play(self) -> None:
        if not self.available or self.mixer.frames == 0:
            return
        if self.mixer.at_end:
            self.mixer.seek_frame(0)
        if self._sink is None:
            fmt = self._format()
            if fmt is None:
                log.error("the audio output cannot play %d Hz, %d channels", self.mixer.samplerate,
                          self.mixer.channels)
                return
            self._sink = QAudioSink(self._output, fmt, self)
            self._sink.stateChanged.connect(self._on_state)
            self._sink.start(self.mixer)
        else:
            self._sink.resume()
        self._set_playing(True)

    def pause(self) -> None:
        if self._sink is not None:
            self._sink.suspend()
        self._set_playing(False)

    def toggle(self) -> None:
        self.pause() if self._playing else self.play()

    def stop(self) -> None:
        if self._sink is not None:
            self._sink.stop()
            self._sink.deleteLater()
            self._sink = None
        self._set_playing(False)

    def seek(self, seconds: float) -> None:
        """Jump; the output buffer (tens of ms) drains before the new place is heard."""
        self.mixer.seek_seconds(seconds)
        self.position_changed.emit(self.position())

    def position(self) -> float:
        frame = self.mixer.position
        if self._sink is not None and self._playing:
            queued = self._sink.bufferSize() - self._sink.bytesFree()
            frame -= max(queued, 0) // max(self.mixer.bytes_per_frame, 1)
        return max(frame, 0) / max(self.mixer.samplerate, 1)

    def _set_playing(self, playing: bool) -> None:
        if playing == self._playing:
            return
        self._playing = playing
        (self._timer.start if playing else self._timer.stop)()
        self.playing_changed.emit(playing)
        self.position_changed.emit(self.position())

    def _tick(self) -> None:
        self.position_changed.emit(self.position())

    def _on_state(self, state: QAudio.State) -> None:
        if state == QAudio.State.IdleState and self.mixer.at_end:
            self.stop()
            self.mixer.seek_frame(0)
            self.position_changed.emit(0.0)
        elif state == QAudio.State.StoppedState and self._sink is not None \
                and self._sink.error() != QAudio.Error.NoError:
            log.error("audio output error: %s", self._sink.error())
            self.stop()
