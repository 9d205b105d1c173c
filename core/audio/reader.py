"""Reading audio files: probing and streaming in fixed-size blocks.

Whatever libsndfile decodes (WAV, FLAC, OGG, MP3, AIFF, ...) at any rate, mono or
stereo. Files are never loaded whole: :func:`read_blocks` yields ``(frames, channels)``
float64 blocks so memory does not grow with duration. Every problem becomes an
:class:`~core.errors.AudioLoadError` whose message starts with the file name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from core.errors import AudioLoadError

MAX_CHANNELS = 2
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".aifc", ".w64", ".rf64", ".caf", ".opus"}
)


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, as libsndfile reports it."""

    path: Path
    frames: int
    samplerate: int
    channels: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.samplerate if self.samplerate else 0.0


def _describe(path: Path, error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = re.sub(r"^Error opening .*?: ", "", text)  # libsndfile repeats the path
    if "Format not recognised" in text or "unknown format" in text.lower():
        return "not a readable audio file (format not recognised)"
    if "not a regular file" in text and path.is_file():  # libsndfile's words for a stream it cannot parse (e.g. MP3)
        return "not a readable audio file (no valid audio stream in it)"
    return f"cannot be decoded ({text})"


_STREAMING_SIZES = {0, 0xFFFFFFFF, 0x7FFFFFFF, 0xFFFFFFFFFFFFFFFF}


def _data_chunk_sizes(extra_info: str) -> tuple[int | None, int | None]:
    """(declared, actual) size of a WAV/AIFF data chunk when libsndfile saw a mismatch.

    Headers written by streaming recorders (size 0 or all ones) are not truncation.
    """
    match = re.search(r"^(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", extra_info, re.MULTILINE)
    if not match:
        return None, None
    declared, actual = int(match.group(1)), int(match.group(2))
    if declared in _STREAMING_SIZES:
        return None, None
    return declared, actual


def probe(path: Path) -> AudioInfo:
    """Read a file's header and check that Stemforge can separate it.

    Raises:
        AudioLoadError: missing path, folder, undecodable data, no samples, or more
            than two channels; the message names the file and the reason.
    """
    path = Path(path)
    if not path.exists():
        raise AudioLoadError(f"{path}: no such file")
    if path.is_dir():
        raise AudioLoadError(f"{path}: is a folder, not an audio file")
    try:
        with sf.SoundFile(str(path)) as handle:
            info = AudioInfo(
                path=path,
                frames=int(handle.frames),
                samplerate=int(handle.samplerate),
                channels=int(handle.channels),
                format=str(handle.format),
                subtype=str(handle.subtype),
            )
            declared, present = _data_chunk_sizes(handle.extra_info)
    except PermissionError:
        raise AudioLoadError(f"{path}: permission denied") from None
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioLoadError(f"{path}: {_describe(path, error)}") from None
    if declared is not None and present is not None and present < declared:
        raise AudioLoadError(
            f"{path}: truncated (header promises {declared} bytes of audio, the file holds {present})"
        )
    if info.frames <= 0:
        raise AudioLoadError(f"{path}: contains no audio samples")
    if info.samplerate <= 0:
        raise AudioLoadError(f"{path}: invalid sample rate {info.samplerate}")
    if info.channels > MAX_CHANNELS:
        raise AudioLoadError(
            f"{path}: has {info.channels} channels; Stemforge separates mono or stereo files "
            "(downmix to stereo first)"
        )
    return info


def read_blocks(info: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
    """Stream a probed file as ``(n, channels)`` float64 blocks of at most ``block_frames``.

    NaN or infinite samples, and decoding errors midway, raise AudioLoadError.
    """
    path = info.path
    position = 0
    try:
        with sf.SoundFile(str(path)) as handle:
            while True:
                block = handle.read(block_frames, dtype="float64", always_2d=True)
                if block.shape[0] == 0:
                    break
                if not np.isfinite(block).all():
                    bad = position + int(np.argmax(~np.isfinite(block).all(axis=1)))
                    raise AudioLoadError(
                        f"{path}: contains NaN or infinite samples (first at {bad / info.samplerate:.3f} s)"
                    )
                position += block.shape[0]
                yield block
    except AudioLoadError:
        raise
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioLoadError(f"{path}: {_describe(path, error)} after {position} frames") from None
    if position == 0:
        raise AudioLoadError(f"{path}: contains no audio samples")


def is_audio_file(path: Path) -> bool:
    """Whether a file name looks like audio Stemforge reads (by extension)."""
    return path.suffix.lower() in AUDIO_EXTENSIONS
