"""Peak envelopes: min/max per bucket at several resolutions, for drawing waveforms (no Qt).

A waveform of N frames drawn on W pixels needs, per pixel, the minimum and the
maximum of the frames that fall into it (peak downsampling: no peak is lost,
unlike taking every k-th sample). Computing that from the raw samples at every
zoom step is too slow for long files, so the envelope is precomputed once as a
pyramid:

    level 0: bucket of B0 = 64 frames,  min_0[i] = min(x[i*B0 : (i+1)*B0])
    level k: bucket of B0 * 4**k,       min_k[i] = min(min_{k-1}[4i : 4i+4])   (max alike)

A view ``[t0, t1]`` on W pixels picks the coarsest level whose bucket is not
wider than a pixel, keeps only the buckets inside the view (clip to view), and
merges groups of buckets so that one to two buckets per pixel remain. Drawing cost
is then O(W) whatever the file's length. Channels are merged (min over channels
of the minima, max of the maxima). A ten-minute stereo file at 44.1 kHz costs
about 3.3 MB of envelope, and is read from disk block by block.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from core.audio.reader import open_sound_file

BASE_BUCKET = 64
LEVEL_FACTOR = 4
READ_BLOCK = 1 << 16  # a multiple of BASE_BUCKET: only the last block can be partial


class EnvelopeView(NamedTuple):
    """The visible part of an envelope: bucket ``i`` covers ``[times[i], times[i] + step)`` seconds."""

    times: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray
    step: float


def _bucket_extremes(samples: np.ndarray, bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n,)`` samples -> min and max of each run of ``bucket`` samples (last run may be shorter)."""
    starts = np.arange(0, samples.shape[0], bucket)
    return np.minimum.reduceat(samples, starts), np.maximum.reduceat(samples, starts)


def _frame_bucket_extremes(block: np.ndarray, bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n, channels)`` C-ordered frames -> min and max over all channels of each run of
    ``bucket`` frames. Full runs are contiguous rows of ``bucket * channels`` values."""
    frames = block.shape[0]
    full = frames - frames % bucket
    rows = np.ascontiguousarray(block[:full]).reshape(-1, bucket * block.shape[1])
    mins, maxs = rows.min(axis=1), rows.max(axis=1)
    if full < frames:
        tail = block[full:]
        mins = np.append(mins, tail.min())
        maxs = np.append(maxs, tail.max())
    return mins, maxs


@dataclass
class PeakEnvelope:
    """Multi-resolution min/max envelope of one (channel-merged) signal.

    Attributes:
        samplerate: frames per second of the source.
        frames: length of the source in frames.
        levels: ``levels[k] = (mins, maxs)``, float32 arrays of ``ceil(frames / (64 * 4**k))``.
    """

    samplerate: int
    frames: int
    levels: list[tuple[np.ndarray, np.ndarray]]

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate

    @staticmethod
    def bucket_size(level: int) -> int:
        return BASE_BUCKET * LEVEL_FACTOR**level

    @classmethod
    def from_array(cls, audio: np.ndarray, samplerate: int) -> PeakEnvelope:
        """``(frames,)`` or ``(frames, channels)`` samples."""
        audio = np.asarray(audio)
        return cls.from_blocks([audio], samplerate)

    @classmethod
    def from_blocks(cls, blocks: Iterable[np.ndarray], samplerate: int) -> PeakEnvelope:
        """Build from consecutive blocks whose lengths (except the last) are multiples of 64."""
        mins, maxs = [], []
        frames = 0
        for block in blocks:
            block = np.asarray(block, dtype=np.float32)
            if block.ndim == 1:
                block = block[:, None]
            if block.shape[0] == 0:
                continue
            if frames % BASE_BUCKET:
                raise ValueError("only the last block may have a length that is not a multiple of 64")
            low, high = _frame_bucket_extremes(block, BASE_BUCKET)
            mins.append(low)
            maxs.append(high)
            frames += block.shape[0]
        base_min = np.concatenate(mins) if mins else np.zeros(0, np.float32)
        base_max = np.concatenate(maxs) if maxs else np.zeros(0, np.float32)
        levels = [(base_min, base_max)]
        while levels[-1][0].shape[0] > 1024:
            low, high = levels[-1]
            levels.append((_bucket_extremes(low, LEVEL_FACTOR)[0], _bucket_extremes(high, LEVEL_FACTOR)[1]))
        return cls(samplerate, frames, levels)

    @classmethod
    def from_file(cls, path: Path) -> PeakEnvelope:
        """Read a file block by block (memory does not grow with its length). Only regular
        files are opened, without waiting (:func:`core.audio.reader.open_sound_file`): a
        FIFO or device raises AudioLoadError at once instead of holding the reading thread."""
        with open_sound_file(Path(path)) as handle:
            samplerate = handle.samplerate
            blocks = (b for b in handle.blocks(READ_BLOCK, dtype="float32", always_2d=True))
            return cls.from_blocks(blocks, samplerate)

    def level_for(self, frames_per_pixel: float) -> int:
        """Coarsest level whose bucket is at most one pixel wide (0 when zoomed further in)."""
        level = 0
        while level + 1 < len(self.levels) and self.bucket_size(level + 1) <= frames_per_pixel:
            level += 1
        return level

    def view(self, start: float, end: float, pixels: int) -> EnvelopeView:
        """Envelope of ``[start, end]`` seconds for ``pixels`` columns.

        Returns:
            start time of each merged bucket and its extremes: only buckets that
            overlap the view, each at most one pixel wide (``group = floor(frames per
            pixel / bucket)``), so between about ``pixels`` and ``2 * pixels + 2`` entries.
        """
        pixels = max(int(pixels), 1)
        start = max(start, 0.0)
        end = min(end, self.duration)
        if end <= start or self.frames == 0:
            empty = np.zeros(0, np.float32)
            return EnvelopeView(empty.astype(np.float64), empty, empty, 0.0)
        frames_per_pixel = (end - start) * self.samplerate / pixels
        level = self.level_for(frames_per_pixel)
        bucket = self.bucket_size(level)
        low, high = self.levels[level]
        first = int(start * self.samplerate // bucket)
        last = min(int(np.ceil(end * self.samplerate / bucket)), low.shape[0])
        group = max(1, int(frames_per_pixel // bucket))
        first -= first % group  # align groups to the pyramid so panning does not shimmer
        low, high = low[first:last], high[first:last]
        if group > 1:
            low, high = _bucket_extremes(low, group)[0], _bucket_extremes(high, group)[1]
        times = (first + np.arange(low.shape[0]) * group) * bucket / self.samplerate
        return EnvelopeView(times, low, high, group * bucket / self.samplerate)


def zigzag(view: EnvelopeView) -> tuple[np.ndarray, np.ndarray]:
    """Polyline visiting min and max of every bucket: draws as a filled band.

    Bucket ``i`` becomes the two points ``(t_i + step/2, min_i), (t_i + step/2, max_i)``
    with min/max order alternating, so consecutive vertical strokes join at the edges.
    """
    times, mins, maxs, step = view
    x = np.repeat(times + step / 2, 2)
    y = np.empty(2 * mins.shape[0], dtype=np.float32)
    y[0::4], y[1::4] = mins[0::2], maxs[0::2]
    y[2::4], y[3::4] = maxs[1::2], mins[1::2]
    return x, y
