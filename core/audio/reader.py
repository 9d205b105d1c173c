"""Reading audio files: probing and streaming in fixed-size blocks.

Whatever libsndfile decodes (WAV, FLAC, OGG, MP3, AIFF, ...) at any rate up to
:data:`MAX_SAMPLE_RATE`, mono or stereo. Files are never loaded whole: blocks of
``(frames, channels)`` float64 come one after another so memory does not grow with
duration. Every problem becomes an :class:`~core.errors.AudioLoadError` whose message
starts with the file name.

An input is opened once (:class:`AudioSource`) and everything comes from that one open
file: the header, the samples and the sha256 of the bytes as libsndfile reads them.
Opening never waits: only regular files are read (a named pipe, a device or a socket
is refused at once, in one line). A file that changes while it is read (truncated,
rewritten, appended to) fails with a message saying so, rather than yielding a mix of
two files or fewer frames than its header promised.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from core.errors import AudioLoadError
from core.interrupts import signals_after

MAX_CHANNELS = 2
MAX_SAMPLE_RATE = 768_000
"""Highest sample rate separated (Hz): 16 x 48 kHz, the highest PCM rate converters and
formats offer. Work at the input's rate grows with it (the high band's frames of 0.046 s,
the stems before they are written), so a header claiming more (a damaged or hostile
file: 1 GHz in 160 KB) is refused in one line before any work."""
MAX_SAMPLE_MAGNITUDE = 1e30
"""Largest ``|sample|`` separated (600 dB above full scale). A float file may hold up to
3.4e38, where the float32 STFTs and resamplers overflow into NaN; up to this bound every
stage stays finite (measured with the shipped model). Real mixes never come near it."""
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


def _describe(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = re.sub(r"^Error opening .*?: ", "", text)  # libsndfile repeats the path
    if "Format not recognised" in text or "unknown format" in text.lower():
        return "not a readable audio file (format not recognised)"
    if "not a regular file" in text:  # libsndfile's words for a stream it cannot parse (e.g. MP3)
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


_FILE_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
               (stat.S_ISSOCK, "a socket"))
_OPEN_ERRORS = {errno.ENOENT: "no such file", errno.ELOOP: "a loop of symbolic links, not a file",
                errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                errno.ENOTDIR: "no such file (a part of the path is not a folder)",
                errno.ENAMETOOLONG: "the name is too long for the file system"}


def open_regular_file(path: Path) -> int:
    """A read-only descriptor of ``path``, which must be a regular file (links followed).

    Never blocks: the open is non-blocking (a FIFO without a writer would otherwise wait
    forever) and anything but a regular file is refused.

    Raises:
        AudioLoadError: missing, a folder, a FIFO, device or socket, a link loop, or
            not readable; one line naming the file.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        reason = _OPEN_ERRORS.get(error.errno) or f"cannot be opened ({error.strerror or error})"
        if error.errno == errno.EISDIR:
            reason = "is a folder, not an audio file"
        raise AudioLoadError(f"{path}: {reason}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise AudioLoadError(f"{path}: is a folder, not an audio file")
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
            raise AudioLoadError(f"{path}: is {kind}, not a regular file; Stemforge reads audio files only")
        _set_blocking(descriptor)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _set_blocking(descriptor: int) -> None:
    try:
        os.set_blocking(descriptor, True)
    except (AttributeError, OSError):  # Windows: descriptors of files never block
        pass


def _read_at(descriptor: int, size: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(descriptor, size, offset)
    os.lseek(descriptor, offset, os.SEEK_SET)
    return os.read(descriptor, size)


class _HashedReads:
    """A read-only file object over a descriptor for libsndfile's virtual I/O, hashing
    the file's bytes in order as they are read.

    The digest always covers the bytes ``[0, hashed)``: a read that starts past
    ``hashed`` first hashes the skipped bytes (read here), re-reads of hashed bytes add
    nothing, and :meth:`hexdigest` hashes whatever follows the last read. Errors are kept
    (libsndfile calls in through C, where an exception cannot pass) and read as the end.
    """

    def __init__(self, descriptor: int, name: str):
        self.descriptor = descriptor
        self.name = name
        self.position = 0
        self.hashed = 0
        self.digest = hashlib.sha256()
        self.error: OSError | None = None

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position}.get(whence)
        if base is None:
            try:
                base = os.fstat(self.descriptor).st_size
            except OSError as error:
                self.error = self.error or error
                base = self.position
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        try:
            if self.position > self.hashed:
                self._hash_up_to(self.position)
            data = _read_at(self.descriptor, len(buffer), self.position)
        except OSError as error:
            self.error = self.error or error
            return 0
        buffer[: len(data)] = data
        if self.position <= self.hashed < self.position + len(data):
            self.digest.update(memoryview(data)[self.hashed - self.position :])
            self.hashed = self.position + len(data)
        self.position += len(data)
        return len(data)

    def _hash_up_to(self, end: int | None) -> None:
        while end is None or self.hashed < end:
            size = 1 << 20 if end is None else min(1 << 20, end - self.hashed)
            data = _read_at(self.descriptor, size, self.hashed)
            if not data:
                return
            self.digest.update(data)
            self.hashed += len(data)

    def hexdigest(self) -> str:
        """sha256 of the whole file: what was read, then the rest up to its end."""
        self._hash_up_to(None)
        return self.digest.hexdigest()


def _signature(descriptor: int) -> tuple[int, int]:
    status = os.fstat(descriptor)
    return status.st_size, status.st_mtime_ns


class AudioSource:
    """One input file, opened once: its header (:attr:`info`), its samples
    (:meth:`blocks`) and the sha256 of the bytes they were decoded from (:attr:`sha256`).

    Use as a context manager (or call :meth:`close`).

    Raises:
        AudioLoadError: missing path, folder, not a regular file, undecodable data, no
            samples, more than two channels, or a sample rate above :data:`MAX_SAMPLE_RATE`;
            the message names the file and the reason.
    """

    def __init__(self, path: Path):
        self.path = path = Path(path)
        self._sha256: str | None = None
        descriptor = open_regular_file(path)
        try:
            self._start = _signature(descriptor)
            self._reads = _HashedReads(descriptor, str(path))
            try:
                with signals_after():  # libsndfile reads through Python callbacks (see core.interrupts)
                    self._handle = sf.SoundFile(self._reads)
            except (sf.LibsndfileError, RuntimeError, OSError) as error:
                raise AudioLoadError(f"{path}: {_describe(error)}") from None
        except BaseException:
            os.close(descriptor)
            raise
        try:
            with signals_after():
                self.info = _checked_info(path, self._handle)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> AudioSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the file (safe to call more than once)."""
        handle = getattr(self, "_handle", None)
        if handle is not None and not handle.closed:
            with signals_after():
                handle.close()
        if self._reads.descriptor >= 0:
            os.close(self._reads.descriptor)
            self._reads.descriptor = -1

    @property
    def sha256(self) -> str:
        """Hex sha256 of the file as it was read; known once :meth:`blocks` has ended."""
        if self._sha256 is None:
            raise RuntimeError("the file has not been read to its end yet")
        return self._sha256

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        """The samples as ``(n, channels)`` float64 blocks of at most ``block_frames``.

        Raises:
            AudioLoadError: NaN, infinite or absurdly large samples, a decoding error
                midway, or the file changed while it was read (see :meth:`_check_unchanged`).
        """
        path, info = self.path, self.info
        position = 0
        try:
            while True:
                with signals_after():
                    block = self._handle.read(block_frames, dtype="float64", always_2d=True)
                if block.shape[0] == 0:
                    break
                _check_samples(path, block, position, info.samplerate)
                position += block.shape[0]
                yield block
        except AudioLoadError:
            raise
        except (sf.LibsndfileError, RuntimeError, OSError) as error:
            raise AudioLoadError(f"{path}: {_describe(error)} after {position} frames") from None
        if self._reads.error is not None:
            raise AudioLoadError(f"{path}: read error after {position} frames "
                                 f"({self._reads.error.strerror or self._reads.error})")
        if position == 0:
            raise AudioLoadError(f"{path}: contains no audio samples")
        self._check_unchanged(position)

    def _check_unchanged(self, frames_read: int) -> None:
        """Fail unless the file read is the file opened: same size and modification time,
        and every frame its header promised. Then hash the rest of the file."""
        try:
            now = _signature(self._reads.descriptor)
            digest = self._reads.hexdigest()
        except OSError as error:
            raise AudioLoadError(f"{self.path}: read error ({error.strerror or error})") from None
        if now != self._start:
            size = f"{self._start[0]} -> {now[0]} bytes" if now[0] != self._start[0] else "rewritten in place"
            raise AudioLoadError(f"{self.path}: changed while it was being read ({size}); "
                                 "nothing was written, run again once the file is complete")
        if frames_read < self.info.frames:
            raise AudioLoadError(f"{self.path}: ends early (the header promises {self.info.frames} frames, "
                                 f"{frames_read} could be read); nothing was written")
        self._sha256 = digest


def _checked_info(path: Path, handle: sf.SoundFile) -> AudioInfo:
    info = AudioInfo(path=path, frames=int(handle.frames), samplerate=int(handle.samplerate),
                     channels=int(handle.channels), format=str(handle.format), subtype=str(handle.subtype))
    declared, present = _data_chunk_sizes(handle.extra_info)
    if declared is not None and present is not None and present < declared:
        raise AudioLoadError(
            f"{path}: truncated (header promises {declared} bytes of audio, the file holds {present})"
        )
    if info.frames <= 0:
        raise AudioLoadError(f"{path}: contains no audio samples")
    if info.samplerate <= 0:
        raise AudioLoadError(f"{path}: invalid sample rate {info.samplerate}")
    if info.samplerate > MAX_SAMPLE_RATE:
        raise AudioLoadError(f"{path}: sample rate {info.samplerate} Hz is above the {MAX_SAMPLE_RATE} Hz "
                             "Stemforge separates (resample it first, or check the file)")
    if info.channels > MAX_CHANNELS:
        raise AudioLoadError(
            f"{path}: has {info.channels} channels; Stemforge separates mono or stereo files "
            "(downmix to stereo first)"
        )
    return info


def _check_samples(path: Path, block: np.ndarray, position: int, samplerate: int) -> None:
    finite = np.isfinite(block)
    if not finite.all():
        bad = position + int(np.argmax(~finite.all(axis=1)))
        raise AudioLoadError(f"{path}: contains NaN or infinite samples (first at {bad / samplerate:.3f} s)")
    peak = float(np.abs(block).max())
    if peak > MAX_SAMPLE_MAGNITUDE:
        at = position + int(np.argmax(np.abs(block).max(axis=1)))
        raise AudioLoadError(f"{path}: samples {peak:.3g} times full scale (at {at / samplerate:.3f} s); "
                             f"Stemforge separates samples up to {MAX_SAMPLE_MAGNITUDE:g}")


def probe(path: Path) -> AudioInfo:
    """Read a file's header and check that Stemforge can separate it (never blocks).

    Raises:
        AudioLoadError: as :class:`AudioSource`.
    """
    with AudioSource(path) as source:
        return source.info


def read_blocks(info: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
    """Stream a probed file as ``(n, channels)`` float64 blocks of at most ``block_frames``.

    NaN or infinite samples, decoding errors midway, and a file that changed since it
    was probed or while it is read raise AudioLoadError.
    """
    with AudioSource(info.path) as source:
        if (source.info.frames, source.info.samplerate, source.info.channels) != (
                info.frames, info.samplerate, info.channels):
            raise AudioLoadError(f"{info.path}: changed since it was opened; nothing was written")
        yield from source.blocks(block_frames)


def open_sound_file(path: Path) -> sf.SoundFile:
    """A :class:`soundfile.SoundFile` for reading ``path`` that never blocks on opening
    (regular files only), for players and previews.

    Raises:
        AudioLoadError: as :func:`open_regular_file`, or undecodable.
    """
    descriptor = open_regular_file(Path(path))
    try:
        return sf.SoundFile(descriptor, closefd=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        os.close(descriptor)
        raise AudioLoadError(f"{path}: {_describe(error)}") from None


def is_audio_file(path: Path) -> bool:
    """Whether a file name looks like audio Stemforge reads (by extension)."""
    return path.suffix.lower() in AUDIO_EXTENSIONS
