"""Shared fixtures: headless Qt, a tiny stand-in model, synthetic audio files."""

import os
import signal
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

from tests.fakes import FilterBankModel  # noqa: E402

torch.set_num_threads(2)

# A test run started in the background of a non-interactive shell (`nohup ... &`) inherits
# SIGINT ignored, and Python then keeps it ignored: the tests of Ctrl-C need the default
# handler, as in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def synthetic_music(seconds: float, samplerate: int, channels: int, seed: int = 0) -> np.ndarray:
    """``(frames, channels)`` float64: a few decaying tones plus noise bursts, peak 0.5."""
    frames = max(1, int(round(seconds * samplerate)))
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / samplerate
    signal = np.zeros((frames, channels))
    for channel in range(channels):
        for frequency in rng.uniform(50, 2000, size=4):
            phase = rng.uniform(0, 2 * np.pi)
            envelope = np.exp(-3 * (t % 0.5))
            signal[:, channel] += np.sin(2 * np.pi * frequency * t + phase) * envelope
        signal[:, channel] += 0.3 * rng.standard_normal(frames) * np.exp(-30 * (t % 0.25))
    peak = np.abs(signal).max()
    return 0.5 * signal / peak if peak > 0 else signal


class FifoWatchdog:
    """Opens ``fifo`` for writing (unblocking a reader stuck in open) if not stopped in time."""

    def __init__(self, fifo: Path, seconds: float = 30.0):
        self.fired = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(fifo, seconds), daemon=True)
        self._thread.start()

    def _watch(self, fifo: Path, seconds: float) -> None:
        if not self._stopped.wait(seconds):
            self.fired = True
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


@pytest.fixture
def make_audio(tmp_path):
    """Write a synthetic audio file and return its path."""

    def make(name: str = "track.wav", seconds: float = 1.0, samplerate: int = 44100,
             channels: int = 2, subtype: str | None = None, seed: int = 0,
             data: np.ndarray | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        audio = synthetic_music(seconds, samplerate, channels, seed) if data is None else data
        sf.write(str(path), audio, samplerate, subtype=subtype)
        return path

    return make


@pytest.fixture
def single_thread():
    """Run a test on one torch thread and restore the session's setting afterwards.

    Tiny networks run fastest on one thread: thread hand-offs dominate their few-ms
    operations, badly so on a shared CPU. Folders of such tests use it for every test
    (an autouse fixture in their conftest); single modules with ``pytestmark``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_model():
    return FilterBankModel()
