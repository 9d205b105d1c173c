"""The shift ensemble: a model run on delayed copies of the signal, realigned and averaged.

Demucs' authors average ``K`` renders of the signal delayed by random offsets (their
``apply_model(..., shifts=K)``): for render ``k`` with delay ``z_k`` samples (``0 <= z_k <=
max_shift``, half a second at the model's rate), the segment plan runs over ``z_k`` zeros
followed by the signal, and the first ``z_k`` output samples are dropped; then::

    y[t] = (1 / K) sum_k y_k[t]

The segment boundaries fall elsewhere in every render, so their errors average out.
Here each render is its own streaming :class:`~core.audio.overlap_add.OverlapAdd` (its
``lead`` is the delay) and the renders' outputs wait in FIFOs until all of them have
produced a sample: memory stays bounded by a few segments per render. The delays come
from the render's seed, so a seed repeats a render exactly (Demucs draws them from Python's
global ``random``, and for a bag draws new ones for each model; here the whole bag shares
them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.audio.overlap_add import OverlapAdd, SegmentFn, SegmentPlan

MAX_SHIFT_SECONDS = 0.5
"""The largest delay of a render, in seconds (Demucs' ``max_shift``)."""


def shift_delays(count: int, max_shift: int, seed: int) -> list[int]:
    """``count`` delays in ``[0, max_shift]`` samples drawn from ``seed``.

    Demucs draws ``offset`` uniformly in ``[0, max_shift]`` and delays by ``max_shift - offset``,
    the same distribution."""
    rng = np.random.default_rng(seed)
    return [int(value) for value in rng.integers(0, max_shift + 1, size=count)]


class ShiftEnsemble:
    """Streaming average of one segment plan run at several delays (module docstring).

    Same interface as :class:`OverlapAdd`: :meth:`push` ``(channels, n)`` blocks, get back
    finished ``(channels, outputs, m)`` output; :meth:`finish` returns the rest.

    Args:
        fn: segment function shared by the renders.
        plan: the model's segment plan.
        delays: one delay in samples per render.
        channels, outputs, max_positions, before_batch: as for :class:`OverlapAdd`.
    """

    def __init__(self, fn: SegmentFn, plan: SegmentPlan, delays: Sequence[int], channels: int, outputs: int,
                 max_positions: int = 1, before_batch: Callable[[], None] | None = None):
        if not delays:
            raise ValueError("a shift ensemble needs at least one delay")
        self.engines = [OverlapAdd.from_plan(fn, plan, channels, outputs, max_positions, before_batch, lead=delay)
                        for delay in delays]
        self.channels, self.outputs = channels, outputs
        self._waiting: list[np.ndarray] = [np.zeros((channels, outputs, 0)) for _ in self.engines]

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add ``(channels, n)`` samples; return the averaged output ready in every render."""
        return self._collect([engine.push(block) for engine in self.engines])

    def finish(self) -> np.ndarray:
        """Finish every render; return the rest of the average."""
        return self._collect([engine.finish() for engine in self.engines])

    def _collect(self, parts: list[np.ndarray]) -> np.ndarray:
        self._waiting = [np.concatenate([waiting, part], axis=2) for waiting, part in zip(self._waiting, parts, strict=True)]
        ready = min(waiting.shape[2] for waiting in self._waiting)
        total = np.zeros((self.channels, self.outputs, ready))
        for index, waiting in enumerate(self._waiting):
            total += waiting[:, :, :ready]
            self._waiting[index] = waiting[:, :, ready:]
        return total / len(self.engines)
