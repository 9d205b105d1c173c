"""Writing stems: output formats, bit depth, explicit quantisation, atomic files.

Samples are quantised here, not by libsndfile, so that clipping is counted and
never wraps, and so the residual can be computed from exactly what was written.
A :class:`StemWriter` writes under a temporary hidden name in the destination
folder; :meth:`StemWriter.commit` renames it into place, :meth:`StemWriter.discard`
removes it. A crash or cancel therefore never leaves a partial stem.
"""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf

from core.errors import AudioWriteError, ConfigError

FORMATS: dict[str, str] = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG"}
"""Output format name (also the file extension) -> libsndfile major format."""

SUBTYPES: tuple[str, ...] = ("PCM_16", "PCM_24", "FLOAT")
"""Bit depths a user may ask for (PCM_32 is also kept when the input has it)."""

_PCM_BITS = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
_OGG_BLOCK = 1 << 15  # frames per Vorbis write: one large write crashes libsndfile


def default_subtype(input_subtype: str, fmt: str) -> str:
    """Keep the input's bit depth where the format can hold it.

    PCM_16 -> PCM_16, PCM_24 -> PCM_24, float -> FLOAT; 8-bit -> PCM_16; lossy or
    other encodings -> PCM_24. FLAC has no float or 32-bit: those become PCM_24.
    """
    if fmt == "ogg":
        return "VORBIS"
    subtype = input_subtype.upper()
    if subtype in ("PCM_S8", "PCM_U8", "PCM_16", "ALAC_16", "DWVW_16"):
        chosen = "PCM_16"
    elif subtype in ("PCM_24", "ALAC_24", "DWVW_24"):
        chosen = "PCM_24"
    elif subtype in ("PCM_32", "ALAC_32"):
        chosen = "PCM_32"
    elif subtype in ("FLOAT", "DOUBLE"):
        chosen = "FLOAT"
    else:
        chosen = "PCM_24"
    if fmt == "flac" and chosen in ("PCM_32", "FLOAT"):
        chosen = "PCM_24"
    return chosen


def check_subtype(subtype: str, fmt: str) -> str:
    """Validate a user's bit-depth choice for a format."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    subtype = subtype.upper()
    if fmt == "ogg":
        return "VORBIS"
    if subtype not in SUBTYPES and subtype != "PCM_32":
        raise ConfigError(f"unknown bit depth {subtype!r}; choose from {', '.join(SUBTYPES)}")
    if fmt == "flac" and subtype not in ("PCM_16", "PCM_24"):
        raise ConfigError(f"FLAC cannot hold {subtype} samples; use PCM_16 or PCM_24, or --format wav")
    return subtype


def quantize(block: np.ndarray, subtype: str) -> tuple[np.ndarray, int]:
    """Round float samples to what ``subtype`` stores.

    Args:
        block: ``(frames, channels)`` float64 samples, full scale = 1.0.
        subtype: PCM_16, PCM_24, PCM_32, FLOAT or VORBIS.

    Returns:
        The quantised samples as float64 (exactly the values a reader gets back for
        PCM; float32-rounded for FLOAT) and the number of samples that had to be
        clipped. PCM clips to ``[-1, 1 - 2^(1-bits)]``; Vorbis to ``[-1, 1]``; FLOAT
        never clips.
    """
    if subtype in _PCM_BITS:
        scale = float(2 ** (_PCM_BITS[subtype] - 1))
        integers = np.rint(block * scale)
        clipped = int(np.count_nonzero((integers < -scale) | (integers > scale - 1)))
        np.clip(integers, -scale, scale - 1, out=integers)
        return integers / scale, clipped
    if subtype == "VORBIS":
        clipped = int(np.count_nonzero(np.abs(block) > 1.0))
        return np.clip(block, -1.0, 1.0).astype(np.float32).astype(np.float64), clipped
    return block.astype(np.float32).astype(np.float64), 0


def _as_storage(quantized: np.ndarray, subtype: str) -> np.ndarray:
    """Exact integer or float32 arrays for libsndfile (no conversion on its side)."""
    if subtype == "PCM_16":
        return np.rint(quantized * 32768.0).astype(np.int16)
    if subtype == "PCM_24":
        return (np.rint(quantized * 8388608.0).astype(np.int32) << 8).astype(np.int32)
    if subtype == "PCM_32":
        return np.rint(quantized * 2147483648.0).astype(np.int32)
    return quantized.astype(np.float32)


def _write_error(path: Path, error: BaseException) -> AudioWriteError:
    text = str(error)
    if getattr(error, "errno", None) == errno.ENOSPC or "No space left" in text:
        return AudioWriteError(f"{path}: disk full while writing")
    if isinstance(error, PermissionError) or "Permission denied" in text:
        return AudioWriteError(f"{path}: output folder is not writable")
    return AudioWriteError(f"{path}: cannot write ({text.strip().splitlines()[0] if text.strip() else type(error).__name__})")


def ensure_folder(folder: Path) -> None:
    """Create an output folder, or raise AudioWriteError saying why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, FileExistsError) as error:
        raise _write_error(folder, error) from None
    if not os.access(folder, os.W_OK):
        raise AudioWriteError(f"{folder}: output folder is not writable")


