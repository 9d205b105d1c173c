"""Streaming separation of one audio file, at bounded memory.

Data flow, block by block (R = file rate, r = model rate, C channels, S stems)::

    file --read--> (n, C) @R --soxr--> (m, C) @r --overlap-add(model)--> (C, S, m') @r
         --soxr--> (k, C*S) @R --align with the input--> (mix (k, C), stems (k, C, S))
         --high band (R > 2 * 11 025 Hz, "assign"/"learned")--> sink(mix (k', C), stems (k', C, S))

The model decides how the signal is cut (:mod:`core.models.interface`): its rate, its
segment plan (segment, overlap, window, how the end is padded) and its channels. A mono
model separates each channel as its own mono signal (core/METHOD.md section 1); a stereo
model gets both channels of a segment together, and a mono file is duplicated into its two
channels and its stems averaged back to one. A preset with ``shifts`` runs the plan at
several delays and averages the renders (:mod:`core.audio.shift_ensemble`). The input
blocks wait in a FIFO until the stems for the same frames come out, so the sink
always receives sample-aligned pairs and, in total, **exactly** as many frames as
the file has (the resamplers' rounding is padded or trimmed at the end). Memory is
bounded by a few segments plus one block, whatever the file's duration; the stems
leave the model rate in pieces of about one read block, so the file's rate (up to
:data:`core.audio.reader.MAX_SAMPLE_RATE`) only scales the input waiting in the FIFO.

Above the model's band edge the resampled stems are empty; with ``high_band="assign"``
:class:`core.audio.high_band.HighBandAssigner` gives each stem its share of the
input's high band, by a rule (``"assign"``) or by a small trained network (``"learned"``,
:mod:`core.audio.learned_high_band`); ``"residual"`` leaves it all to the residual. Inputs
whose band is not wider than the model's (at or below 22 050 Hz for a 22 050 Hz model, 44 100 Hz
for a 44 100 Hz one) have no high band and skip that stage. The learned network knows the
default model's stems and band edge only; for other models ``"learned"`` falls back to
``"assign"`` (:func:`effective_high_band`; the recipe records the mode applied).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.audio.high_band import HighBandAssigner, HighBandMasks, has_high_band
from core.audio.overlap_add import OverlapAdd
from core.audio.reader import AudioInfo, read_blocks
from core.audio.resample import StreamResampler
from core.audio.shift_ensemble import MAX_SHIFT_SECONDS, ShiftEnsemble, shift_delays
from core.instruments import DEFAULT_HIGH_BAND, HIGH_BAND_MODES, INSTRUMENTS, MODEL_SAMPLE_RATE
from core.model import Preset, StemModel
from core.models.interface import model_channels, model_segment_plan
from core.progress import NEVER_CANCELLED, CancelToken, ProgressCallback, no_progress

log = logging.getLogger(__name__)

Sink = Callable[[np.ndarray, np.ndarray], None]
"""Receives ``mix (k, C)`` float64 and ``stems (k, C, S)`` float64, aligned, in order."""


@dataclass(frozen=True)
class StreamSettings:
    """Chunking of the stream.

    Attributes:
        overlap_fraction: share of a segment crossfaded with its neighbour.
        block_frames: frames read from the file at a time.
        max_positions: segment positions sent to the model per call (all channels of
            a position go together), lowered automatically on out-of-memory errors.
    """

    overlap_fraction: float = 0.125
    block_frames: int = 1 << 16
    max_positions: int = 2


class _Fifo:
    """Frames waiting for their partner: ``(frames, ...)`` arrays popped in order.

    A pop joins only the parts it takes, so many small pops from a long queue (a
    segment's worth of input at a high rate) cost what they return, not the queue.
    """

    def __init__(self) -> None:
        self._parts: deque[np.ndarray] = deque()
        self.size = 0

    def push(self, block: np.ndarray) -> None:
        if block.shape[0]:
            self._parts.append(block)
            self.size += block.shape[0]

    def pop(self, count: int) -> np.ndarray:
        taken, needed = [], min(count, self.size)
        while needed:
            head = self._parts[0]
            if head.shape[0] <= needed:
                taken.append(self._parts.popleft())
            else:
                taken.append(head[:needed])
                self._parts[0] = head[needed:]
            needed -= taken[-1].shape[0]
            self.size -= taken[-1].shape[0]
        return taken[0] if len(taken) == 1 else np.concatenate(taken, axis=0)


class SegmentRunner:
    """Calls the model on a batch of segments, falling back on out-of-memory errors.

    The batch holds ``channels`` rows per segment position, position-major (as
    :class:`~core.audio.overlap_add.OverlapAdd` hands them). A mono model gets every row
    on its own; a stereo model (:func:`~core.models.interface.model_channels` 2) gets each
    position's pair, ``(P, 2, L)``, and a mono signal (``channels == 1``) is duplicated into
    both of its channels and the two estimates averaged.

    On a CUDA out-of-memory error the model's ``max_batch`` is halved and the call
    retried; at a batch of one the model moves to the CPU. Each fallback is reported
    through ``progress`` so the user knows.
    """

    def __init__(self, model: StemModel, instruments: Sequence[str], preset: Preset,
                 generator: torch.Generator, cancel: CancelToken, notify: Callable[[str], None],
                 channels: int = 1):
        self.model = model
        self.instruments = tuple(instruments)
        self.preset = preset
        self.generator = generator
        self.cancel = cancel
        self.notify = notify
        self.channels = channels
        self.model_channels = model_channels(model)
        if self.model_channels == 2 and channels not in (1, 2):
            raise ValueError(f"a stereo model takes 1 or 2 channels, not {channels}")

    def __call__(self, segments: np.ndarray) -> np.ndarray:
        """``(B, L)`` float32 -> ``(B, S, L)`` float32 (``B`` = positions x channels).

        Each call draws its noise from a generator seeded by (seed, call number), so a
        retry after an out-of-memory error repeats exactly the same render.
        """
        call_seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
        while True:
            try:
                with torch.inference_mode():
                    mixture = torch.from_numpy(np.ascontiguousarray(segments)).to(self.model.device)
                    stems = self._separate(mixture, torch.Generator().manual_seed(call_seed))
                    return stems.float().cpu().numpy()
            except torch.cuda.OutOfMemoryError:
                self._fall_back()

    def _separate(self, mixture: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``(B, L)`` rows -> ``(B, S, L)``, through the model's own layout."""
        if self.model_channels == 1:
            return self.model.separate(mixture, self.instruments, self.preset, generator, self.cancel)
        count, length = mixture.shape
        pairs = mixture.reshape(count // self.channels, self.channels, length)
        if self.channels == 1:
            pairs = pairs.expand(-1, 2, -1).contiguous()
        stems = self.model.separate(pairs, self.instruments, self.preset, generator, self.cancel)  # (P, S, 2, L)
        if self.channels == 1:
            return stems.mean(dim=2)
        return stems.permute(0, 2, 1, 3).reshape(count, len(self.instruments), length)

    def _fall_back(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        batch = getattr(self.model, "max_batch", 1)
        if batch > 1:
            self.model.max_batch = batch // 2
            self.notify(f"out of GPU memory: retrying with batches of {batch // 2}")
        elif self.model.device.type != "cpu":
            self.model.to("cpu")
            self.notify("out of GPU memory even at batch 1: continuing on the CPU")
        else:
            raise MemoryError("out of memory on the CPU")


def effective_high_band(high_band: str, model: StemModel, instruments: Sequence[str]) -> str:
    """The high-band mode applied: ``"learned"`` only where the learned network serves
    (stems it knows, :data:`~core.instruments.INSTRUMENTS`, and the band edge it was trained
    at, half of :data:`~core.instruments.MODEL_SAMPLE_RATE`), else ``"assign"``; other modes
    as given."""
    if high_band == "learned" and (model.sample_rate != MODEL_SAMPLE_RATE
                                   or any(name not in INSTRUMENTS for name in instruments)):
        return "assign"
    return high_band


def high_band_masks(high_band: str, instruments: Sequence[str], model_id: str) -> Callable:
    """The masks' maker of the :class:`HighBandAssigner` for ``"assign"`` or ``"learned"``."""
    if high_band == "learned":
        from core.audio.learned_high_band import learned_masks_maker

        return learned_masks_maker(instruments, model_id)
    return HighBandMasks


def segment_engine(runner: SegmentRunner, model: StemModel, preset: Preset, channels: int, stems: int, seed: int,
                   settings: StreamSettings, cancel: CancelToken) -> OverlapAdd | ShiftEnsemble:
    """The overlap-add of the model's segment plan, or with ``preset.shifts`` the shift
    ensemble of that plan (delays drawn from ``seed``)."""
    plan = model_segment_plan(model, settings.overlap_fraction)
    if preset.shifts:
        delays = shift_delays(preset.shifts, int(MAX_SHIFT_SECONDS * model.sample_rate), seed)
        return ShiftEnsemble(runner, plan, delays, channels, stems, settings.max_positions, cancel.check)
    return OverlapAdd.from_plan(runner, plan, channels, stems, settings.max_positions, cancel.check)


def separate_stream(
    info: AudioInfo,
    model: StemModel,
    instruments: Sequence[str],
    preset: Preset,
    sink: Sink,
    seed: int = 0,
    settings: StreamSettings = StreamSettings(),
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    high_band: str = DEFAULT_HIGH_BAND,
    blocks: Iterable[np.ndarray] | None = None,
) -> int:
    """Separate a probed file into ``instruments``, feeding aligned blocks to ``sink``.

    Args:
        blocks: the file's samples when the caller reads them itself (an
            :meth:`core.audio.reader.AudioSource.blocks`, which hashes what it reads);
            by default the file at ``info.path`` is opened and read here.

    Returns:
        The number of frames delivered (the file's frame count).
    """
    if blocks is None:
        blocks = read_blocks(info, settings.block_frames)
    return separate_blocks(blocks, info.samplerate, info.channels,
                           info.frames, info.path.name, model, instruments, preset, sink, seed,
                           settings, progress, cancel, high_band)


def separate_blocks(
    blocks: Iterable[np.ndarray],
    rate: int,
    channels: int,
    frames: int,
    name: str,
    model: StemModel,
    instruments: Sequence[str],
    preset: Preset,
    sink: Sink,
    seed: int = 0,
    settings: StreamSettings = StreamSettings(),
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    high_band: str = DEFAULT_HIGH_BAND,
) -> int:
    """Separate a stream of ``(n, channels)`` blocks at ``rate`` (``frames`` in all, for
    progress; ``name`` for messages): the body of :func:`separate_stream`, also fed from
    memory by the full-band evaluation.

    Returns:
        The number of frames delivered (the number of frames in ``blocks``).
    """
    if high_band not in HIGH_BAND_MODES:
        raise ValueError(f"unknown high-band mode {high_band!r}; choose from {', '.join(HIGH_BAND_MODES)}")
    stems = len(instruments)
    model_rate = model.sample_rate
    high_band = effective_high_band(high_band, model, instruments)
    generator = torch.Generator().manual_seed(seed)
    runner = SegmentRunner(model, instruments, preset, generator, cancel,
                           notify=lambda message: progress(frames_read / max(frames, 1), message), channels=channels)
    engine = segment_engine(runner, model, preset, channels, stems, seed, settings, cancel)
    down = StreamResampler(rate, model_rate, channels)
    up = StreamResampler(model_rate, rate, channels * stems)
    assigner = (HighBandAssigner(rate, channels, stems, model_rate / 2,
                                 make_masks=high_band_masks(high_band, instruments, model.model_id))
                if high_band != "residual" and has_high_band(rate, model_rate / 2) else None)
    pending_mix, pending_stems = _Fifo(), _Fifo()
    frames_read = 0
    delivered = 0

    def emit(mix: np.ndarray, stem_block: np.ndarray) -> None:
        nonlocal delivered
        if mix.shape[0]:
            sink(mix, stem_block)
            delivered += mix.shape[0]

    # Model-rate samples whose stems make about one read block at the file's rate: the
    # stems go up, through the high band and to the sink in pieces of that size, so
    # memory does not grow with the rate (a segment at 768 kHz is 4.6 M frames per stem).
    piece = max(1, settings.block_frames * model_rate // rate)

    def deliver(stem_block_at_model_rate: np.ndarray, last: bool) -> None:
        # (C, S, m) -> (m, C*S) -> resample -> (k, C, S)
        flat = stem_block_at_model_rate.transpose(2, 0, 1).reshape(-1, channels * stems)
        for start in range(0, max(flat.shape[0], 1), piece):
            final = last and start + piece >= flat.shape[0]
            up_block = up.push(flat[start : start + piece], last=final)
            pending_stems.push(up_block.astype(np.float64).reshape(-1, channels, stems))
            if final:  # pad or trim the resamplers' rounding so the lengths match exactly
                missing = pending_mix.size - pending_stems.size
                if missing > 0:
                    pending_stems.push(np.zeros((missing, channels, stems)))
            count = min(pending_mix.size, pending_stems.size)
            if count:
                mix, stem_block = pending_mix.pop(count), pending_stems.pop(count)
                emit(*(assigner.push(mix, stem_block) if assigner else (mix, stem_block)))
        if last and assigner:
            emit(*assigner.finish())

    for block in blocks:
        cancel.check()
        frames_read += block.shape[0]
        pending_mix.push(block)
        at_model_rate = down.push(block)
        deliver(engine.push(at_model_rate.T), last=False)
        progress(min(frames_read / max(frames, 1), 1.0) * 0.999, f"separating {name}")
    cancel.check()
    tail = engine.push(down.flush().T)
    deliver(np.concatenate([tail, engine.finish()], axis=2), last=True)
    progress(1.0, f"separated {name}")
    return delivered
