"""PyTorch datasets over a Slakh-style split (read and cached by :mod:`core.data.slakh`).

- :class:`RandomCropDataset` for training (core/METHOD.md section 3): random crops, one
  random target label per item, optionally remixed from four songs. Item ``i`` is a
  pure function of ``(seed, i)``, so a run resumed at step k, which asks for the same
  indices, sees the same data as an uninterrupted run, whatever the number of
  DataLoader workers.
- :class:`ChunkDataset` for evaluation (core/METHOD.md section 6): consecutive
  fixed-length chunks of every track, with the paper's drop rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from core.data.silence import SILENCE_THRESHOLD, is_silent
from core.data.slakh import Track, load_split
from core.errors import ConfigError
from core.instruments import INSTRUMENTS
from core.progress import ProgressCallback, no_progress

REMIX_GAIN = (0.25, 1.25)
"""Range of the random gain of each stem in a remixed item."""
UNBOUNDED_LENGTH = 2**31 - 1
"""Default number of crops: items are computed on demand, so any index is fine."""


class RandomCropDataset(Dataset):
    """Random training crops: ``(mixture, target, label)``.

    Item ``i`` draws, from a generator seeded with ``(seed, i)``:

    1. a crop position uniformly among all crop positions of the split, i.e. a track
       with probability proportional to its number of crop positions
       ``max(samples - segment_samples, 0) + 1`` (about its length), and an offset
       uniform in that track;
    2. a label uniform in 0..3 (:data:`core.instruments.INSTRUMENTS` order), or uniform
       among ``labels`` when given (a refiner on an imported separator that lacks some of
       the four stems). The target may be silent, as in the paper.
    3. **Remix** (with probability ``remix``, from a second generator seeded with
       ``(seed, i, 1)`` so that items without remix do not change): each of the four
       stems comes from its own crop position of a different track (as far as the
       split has four), times a gain uniform in :data:`REMIX_GAIN` and a random
       polarity; the mixture is their sum, ``m = sum_c s_c g_c p_c``, and the target
       the remixed stem of the label (as Demucs, Open-Unmix and the MDX entries do).
       With ``include_other``, the non-target parts join the sum from a fifth crop of
       yet another track, with their own gain and polarity.
    4. **Other kept** (only with ``include_other`` and ``other_probability < 1``, from a
       third generator seeded with ``(seed, i, 2)``): with probability
       ``1 - other_probability`` the item's mixture leaves the non-target parts out
       (``m = sum_c s_c``), so a run can mix crops with and without them.

    Tracks shorter than a segment are zero-padded at the end.

    Items: ``mixture`` float32 tensor ``(segment_samples,)``, ``target`` float32 tensor
    ``(segment_samples,)`` (the stem of ``label``), ``label`` int.

    Args:
        root: dataset folder; split: its sub-folder ("train", "validation", ...).
        segment_samples: crop length at 22 050 Hz.
        seed: non-negative integer selecting the sequence of crops.
        length: number of items (a virtual epoch); by default effectively unbounded,
            since items cost nothing until read (the trainer asks for indices
            ``step * batch + j``).
        include_other: add other instrument classes to the mixture (Slakh only).
        cache_dir: override the decoded-audio cache location.
        progress: ``progress(fraction, message)`` while the cache is built.
        jobs: processes decoding audio into the cache on first use.
        remix: probability that an item is remixed from four tracks (0 = never).
        labels: the instrument indices items may target (default all four, in order; the
            draw is then the same as without the argument).
        other_probability: with ``include_other``, the probability that an item's
            mixture holds the non-target parts (1: always, the draw of items is then the
            same as without the argument).
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        segment_samples: int,
        seed: int = 0,
        length: int = UNBOUNDED_LENGTH,
        include_other: bool = False,
        cache_dir: str | Path | None = None,
        progress: ProgressCallback = no_progress,
        jobs: int = 1,
        remix: float = 0.0,
        labels: Sequence[int] | None = None,
        other_probability: float = 1.0,
    ) -> None:
        if segment_samples < 1:
            raise ValueError("segment_samples must be positive")
        self.labels = tuple(range(len(INSTRUMENTS))) if labels is None else tuple(int(i) for i in labels)
        if not self.labels or any(not 0 <= i < len(INSTRUMENTS) for i in self.labels):
            raise ValueError(f"labels must be indices of {', '.join(INSTRUMENTS)}, got {list(self.labels)}")
        if not 0.0 <= remix <= 1.0:
            raise ValueError("remix must be a probability in [0, 1]")
        self.remix = float(remix)
        if not 0.0 <= other_probability <= 1.0:
            raise ValueError("other_probability must be a probability in [0, 1]")
        self.other_probability = float(other_probability)
        self.include_other = bool(include_other)
        if seed < 0:
            raise ValueError("seed must be non-negative")
        if length < 1:
            raise ValueError("length must be positive")
        self.segment_samples = int(segment_samples)
        self.seed = int(seed)
        self.length = int(length)
        self.tracks: list[Track] = load_split(root, split, include_other, cache_dir, progress, jobs)
        if not self.tracks:
            raise ConfigError(f"{root}: split {split!r} has no usable track")
        counts = np.array(
            [max(t.num_samples - self.segment_samples, 0) + 1 for t in self.tracks], np.int64
        )
        self._ends = np.cumsum(counts)

    def __len__(self) -> int:
        return self.length

    def _position(self, rng: np.random.Generator) -> tuple[int, int]:
        """A crop position ``(track, offset)`` drawn uniformly among all of the split's."""
        position = int(rng.integers(int(self._ends[-1])))
        track = int(np.searchsorted(self._ends, position, side="right"))
        return track, position - (int(self._ends[track - 1]) if track else 0)

    def crop(self, index: int) -> tuple[int, int, int]:
        """``(track index, offset in samples, label)`` of item ``index``."""
        rng = np.random.default_rng([self.seed, int(index)])
        track, offset = self._position(rng)
        label = self.labels[int(rng.integers(len(self.labels)))]
        return track, offset, label

    def _segment(self, track: int, offset: int) -> np.ndarray:
        """float32 ``(5, segment_samples)`` of ``track`` from ``offset``, zero-padded."""
        piece = self.tracks[track].read(offset, offset + self.segment_samples)
        if piece.shape[1] == self.segment_samples:
            return piece
        padded = np.zeros((piece.shape[0], self.segment_samples), np.float32)
        padded[:, : piece.shape[1]] = piece
        return padded

    def _remix_draw(self, rng: np.random.Generator, used: set[int]) -> tuple[int, int, float]:
        """``(track, offset, gain)`` of one remixed part: a crop position of a track not in
        ``used`` where the split has enough, and a gain in :data:`REMIX_GAIN` with a random
        polarity."""
        track, offset = self._position(rng)
        for _ in range(8):
            if track not in used or len(used) >= len(self.tracks):
                break
            track, offset = self._position(rng)
        gain = rng.uniform(*REMIX_GAIN) * (1.0 if rng.random() < 0.5 else -1.0)
        return track, offset, float(gain)

    def keeps_other(self, index: int) -> bool:
        """Whether item ``index``'s mixture holds the non-target parts."""
        if not self.include_other:
            return False
        if self.other_probability >= 1.0:
            return True
        return bool(np.random.default_rng([self.seed, int(index), 2]).random() < self.other_probability)

    def remixed(self, index: int, label: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(mixture, target)`` of item ``index`` when it is remixed, else None."""
        if self.remix <= 0.0:
            return None
        rng = np.random.default_rng([self.seed, int(index), 1])
        if rng.random() >= self.remix:
            return None
        used: set[int] = set()
        stems = np.zeros((len(INSTRUMENTS), self.segment_samples), np.float32)
        for instrument in range(len(INSTRUMENTS)):
            track, offset, gain = self._remix_draw(rng, used)
            used.add(track)
            piece = self.tracks[track].read_target(instrument, offset, offset + self.segment_samples)
            stems[instrument, : piece.shape[0]] = piece * np.float32(gain)
        mixture = stems.sum(axis=0)
        if self.include_other:
            track, offset, gain = self._remix_draw(rng, used)
            if self.keeps_other(index):
                piece = self.tracks[track].read_other(offset, offset + self.segment_samples)
                mixture[: piece.shape[0]] += piece * np.float32(gain)
        return mixture, stems[label]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        if not 0 <= index < self.length:
            raise IndexError(f"item {index} out of range 0..{self.length - 1}")
        track, offset, label = self.crop(index)
        remixed = self.remixed(index, label)
        if remixed is not None:
            mixture, target = remixed
        else:
            piece = self._segment(track, offset)
            mixture, target = piece[0].copy(), piece[1 + label].copy()
            if self.include_other and not self.keeps_other(index):
                mixture = piece[1:].sum(axis=0)
        return torch.from_numpy(mixture), torch.from_numpy(target), label


class ChunkDataset(Dataset):
    """Consecutive evaluation chunks: ``(mixture, stems, track_name, chunk_index)``.

    Each track is cut into ``samples // chunk_samples`` chunks starting at sample 0;
    the last partial chunk is dropped. A chunk is kept only when at most two of its
    four stems are silent and its mixture is not silent, silence being
    ``||x||_2 / n < 1.5e-5`` over the chunk (``n = chunk_samples``; see
    :mod:`core.data.silence`). This is the rule of core/METHOD.md section 6 and of the
    authors' evaluation code.

    Items: ``mixture`` float32 tensor ``(chunk_samples,)``, ``stems`` float32 tensor
    ``(4, chunk_samples)`` in INSTRUMENTS order, ``track_name`` str, ``chunk_index``
    int (position of the chunk in its track: it starts at
    ``chunk_index * chunk_samples``). The other arguments are those of
    :class:`RandomCropDataset`; ``threshold`` is the silence threshold.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        chunk_samples: int = 262144,
        include_other: bool = False,
        cache_dir: str | Path | None = None,
        threshold: float = SILENCE_THRESHOLD,
        progress: ProgressCallback = no_progress,
        jobs: int = 1,
    ) -> None:
        if chunk_samples < 1:
            raise ValueError("chunk_samples must be positive")
        self.chunk_samples = int(chunk_samples)
        self.tracks: list[Track] = load_split(root, split, include_other, cache_dir, progress, jobs)
        self.chunks: list[tuple[int, int]] = []
        for track_index, track in enumerate(self.tracks):
            for chunk_index in range(track.num_samples // self.chunk_samples):
                start = chunk_index * self.chunk_samples
                piece = track.read(start, start + self.chunk_samples)
                silent = is_silent(piece, threshold)
                if not silent[0] and int(silent[1:].sum()) <= 2:
                    self.chunks.append((track_index, chunk_index))

    def __len__(self) -> int:
        return len(self.chunks)

    def other(self, index: int) -> torch.Tensor:
        """float32 ``(chunk_samples,)``: the non-target parts of chunk ``index`` (zeros
        unless the dataset was read with ``include_other`` and the set has such parts)."""
        track_index, chunk_index = self.chunks[index]
        start = chunk_index * self.chunk_samples
        return torch.from_numpy(self.tracks[track_index].read_other(start, start + self.chunk_samples))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, str, int]:
        track_index, chunk_index = self.chunks[index]
        track = self.tracks[track_index]
        start = chunk_index * self.chunk_samples
        piece = track.read(start, start + self.chunk_samples)
        return (
            torch.from_numpy(piece[0].copy()),
            torch.from_numpy(piece[1:].copy()),
            track.name,
            chunk_index,
        )
