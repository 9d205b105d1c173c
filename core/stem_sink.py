"""Where separated blocks become files: quantised stems, the residual, the null depth.

The null depth is ``10 log10(|mix - sum of the files|^2 / |mix|^2)`` over the whole
track (``-inf`` when exact). For lossless outputs it is measured on the samples as they
are written (:class:`StemSink`): the writer stores exactly those values. A lossy
format (OGG Vorbis) stores something else, so its null is measured on the files
decoded back (:func:`decoded_null_db`), against the input read again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import soundfile as sf

from core.audio.writer import StemWriter, fit_residual, quantize
from core.errors import AudioWriteError, StemforgeError

LOSSY_SUBTYPES = frozenset({"VORBIS"})
"""Encodings whose decoded samples differ from those written: their null is measured
by decoding the files back."""


class StemSink:
    """Quantises and writes stems and the residual; measures how deeply they null.

    For each aligned block: ``q_i = Q(stem_i)``; where the residual ``mix - sum_i q_i``
    would not fit the output's range, the excess moves onto the stems
    (:func:`fit_residual`); then the ``q_i`` are written and the residual
    ``r = Q(mix - sum_i q_i)``, so ``mix - (sum_i q_i + r)`` is only the residual's
    rounding (zero for PCM input written at the same depth). Samples where the
    residual would have clipped are counted as the residual's clipped samples.

    Args:
        writers: one writer per stem, in the order of the stems' axis of the blocks.
        residual: the writer of the residual, or None.
        source: the input, named in messages.
    """

    def __init__(self, writers: dict[str, StemWriter], residual: StemWriter | None, source: Path | str = "input"):
        self.writers = writers
        self.residual = residual
        self.source = source
        self.error_energy = 0.0
        self.signal_energy = 0.0

    def __call__(self, mix: np.ndarray, stems: np.ndarray) -> None:
        """``mix (k, C)`` and ``stems (k, C, S)`` float64, ``S = len(writers)``."""
        if stems.shape[-1] != len(self.writers):
            raise ValueError(f"{stems.shape[-1]} stems for {len(self.writers)} writers")
        if not np.isfinite(stems).all():  # never write NaN as silence and call it a null
            raise StemforgeError(f"{self.source}: the separation produced NaN or infinite samples; "
                                 "nothing was written")
        quantized = np.empty_like(stems)
        for index, writer in enumerate(self.writers.values()):
            quantized[:, :, index], clipped = quantize(stems[:, :, index], writer.subtype)
            writer.clipped += clipped
        if self.residual is not None:
            quantized, moved = fit_residual(quantized, mix, self.residual.subtype)
            self.residual.clipped += moved
        total = np.zeros_like(mix)
        for index, writer in enumerate(self.writers.values()):
            total += writer.write(quantized[:, :, index])
        if self.residual is not None:
            rest = self.residual.write(mix - total)
            self.error_energy += float(np.sum((mix - total - rest) ** 2))
            self.signal_energy += float(np.sum(mix**2))

    @property
    def null_db(self) -> float | None:
        """``10 log10(|mix - sum of written samples|^2 / |mix|^2)``; -inf when exact."""
        return null_db(self.error_energy, self.signal_energy) if self.residual is not None else None


def null_db(error_energy: float, signal_energy: float) -> float | None:
    """``10 log10(error / signal)``; -inf when the error is 0, None without signal."""
    if signal_energy == 0.0:
        return None
    if error_energy == 0.0:
        return -math.inf
    return 10.0 * math.log10(error_energy / signal_energy)


def decoded_null_db(mix_blocks: Iterable[np.ndarray], files: Iterable[Path]) -> float | None:
    """The null depth of files as a reader decodes them: ``mix_blocks`` (the input,
    ``(n, C)`` blocks in order) against the sum of ``files`` read in step. Frames a file
    lacks count as zeros, frames it has beyond the input as error.

    Raises:
        AudioWriteError: a file cannot be decoded (named).
    """
    handles: list[sf.SoundFile] = []
    error_energy = signal_energy = 0.0
    try:
        for path in files:
            try:
                handles.append(sf.SoundFile(str(path)))
            except (sf.LibsndfileError, RuntimeError, OSError) as error:
                raise AudioWriteError(f"{path}: cannot be decoded back to measure the null ({error})") from None
        for mix in mix_blocks:
            total = np.zeros_like(mix)
            for handle in handles:
                part = handle.read(mix.shape[0], dtype="float64", always_2d=True)
                total[: part.shape[0]] += part
            error_energy += float(np.sum((mix - total) ** 2))
            signal_energy += float(np.sum(mix**2))
        for handle in handles:  # what a file holds beyond the input's end
            for extra in handle.blocks(1 << 16, dtype="float64", always_2d=True):
                error_energy += float(np.sum(extra**2))
    finally:
        for handle in handles:
            handle.close()
    return null_db(error_energy, signal_energy)


def format_null(null: float | None, lossy: bool = False) -> str:
    """``exact``, ``-151.2 dB`` or ``n/a`` (no residual, or a silent input), with a word
    when the null was measured on decoded lossy files."""
    if null is None:
        text = "n/a"
    else:
        text = "exact" if null == -math.inf else f"{null:.1f} dB"
    return f"{text} (decoded; the format is lossy)" if lossy and null is not None else text
