"""The chunks the protocol scores, read through the data package's :class:`ChunkDataset`.

Any dataset the data reader reads works: a Slakh2100 folder, its MSDM-preprocessed
layout, or our synthetic set. The reader resamples to 22 050 Hz mono, cuts
consecutive chunks and applies the drop rules (last partial chunk, chunks with three
or more silent stems).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from core.errors import ConfigError, StemforgeError
from core.evaluation.protocol import Chunk
from core.progress import ProgressCallback, no_progress


class ChunkSource:
    """The first ``max_chunks`` chunks of one split, in the dataset's order.

    Args:
        root: dataset folder.
        split: "train", "validation" or "test" (whatever the dataset holds).
        chunk_samples: chunk length at 22 050 Hz.
        max_chunks: read at most this many (None: all).
        progress: ``progress(fraction, message)`` while the reader decodes the split into
            its cache (first use of a dataset only).
        include_other: the mixtures hold the set's non-target parts (vocals, strings...;
            Slakh's other classes) and each chunk carries them as ``other``; False gives
            four-instrument mixtures (the paper's protocol).
    """

    def __init__(self, root: Path, split: str, chunk_samples: int = 262144,
                 max_chunks: int | None = None, progress: ProgressCallback = no_progress,
                 include_other: bool = True) -> None:
        from core.data.datasets import ChunkDataset

        root = Path(root)
        if not root.is_dir():
            raise ConfigError(f"{root}: no such dataset folder")
        try:
            self.dataset = ChunkDataset(root, split, chunk_samples=chunk_samples, progress=progress,
                                        include_other=include_other)
        except StemforgeError:
            raise
        except (OSError, ValueError, KeyError) as error:
            raise ConfigError(f"{root}: cannot read split {split!r} ({error})") from None
        self.include_other = include_other
        available = len(self.dataset)
        if available == 0:
            raise ConfigError(f"{root}: split {split!r} has no usable {chunk_samples}-sample chunk")
        self.count = available if max_chunks is None else min(available, max_chunks)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Chunk]:
        for index in range(self.count):
            mixture, stems, track, chunk_index = self.dataset[index]
            other = self.dataset.other(index) if self.include_other else None
            yield Chunk(mixture, stems, str(track), int(chunk_index), other)
