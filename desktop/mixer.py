"""Real-time mix of the mixture and its stems for audition, as a QIODevice a QAudioSink pulls from.

Every track (the mixture, each stem, the residual) has a solo and a mute switch,
as on a mixing desk:

    audible = {t : t soloed and not muted}  if any track is soloed,
              {t : t not muted}             otherwise
    out[n]  = clip(sum_{t in audible} x_t[n], -1, 1)

Stems plus the residual sum to the mixture, so playing both would double it:
when stems are loaded the mixture starts muted (solo it to compare with the
original: soloing a track unmutes it). Tracks are read from disk block by block at the play position, so
memory does not grow with the file's length. The device is usable without any
audio output: :meth:`StemMixer.render` and ``read()`` return the mixed samples.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np
from PySide6.QtCore import QIODevice, QObject, Signal

from core.audio.reader import open_sound_file

MIXTURE = "mixture"
MAX_FRAMES_PER_READ = 8192


class Track(Protocol):
    samplerate: int
    channels: int
    frames: int

    def read(self, start: int, count: int) -> np.ndarray:
        """``(count, channels)`` float32 from frame ``start``, zero past the end."""
        ...

    def close(self) -> None: ...


class ArrayTrack:
    """A track held in memory: ``(frames, channels)`` samples."""

    def __init__(self, samples: np.ndarray, samplerate: int):
        samples = np.asarray(samples, dtype=np.float32)
        self.samples = samples[:, None] if samples.ndim == 1 else samples
        self.samplerate = samplerate
        self.frames, self.channels = self.samples.shape

    def read(self, start: int, count: int) -> np.ndarray:
        out = np.zeros((count, self.channels), np.float32)
        piece = self.samples[start:start + count]
        out[:piece.shape[0]] = piece
        return out

    def close(self) -> None:
        pass


class FileTrack:
    """A track streamed from an audio file (seek + read per block)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._handle = open_sound_file(self.path)  # regular files only, never waits (a FIFO would)
        self.samplerate = self._handle.samplerate
        self.channels = self._handle.channels
        self.frames = self._handle.frames

    def read(self, start: int, count: int) -> np.ndarray:
        out = np.zeros((count, self.channels), np.float32)
        if start < self.frames:
            self._handle.seek(start)
            piece = self._handle.read(min(count, self.frames - start), dtype="float32", always_2d=True)
            out[:piece.shape[0]] = piece
        return out

    def close(self) -> None:
        self._handle.close()


def audible_tracks(names: list[str], soloed: set[str], muted: set[str]) -> list[str]:
    """Which tracks are heard, by the desk rule in the module docstring."""
    if soloed & set(names):
        return [n for n in names if n in soloed and n not in muted]
    return [n for n in names if n not in muted]


class StemMixer(QIODevice):
    """Sequential read-only device producing interleaved float32 (or int16) frames.

    Signals:
        routing_changed(): solo/mute state changed (the UI syncs its buttons).
        tracks_changed(): another set of tracks was loaded.
    """

    routing_changed = Signal()
    tracks_changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.RLock()
        self._tracks: dict[str, Track] = {}
        self.soloed: set[str] = set()
        self.muted: set[str] = set()
        self.samplerate = 44100
        self.channels = 2
        self.frames = 0
        self._position = 0
        self.sample_format = "float32"  # or "int16", as the audio output accepts
        self.open(QIODevice.OpenModeFlag.ReadOnly | QIODevice.OpenModeFlag.Unbuffered)

    # tracks ---------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self._tracks)

    def set_tracks(self, tracks: dict[str, Track]) -> None:
        """Replace the tracks (the mixture first); solo cleared, the mixture muted if stems exist."""
        with self._lock:
            for track in self._tracks.values():
                track.close()
            first = next(iter(tracks.values()), None)
            mismatched = [n for n, t in tracks.items()
                          if first is not None and (t.samplerate, t.channels) != (first.samplerate, first.channels)]
            if mismatched:
                for track in tracks.values():
                    track.close()
                raise ValueError(f"tracks {', '.join(mismatched)} differ in sample rate or channels")
            self._tracks = dict(tracks)
            self.samplerate = first.samplerate if first else 44100
            self.channels = first.channels if first else 2
            self.frames = max((t.frames for t in tracks.values()), default=0)
            self._position = min(self._position, self.frames)
            self.soloed = set()
            self.muted = {MIXTURE} if MIXTURE in tracks and len(tracks) > 1 else set()
        self.tracks_changed.emit()
        self.routing_changed.emit()

    def clear(self) -> None:
        self.set_tracks({})
        self._position = 0

    # routing --------------------------------------------------------------
    def set_soloed(self, name: str, on: bool) -> None:
        """Solo a track; soloing also unmutes it (a solo click means "let me hear this")."""
        with self._lock:
            (self.soloed.add if on else self.soloed.discard)(name)
            if on:
                self.muted.discard(name)
        self.routing_changed.emit()

    def set_muted(self, name: str, on: bool) -> None:
        with self._lock:
            (self.muted.add if on else self.muted.discard)(name)
        self.routing_changed.emit()

    def audible(self) -> list[str]:
        with self._lock:
            return audible_tracks(self.names, self.soloed, self.muted)

    # position -------------------------------------------------------------
    @property
    def position(self) -> int:
        """Next frame to be mixed."""
        return self._position

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0

    def seek_frame(self, frame: int) -> None:
        with self._lock:
            self._position = int(min(max(frame, 0), self.frames))

    def seek_seconds(self, seconds: float) -> None:
        self.seek_frame(int(round(seconds * self.samplerate)))

    @property
    def at_end(self) -> bool:
        return self._position >= self.frames

    # mixing ---------------------------------------------------------------
    def render(self, count: int) -> np.ndarray:
        """Mix up to ``count`` frames from the position and advance: ``(n, channels)`` float32."""
        with self._lock:
            count = int(min(count, self.frames - self._position))
            if count <= 0:
                return np.zeros((0, self.channels), np.float32)
            out = np.zeros((count, self.channels), np.float32)
            for name in audible_tracks(self.names, self.soloed, self.muted):
                out += self._tracks[name].read(self._position, count)
            self._position += count
        return np.clip(out, -1.0, 1.0, out=out)

    @property
    def bytes_per_frame(self) -> int:
        return self.channels * (4 if self.sample_format == "float32" else 2)

    def encode(self, block: np.ndarray) -> bytes:
        if self.sample_format == "int16":
            return (block * 32767.0).round().astype("<i2").tobytes()
        return block.astype("<f4").tobytes()

    # QIODevice ------------------------------------------------------------
    def readData(self, maxlen: int) -> bytes:  # noqa: N802 (Qt's name)
        frames = min(maxlen // max(self.bytes_per_frame, 1), MAX_FRAMES_PER_READ)
        return self.encode(self.render(frames)) if frames > 0 else b""

    def writeData(self, data) -> int:  # noqa: N802
        return -1

    def isSequential(self) -> bool:  # noqa: N802
        return True

    def bytesAvailable(self) -> int:  # noqa: N802
        return (self.frames - self._position) * self.bytes_per_frame + super().bytesAvailable()
