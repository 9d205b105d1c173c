"""Chunked inference: fixed-length segments, windowed overlap-add, streaming.

A signal of any length is cut into segments of ``segment`` samples that start every
``hop = segment - overlap`` samples; the last one is zero-padded. Each segment's
output is weighted by a window ``w`` (raised-cosine ramps of ``overlap`` samples at
both ends, 1 in between, never 0) and the outputs are combined by normalised
overlap-add::

    y[t] = sum_k w[t - s_k] * y_k[t - s_k] / sum_k w[t - s_k]

so an identity model reconstructs its input exactly (up to float rounding), and
neighbouring segments crossfade over the overlap. With a ``margin`` the signal is
framed by that many zeros at both ends (and the output trimmed back), so its first
and last samples lie inside a segment rather than on a segment's edge, where a
convolutional model's zero padding distorts its output most. Samples are pushed in blocks of
any size and finished output comes back as soon as no later segment can touch it,
so memory stays bounded by a few segments whatever the signal's length.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SegmentFn = Callable[[np.ndarray], np.ndarray]
"""``(batch, segment)`` float32 mono segments -> ``(batch, outputs, segment)``."""


def crossfade_window(segment: int, overlap: int) -> np.ndarray:
    """Weights ``(segment,)``: raised-cosine ramps of ``overlap`` samples, strictly positive."""
    window = np.ones(segment, dtype=np.float64)
    if overlap > 0:
        ramp = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / overlap) ** 2
        window[:overlap] = ramp
        window[segment - overlap :] = np.minimum(window[segment - overlap :], ramp[::-1])
    return window


class OverlapAdd:
    """Streaming overlap-add of a segment function over multichannel signals.

    Each of the ``channels`` is treated as its own mono signal; segments of all
    channels at up to ``max_positions`` positions go through ``fn`` in one batch.

    Args:
        fn: segment function, ``(B, segment)`` -> ``(B, outputs, segment)``.
        segment: segment length in samples.
        overlap: samples shared by neighbouring segments (``0 <= overlap < segment``).
        channels: number of channels pushed.
        outputs: number of outputs ``fn`` returns per segment (stems).
        max_positions: segment positions batched per call of ``fn``.
        before_batch: called before every call of ``fn`` (cancel checks).
        margin: zeros framed around the signal at both ends (``0 <= margin <= overlap``
            keeps every real sample away from the edges); the output never includes them.
    """

    def __init__(
        self,
        fn: SegmentFn,
        segment: int,
        overlap: int,
        channels: int,
        outputs: int,
        max_positions: int = 1,
        before_batch: Callable[[], None] | None = None,
        margin: int = 0,
    ):
        if not 0 <= overlap < segment:
            raise ValueError(f"overlap must be in [0, segment), got {overlap} for {segment}")
        if not 0 <= margin < segment:
            raise ValueError(f"margin must be in [0, segment), got {margin} for {segment}")
        self.fn = fn
        self.segment = segment
        self.hop = segment - overlap
        self.channels = channels
        self.outputs = outputs
        self.max_positions = max(1, max_positions)
        self.before_batch = before_batch or (lambda: None)
        self.window = crossfade_window(segment, overlap)
        self.margin = margin
        self._to_drop = margin  # output samples of the leading zeros, not yet dropped
        self._input = np.zeros((channels, margin), np.float32)  # samples from _input_start on
        self._input_start = 0
        self._next_segment = 0  # absolute start of the next segment to run
        self._acc = np.zeros((channels, outputs, 0), np.float64)  # from _acc_start on
        self._weight = np.zeros(0, np.float64)
        self._acc_start = 0
        self._finished = False

    @property
    def pushed(self) -> int:
        """Samples in the stream so far (the leading margin included)."""
        return self._input_start + self._input.shape[1]

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add ``(channels, n)`` samples; return finished output ``(channels, outputs, m)``."""
        if self._finished:
            raise RuntimeError("push after finish")
        self._input = np.concatenate([self._input, np.asarray(block, np.float32)], axis=1)
        ready = []
        while self._next_segment + self.segment <= self.pushed:
            count = min(self.max_positions, 1 + (self.pushed - self.segment - self._next_segment) // self.hop)
            self._run(count, total=None)
            ready.append(self._emit(self._next_segment))
        return self._join(ready)

    def finish(self) -> np.ndarray:
        """Run the remaining (zero-padded) segments; return the rest of the output."""
        self._finished = True
        end = self.pushed  # the last real sample + 1
        if end == self.margin:  # nothing was pushed
            return self._join([])
        self._input = np.concatenate([self._input, np.zeros((self.channels, self.margin), np.float32)], axis=1)
        total = self.pushed
        ready = []
        while self._next_segment < total:
            count = min(self.max_positions, -(-(total - self._next_segment) // self.hop))
            self._run(count, total=total)
            ready.append(self._emit(min(self._next_segment, end)))
        ready.append(self._emit(end))
        return self._join(ready)

    def _run(self, count: int, total: int | None) -> None:
        """Process ``count`` segment positions starting at ``_next_segment``."""
        starts = [self._next_segment + k * self.hop for k in range(count)]
        if total is not None:
            starts = [s for s in starts if s < total]
        batch = np.zeros((len(starts), self.channels, self.segment), np.float32)
        for i, start in enumerate(starts):
            local = start - self._input_start
            piece = self._input[:, local : local + self.segment]
            batch[i, :, : piece.shape[1]] = piece
        self.before_batch()
        flat = batch.reshape(len(starts) * self.channels, self.segment)
        result = np.asarray(self.fn(flat), np.float64)
        expected = (flat.shape[0], self.outputs, self.segment)
        if result.shape != expected:
            raise ValueError(f"segment function returned {result.shape}, expected {expected}")
        result = result.reshape(len(starts), self.channels, self.outputs, self.segment)
        end = starts[-1] + self.segment
        grow = end - (self._acc_start + self._weight.shape[0])
        if grow > 0:
            self._acc = np.concatenate(
                [self._acc, np.zeros((self.channels, self.outputs, grow))], axis=2
            )
            self._weight = np.concatenate([self._weight, np.zeros(grow)])
        for i, start in enumerate(starts):
            local = start - self._acc_start
            self._acc[:, :, local : local + self.segment] += result[i] * self.window
            self._weight[local : local + self.segment] += self.window
        self._next_segment = starts[-1] + self.hop
        drop = self._next_segment - self._input_start
        if drop > 0:
            self._input = self._input[:, drop:]
            self._input_start = self._next_segment

    def _emit(self, upto: int) -> np.ndarray:
        """Return normalised output for samples in ``[_acc_start, upto)`` and forget it."""
        count = max(0, upto - self._acc_start)
        out = self._acc[:, :, :count] / self._weight[:count]
        self._acc = self._acc[:, :, count:]
        self._weight = self._weight[count:]
        self._acc_start += count
        if self._to_drop:
            dropped = min(self._to_drop, out.shape[2])
            out = out[:, :, dropped:]
            self._to_drop -= dropped
        return out

    def _join(self, parts: list[np.ndarray]) -> np.ndarray:
        if not parts:
            return np.zeros((self.channels, self.outputs, 0), np.float64)
        return np.concatenate(parts, axis=2)


def overlap_add(fn: SegmentFn, signal: np.ndarray, segment: int, overlap: int, outputs: int,
                max_positions: int = 1, margin: int = 0) -> np.ndarray:
    """Apply ``fn`` to a whole ``(channels, n)`` signal; returns ``(channels, outputs, n)``."""
    engine = OverlapAdd(fn, segment, overlap, signal.shape[0], outputs, max_positions, margin=margin)
    return np.concatenate([engine.push(signal), engine.finish()], axis=2)
