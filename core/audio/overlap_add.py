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

A model may chunk differently (:class:`SegmentPlan`, declared by the model):

- ``window="triangle"``: the triangle ``w[t] = min(t + 1, L - t)`` scaled to a peak of 1
  (Demucs' ``apply_model`` with ``transition_power`` 1) instead of the raised-cosine ramps;
- ``tail="centered"``: a segment that runs past the end of the signal (``n - s < L`` real
  samples left) is not zero-padded at its end but moved back by ``d // 2``, ``d = L - (n - s)``,
  so that its real samples sit in its middle: the model sees ``x[s - d//2 : s - d//2 + L]``
  (zeros outside ``[0, n)``), and only its output samples ``[d//2, d//2 + n - s)`` are used,
  weighted by ``w[: n - s]``. This is what ``demucs.apply.apply_model(model, mix, shifts=0,
  split=True, overlap=...)`` does with its ``TensorChunk.padded`` and ``center_trim``; with the
  same segment, hop and triangle it gives the same sum, sample for sample.

The rows of the batch handed to the segment function are ordered position-major
(row ``p * channels + c`` is channel ``c`` of position ``p``), so a stereo model's wrapper
may regroup them into ``(positions, channels, segment)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SegmentFn = Callable[[np.ndarray], np.ndarray]
"""``(batch, segment)`` float32 mono segments -> ``(batch, outputs, segment)``."""

WINDOWS: tuple[str, ...] = ("crossfade", "triangle")
TAILS: tuple[str, ...] = ("zero", "centered")


@dataclass(frozen=True)
class SegmentPlan:
    """How a model's input is cut into segments and put back together (module docstring).

    Attributes:
        segment: segment length ``L`` in samples at the model's rate.
        overlap: samples shared by neighbouring segments (hop ``L - overlap``).
        margin: zeros framed around the signal (``"zero"`` tail only).
        window: ``"crossfade"`` (raised-cosine ramps of ``overlap``) or ``"triangle"``.
        tail: ``"zero"`` (the last segments are zero-padded at their end) or ``"centered"``.
    """

    segment: int
    overlap: int
    margin: int = 0
    window: str = "crossfade"
    tail: str = "zero"

    def __post_init__(self) -> None:
        if self.window not in WINDOWS or self.tail not in TAILS:
            raise ValueError(f"unknown window {self.window!r} or tail {self.tail!r}")
        if self.tail == "centered" and self.margin:
            raise ValueError("a centered tail takes no margin")

    @property
    def hop(self) -> int:
        return self.segment - self.overlap

    def weights(self) -> np.ndarray:
        """The window ``(segment,)`` float64."""
        if self.window == "triangle":
            return triangle_window(self.segment)
        return crossfade_window(self.segment, self.overlap)


def crossfade_window(segment: int, overlap: int) -> np.ndarray:
    """Weights ``(segment,)``: raised-cosine ramps of ``overlap`` samples, strictly positive."""
    window = np.ones(segment, dtype=np.float64)
    if overlap > 0:
        ramp = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / overlap) ** 2
        window[:overlap] = ramp
        window[segment - overlap :] = np.minimum(window[segment - overlap :], ramp[::-1])
    return window


def triangle_window(segment: int) -> np.ndarray:
    """Weights ``(segment,)``: ``min(t + 1, segment - t)`` over its maximum (``ceil(segment / 2)``),
    the triangle of Demucs' ``apply_model`` (positive everywhere)."""
    ramp = np.minimum(np.arange(1, segment + 1), np.arange(segment, 0, -1)).astype(np.float64)
    return ramp / ramp.max()


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
        window: ``"crossfade"`` or ``"triangle"`` (:class:`SegmentPlan`).
        tail: ``"zero"`` or ``"centered"`` (:class:`SegmentPlan`).
        lead: zeros before the signal (after the margin), their outputs dropped: the signal
            delayed by ``lead`` samples for the segment plan, realigned on output (one
            render of a shift ensemble, :mod:`core.audio.shift_ensemble`).
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
        window: str = "crossfade",
        tail: str = "zero",
        lead: int = 0,
    ):
        plan = SegmentPlan(segment, overlap, margin, window, tail)  # checks the names
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
        self.window = plan.weights()
        self.tail = tail
        self._history = segment // 2 if tail == "centered" else 0  # input kept before the next segment
        self.margin = margin
        self._leading = margin + max(0, lead)  # zeros in front of the signal
        self._to_drop = self._leading  # output samples of the leading zeros, not yet dropped
        self._input = np.zeros((channels, self._leading), np.float32)  # samples from _input_start on
        self._input_start = 0
        self._next_segment = 0  # absolute start of the next segment to run
        self._acc = np.zeros((channels, outputs, 0), np.float64)  # from _acc_start on
        self._weight = np.zeros(0, np.float64)
        self._acc_start = 0
        self._finished = False

    @classmethod
    def from_plan(cls, fn: SegmentFn, plan: SegmentPlan, channels: int, outputs: int, max_positions: int = 1,
                  before_batch: Callable[[], None] | None = None, lead: int = 0) -> OverlapAdd:
        """The engine of a model's :class:`SegmentPlan`."""
        return cls(fn, plan.segment, plan.overlap, channels, outputs, max_positions, before_batch,
                   plan.margin, plan.window, plan.tail, lead)

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
        if end == self._leading:  # nothing was pushed
            return self._join([])
        if self.tail == "centered":  # every segment left runs past the end: each is centred
            ready = []
            while self._next_segment < end:
                count = min(self.max_positions, -(-(end - self._next_segment) // self.hop))
                self._run(count, total=end)
                ready.append(self._emit(min(self._next_segment, end)))
            ready.append(self._emit(end))
            return self._join(ready)
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
        # per start: (first input sample, first output sample used, output samples used)
        spans = [self._span(start, total) for start in starts]
        batch = np.zeros((len(starts), self.channels, self.segment), np.float32)
        for i, (source, _, _) in enumerate(spans):
            low = max(source, self._input_start)
            high = min(source + self.segment, self.pushed)
            piece = self._input[:, low - self._input_start : high - self._input_start]
            batch[i, :, low - source : low - source + piece.shape[1]] = piece
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
            _, used, length = spans[i]
            local = start - self._acc_start
            window = self.window[:length]
            self._acc[:, :, local : local + length] += result[i, :, :, used : used + length] * window
            self._weight[local : local + length] += window
        self._next_segment = starts[-1] + self.hop
        keep_from = max(0, self._next_segment - self._history)
        drop = keep_from - self._input_start
        if drop > 0:
            self._input = self._input[:, drop:]
            self._input_start = keep_from

    def _span(self, start: int, total: int | None) -> tuple[int, int, int]:
        """Where the segment at ``start`` reads its input and which of its outputs count:
        ``(first input sample, first output sample used, output samples used)``. Only a
        centred tail's last segments differ from ``(start, 0, segment)``."""
        if self.tail != "centered" or total is None or start + self.segment <= total:
            return start, 0, self.segment
        real = total - start
        shift = (self.segment - real) // 2
        return start - shift, shift, real

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
                max_positions: int = 1, margin: int = 0, window: str = "crossfade",
                tail: str = "zero") -> np.ndarray:
    """Apply ``fn`` to a whole ``(channels, n)`` signal; returns ``(channels, outputs, n)``."""
    engine = OverlapAdd(fn, segment, overlap, signal.shape[0], outputs, max_positions, margin=margin,
                        window=window, tail=tail)
    return np.concatenate([engine.push(signal), engine.finish()], axis=2)