class StemWriter:
    """One output file written block by block under a temporary name.

    Args:
        path: final destination.
        samplerate, channels: of the audio written.
        fmt: ``wav``, ``flac`` or ``ogg``.
        subtype: bit depth (see :func:`default_subtype`).
    """

    def __init__(self, path: Path, samplerate: int, channels: int, fmt: str, subtype: str):
        self.path = Path(path)
        self.subtype = subtype
        self.clipped = 0
        self.frames = 0
        self.temp_path = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.partial")
        ensure_folder(self.path.parent)
        try:
            self._file = sf.SoundFile(
                str(self.temp_path), "w", samplerate=samplerate, channels=channels,
                format=FORMATS[fmt], subtype=subtype,
            )
        except (sf.LibsndfileError, RuntimeError, OSError) as error:
            self._remove_temp()
            raise _write_error(self.path, error) from None

    def write(self, block: np.ndarray) -> np.ndarray:
        """Quantise and append ``(frames, channels)`` float64 samples; return what was stored."""
        quantized, clipped = quantize(block, self.subtype)
        self.clipped += clipped
        storage = _as_storage(quantized, self.subtype)
        try:
            if self.subtype == "VORBIS":
                for start in range(0, storage.shape[0], _OGG_BLOCK):
                    self._file.write(storage[start : start + _OGG_BLOCK])
            else:
                self._file.write(storage)
        except (sf.LibsndfileError, RuntimeError, OSError) as error:
            raise _write_error(self.path, error) from None
        self.frames += block.shape[0]
        return quantized

    def commit(self, overwrite: bool = False) -> Path:
        """Close the file and move it into place."""
        self._close()
        if self.path.exists() and not overwrite:
            self._remove_temp()
            raise AudioWriteError(f"{self.path}: appeared while writing; not overwritten")
        try:
            os.replace(self.temp_path, self.path)
        except OSError as error:
            self._remove_temp()
            raise _write_error(self.path, error) from None
        return self.path

    def discard(self) -> None:
        """Close and delete the temporary file (safe to call more than once)."""
        try:
            self._close()
        except AudioWriteError:
            pass
        self._remove_temp()

    def _close(self) -> None:
        if not self._file.closed:
            try:
                self._file.close()
            except (sf.LibsndfileError, RuntimeError, OSError) as error:
                raise _write_error(self.path, error) from None

    def _remove_temp(self) -> None:
        try:
            self.temp_path.unlink()
        except FileNotFoundError:
            pass


def write_text_atomic(path: Path, text: str, overwrite: bool = False) -> Path:
    """Write a small text file (the recipe) under a temporary name, then rename."""
    ensure_folder(path.parent)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        temp.write_text(text, encoding="utf-8")
        if path.exists() and not overwrite:
            raise AudioWriteError(f"{path}: appeared while writing; not overwritten")
        os.replace(temp, path)
    except OSError as error:
        raise _write_error(path, error) from None
    finally:
        if temp.exists():
            temp.unlink()
    return path
