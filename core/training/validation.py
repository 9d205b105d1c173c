"""Validation of a training run: fixed crops, scored by SI-SDRi of the EMA network.

The crops are the first items of the validation split that hold a separation problem
(:func:`validation_batches`); every validation of a run, resumed or not, scores the
same crops with the same noise (:data:`VALIDATION_STREAM`), so the curve in
``log.jsonl`` compares like with like.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from core.evaluation.metrics import is_silent, si_sdr_improvement
from core.instruments import INSTRUMENTS
from core.training.batches import Batch, collate, step_seed
from core.training.distributed import autocast

if TYPE_CHECKING:
    from core.training.loop import Stage

VALIDATION_STREAM = 1 << 40
"""Seeds the validation noise (a "step" no run reaches), the same at every validation."""


def validation_batches(
    dataset, count: int, batch: int, device: torch.device, max_scanned: int | None = None
) -> list[Batch]:
    """The first ``count`` items of ``dataset`` that hold a separation problem, in batches.

    An item qualifies when both its target and the rest of its mixture (mixture - target)
    are non-silent: the training-time version of the paper's window filter (core/METHOD.md
    section 6 skips windows with at most one non-silent stem). A crop where the target
    plays alone scores the mixture at about +90 dB SI-SDR, so one such crop drags the mean
    SI-SDRi of a good estimate down by some 80 dB.

    Items are deterministic, so every validation of a run (and of a resumed run) scores
    the same crops. At most ``max_scanned`` items (default ``20 * count``) are read.
    """
    max_scanned = 20 * count if max_scanned is None else max_scanned
    chosen = []
    for index in range(min(max_scanned, len(dataset))):
        item = dataset[index]
        mixture, target = torch.as_tensor(item[0]), torch.as_tensor(item[1])
        if not bool(is_silent(target)) and not bool(is_silent(mixture - target)):
            chosen.append(item)
        if len(chosen) == count:
            break
    return [
        Batch.from_items(collate(chosen[i : i + batch]), device) for i in range(0, len(chosen), batch)
    ]


@torch.no_grad()
def validate(stage: Stage, ema: nn.Module, crops: list[Batch], seed: int,
             device: torch.device) -> dict[str, float]:
    """Mean SI-SDRi (dB) of the EMA network's estimates on the validation crops, overall
    and per instrument label (``val_si_sdri``, ``val_si_sdri_<label index>``).

    A stage built on a frozen extractor (it has an ``extractor`` returning ``(x_det, ...)``)
    also reports the extractor's own figure on the same crops, ``val_extractor_si_sdri``,
    so a refiner's curve reads as a gain over what it refines."""
    generator = torch.Generator(device=device).manual_seed(step_seed(seed, VALIDATION_STREAM))
    extractor = getattr(stage, "extractor", None)
    scores, baselines, labels = [], [], []
    for batch in crops:
        with autocast(device):
            estimate = stage.estimate(ema, batch, generator)
            x_det = extractor(batch)[0] if extractor is not None else None
        scores.append(si_sdr_improvement(estimate.float(), batch.mixture, batch.target).reshape(-1).cpu())
        if x_det is not None:
            baselines.append(si_sdr_improvement(x_det.float(), batch.mixture, batch.target).reshape(-1).cpu())
        labels.append(batch.labels.cpu())
    if not scores:
        return {}
    score, label = torch.cat(scores), torch.cat(labels)
    result = {"val_si_sdri": float(score.mean())}
    if baselines:
        result["val_extractor_si_sdri"] = float(torch.cat(baselines).mean())
    for index, name in enumerate(INSTRUMENTS):
        chosen = score[label == index]
        if len(chosen):
            result[f"val_si_sdri_{name}"] = float(chosen.mean())
    return result
