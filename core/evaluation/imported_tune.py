"""``stemforge tune`` for an imported model: measure each of its presets against its draft.

An imported model (Demucs) keeps its own rate, channels and stems, while the dataset's
chunks are mono at 22 050 Hz with the four :data:`~core.instruments.INSTRUMENTS`. Every
chunk therefore goes through the streaming pipeline as a file would
(:func:`core.pipeline.separate_blocks`: resampled to the model's rate, duplicated into its
channels, its own segment plan, back to 22 050 Hz), once per preset, and SI-SDRi is scored
on the paper's windows (:func:`core.evaluation.protocol.select_windows`,
:func:`~core.evaluation.protocol.window_si_sdri`) for the stems the model and the dataset
share (``bass`` and ``drums``; ``guitar`` and ``piano`` too for htdemucs_6s), "active"
convention. For a preset ``p``::

    gain_db(p) = All(p) - All(draft)     (same windows, same stems)

written with ``si_sdri_validation`` and ``tuned: true`` into the model's manifest
(:func:`core.models.store.update_presets`). A preset marked ``measure_first`` is offered
once it beats every faster one by :data:`core.model.MIN_PRESET_GAIN_DB`
(:func:`core.model.withheld_presets`); until then the app greys it out. As for bundles, the
test split is refused (:func:`core.evaluation.tune.check_tuning_split`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from core.errors import ConfigError
from core.evaluation.protocol import (
    PAPER_SETTINGS,
    Chunk,
    ProtocolSettings,
    select_windows,
    window_si_sdri,
)
from core.instruments import INSTRUMENTS
from core.model import Preset, StemModel
from core.progress import ProgressCallback, no_progress


def shared_stems(model: StemModel) -> list[str]:
    """The dataset's stems the model also has, in the dataset's order."""
    shared = [name for name in INSTRUMENTS if name in model.instruments]
    if not shared:
        raise ConfigError(f"model {model.model_id} has none of the dataset's stems ({', '.join(INSTRUMENTS)}); "
                          "its presets cannot be measured on it")
    return shared


def pipeline_estimates(model: StemModel, mixture: np.ndarray, rate: int, preset: Preset, stems: list[str],
                       seed: int) -> np.ndarray:
    """``(S, L)`` estimates of ``stems`` for a mono chunk at ``rate``, through the pipeline."""
    from core.pipeline import separate_blocks

    parts: list[np.ndarray] = []
    separate_blocks([mixture[:, None].astype(np.float64)], rate, 1, mixture.shape[0], "chunk", model, stems,
                    preset, lambda mix, block: parts.append(block[:, 0, :]), seed=seed, high_band="residual")
    return np.concatenate(parts, axis=0).T


def measure_presets(model: StemModel, chunks: Iterable[Chunk], settings: ProtocolSettings = PAPER_SETTINGS,
                    seed: int = 0, total_chunks: int | None = None,
                    progress: ProgressCallback = no_progress) -> tuple[dict[str, dict], dict]:
    """Score every preset of ``model`` on ``chunks`` (module docstring).

    Returns:
        ``(measured, context)``: preset name -> ``{"si_sdri_validation", "gain_db"}`` and
        ``{"stems", "chunks", "windows_kept"}``.
    """
    stems = shared_stems(model)
    columns = [INSTRUMENTS.index(name) for name in stems]
    names = list(model.presets)
    if "draft" not in names:
        raise ConfigError(f"model {model.model_id} has no draft preset to measure the others against")
    sums = {name: np.zeros(len(stems)) for name in names}
    counts = np.zeros(len(stems), dtype=np.int64)
    chunk_count = kept = 0
    for position, chunk in enumerate(chunks):
        mixture = torch.as_tensor(chunk.mixture, dtype=torch.float32).reshape(-1)
        truth = torch.as_tensor(chunk.stems, dtype=torch.float32)
        windows = select_windows(truth, settings)
        chunk_count += 1
        kept += len(windows.starts)
        if total_chunks:
            progress(min(position / total_chunks, 1.0), f"chunk {position + 1}/{total_chunks}")
        if not windows.starts:
            continue
        active = windows.active.numpy()[:, columns]  # (W, S)
        counts += active.sum(axis=0)
        for name in names:
            estimates = pipeline_estimates(model, mixture.numpy(), settings.sample_rate, model.presets[name], stems,
                                           seed * 1_000_003 + position)
            scores = window_si_sdri(torch.from_numpy(estimates), mixture.double(), truth[columns].double(), windows,
                                    settings.window_samples).numpy()
            sums[name] += np.where(active, scores, 0.0).sum(axis=0)
    if not counts.any():
        raise ConfigError("no window of the data has two sounding stems the model shares with it; "
                          "nothing to measure")
    scored = counts > 0
    alls = {name: float((sums[name][scored] / counts[scored]).mean()) for name in names}
    measured = {name: {"si_sdri_validation": round(alls[name], 4), "gain_db": round(alls[name] - alls["draft"], 4)}
                for name in names}
    measured["draft"]["gain_db"] = 0.0
    progress(1.0, "measured")
    return measured, {"stems": stems, "chunks": chunk_count, "windows_kept": kept}


def apply_measurements(rows: dict[str, dict], measured: dict[str, dict]) -> dict[str, dict]:
    """The presets rows with each measured preset's figures and ``tuned: true``."""
    updated = {name: dict(row) for name, row in rows.items()}
    for name, figures in measured.items():
        updated[name].update(figures, tuned=True)
    return updated
