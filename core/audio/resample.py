"""Streaming sample-rate conversion with soxr (no torchaudio).

soxr's stream compensates its filter delay, so the output is sample-aligned with the
input and ``n_in`` input frames give about ``n_in * out_rate / in_rate`` output frames.
"""

from __future__ import annotations

import numpy as np
import soxr


class StreamResampler:
    """Resample ``(frames, channels)`` blocks pushed one after another.

    Same rates pass the blocks through untouched.
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int, dtype: str = "float32"):
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.channels = channels
        self.dtype = np.dtype(dtype)
        self._stream = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, channels, dtype=dtype, quality="HQ")
        )

    def push(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        """Resample the next ``(n, channels)`` block; ``last=True`` flushes the filter."""
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if self._stream is None:
            return block
        return self._stream.resample_chunk(block, last=last)

    def flush(self) -> np.ndarray:
        """Return what the filter still holds; call once at the end."""
        return self.push(np.zeros((0, self.channels), self.dtype), last=True)
