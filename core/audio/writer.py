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
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from core.errors import AudioWriteError
from core.fileio import place, remove_quietly, temporary_name
from core.option_checks import OUTPUT_FORMATS

FORMATS: dict[str, str] = {name: name.upper() for name in OUTPUT_FORMATS}
"""Output format name (also the file extension) -> libsndfile major format."""

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


def pcm_range(subtype: str) -> tuple[float, float, float] | None:
    """``(lowest, highest, step)`` of the values ``subtype`` stores, or None where
    nothing clips exactly (FLOAT never clips; Vorbis is lossy)."""
    if subtype not in _PCM_BITS:
        return None
    scale = float(2 ** (_PCM_BITS[subtype] - 1))
    return -1.0, 1.0 - 1.0 / scale, 1.0 / scale


def fit_residual(stems: np.ndarray, mix: np.ndarray, subtype: str) -> tuple[np.ndarray, int]:
    """Move onto the stems whatever part of the residual would not fit in ``subtype``.

    With quantised stems ``q_i`` the residual is ``r = mix - sum_i q_i``. Where ``r``
    exceeds the highest value ``hi`` (or falls below the lowest ``lo``), the excess
    ``e = r - hi`` is shared among the stems in proportion to their headroom
    ``hi - q_i`` (rounded down to the grid, the rounding left-over given to the stems
    with headroom left, in order), so that afterwards every stem and ``r`` fit and
    ``sum_i q_i + r = mix`` still holds exactly. Possible whenever
    ``|mix| <= (S + 1) * full scale``; beyond that the residual keeps what cannot move.

    Args:
        stems: ``(k, C, S)`` quantised stems (values on the grid of ``subtype``).
        mix: ``(k, C)`` the input.
        subtype: output bit depth (only PCM depths are adjusted).

    Returns:
        The adjusted stems (a new array) and the number of samples (per channel) where
        the residual would have clipped.
    """
    limits = pcm_range(subtype)
    if limits is None:
        return stems, 0
    lo, hi, step = limits
    stems = stems.copy()
    residual = mix - stems.sum(axis=-1)
    over, under = residual > hi, residual < lo
    count = int(np.count_nonzero(over | under))
    if not count:
        return stems, 0
    for mask, sign, bound in ((over, 1.0, hi), (under, -1.0, lo)):
        if not mask.any():
            continue
        rows = stems[mask]  # (n, S)
        excess = sign * (residual[mask] - bound)  # > 0
        headroom = np.maximum(sign * (bound - rows), 0.0)  # room of each stem towards the bound
        total = headroom.sum(axis=-1, keepdims=True)
        share = np.where(total > 0, excess[:, None] * headroom / np.where(total > 0, total, 1.0), 0.0)
        move = np.minimum(np.floor(share / step + 1e-9) * step, headroom)
        rows = rows + sign * move
        left = excess - move.sum(axis=-1)
        for index in range(rows.shape[-1]):  # rounding left-overs (a few steps at most)
            room = np.maximum(sign * (bound - rows[:, index]), 0.0)
            extra = np.minimum(np.ceil(np.maximum(left, 0.0) / step - 1e-9) * step, room)
            rows[:, index] += sign * extra
            left = left - extra
        stems[mask] = rows
    return stems, count


def _as_storage(quantized: np.ndarray, subtype: str) -> np.ndarray:
    """Exact integer or float32 arrays for libsndfile (no conversion on its side)."""
    if subtype == "PCM_16":
        return np.rint(quantized * 32768.0).astype(np.int16)
    if subtype == "PCM_24":
        return (np.rint(quantized * 8388608.0).astype(np.int32) << 8).astype(np.int32)
    if subtype == "PCM_32":
        return np.rint(quantized * 2147483648.0).astype(np.int32)
    return quantized.astype(np.float32)


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_SFE_SYSTEM = 2  # libsndfile's "System error." (a failed system call; errno says which)


def _free_bytes(path: Path) -> int | None:
    for folder in (path.parent, *path.parent.parents):
        try:
            return shutil.disk_usage(folder).free
        except OSError:
            continue
    return None


def _write_error(path: Path, error: BaseException) -> AudioWriteError:
    """One line naming ``path`` and the reason (disk full, not writable, ...).

    libsndfile reports every failed system call as "System error."; the errno it left
    behind (cffi keeps it per thread) tells a full disk or quota from other failures.
    """
    text = str(error)
    code = getattr(error, "errno", None)
    if isinstance(error, sf.LibsndfileError):
        text = text.strip() or error.error_string
        if code is None and (error.code == _SFE_SYSTEM or "System error" in text):
            code = sf._ffi.errno
    elif isinstance(error, AssertionError):  # soundfile's check that every frame was written
        text, code = "short write", sf._ffi.errno or None
    if code in _DISK_FULL or "No space left" in text:
        free = _free_bytes(path)
        where = f" ({free / 1e6:.1f} MB free)" if free is not None else ""
        return AudioWriteError(f"{path}: disk full while writing{where}; free some space and run again")
    if code == errno.EFBIG:
        return AudioWriteError(f"{path}: file too large for the output drive or the file size limit")
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
        self.temp_path = temporary_name(self.path)
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
        except (sf.LibsndfileError, RuntimeError, OSError, AssertionError) as error:
            raise _write_error(self.path, error) from None
        self.frames += block.shape[0]
        return quantized

    def finish(self) -> Path:
        """Close the file (still under its temporary name) and return that name."""
        self._close()
        return self.temp_path

    def commit(self, overwrite: bool = False) -> Path:
        """Close the file and move it into place (a lone file; sets use
        :func:`core.outputs.replace_set`)."""
        self._close()
        try:
            place(self.temp_path, self.path, overwrite)
        except FileExistsError:
            self._remove_temp()
            raise AudioWriteError(f"{self.path}: appeared while writing; not overwritten") from None
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
        remove_quietly(self.temp_path)


def write_temporary_text(path: Path, text: str) -> Path:
    """Write a small text file (the recipe) under a fresh temporary name next to ``path``
    and return that name (moved into place with the stems)."""
    ensure_folder(path.parent)
    temporary = temporary_name(path)
    try:
        temporary.write_text(text, encoding="utf-8")
    except OSError as error:
        remove_quietly(temporary)
        raise _write_error(path, error) from None
    return temporary
