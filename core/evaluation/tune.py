"""Tune each preset's sigma_max on the validation split and write it into the bundle.

For every consistency preset of a bundle (fast: 1 step, balanced: 2, best: 4), the
sigma_max of the grid maximising SI-SDRi (All, active stems) on the **validation**
split is written into the manifest's presets table, with ``"tuned": true`` and the
validation figure ``"si_sdri_validation"`` and its gain over ``draft`` on the same windows,
``"gain_db"`` (the ``draft`` row gets its own figure and a gain of 0); the app and
``stemforge models`` show the gains, and a preset that does not beat every faster one by
:data:`core.model.MIN_PRESET_GAIN_DB` is not offered as a separate choice. The whole curve
goes to ``metrics.sigma_max_tuning``. A preset with nothing to tune but more than one view
(:attr:`core.model.Preset.views`, e.g. an extractor-only bundle's ``fast``) is measured
against ``draft`` on the same windows and gets its ``si_sdri_validation`` and ``gain_db``
the same way. The test split is refused: tuning on it would make the
test figures optimistic.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from core.errors import ConfigError
from core.evaluation.protocol import PAPER_SETTINGS, Chunk, ProtocolSettings
from core.evaluation.sweep import DEFAULT_GRID, SweepResult, run_sweep
from core.fileio import write_bytes_atomic, write_text_atomic
from core.model import StemModel
from core.progress import ProgressCallback, no_progress


def check_tuning_split(split: str) -> None:
    """Refuse any test split: sigma_max is chosen on held-out validation data only."""
    if split.strip().lower().startswith("test"):
        raise ConfigError(f"refusing to tune on the {split!r} split: tune on validation, report on test")


def tuned_step_counts(manifest: dict) -> dict[str, int]:
    """Preset name -> steps, for the presets whose sigma_max tuning applies (consistency, steps >= 1)."""
    chosen = {}
    for name, row in manifest["presets"].items():
        if int(row.get("steps", 0)) >= 1 and row.get("sampler", "consistency") == "consistency":
            chosen[name] = int(row["steps"])
    return chosen


def view_presets(manifest: dict) -> list[str]:
    """The presets with no refinement step but more than one view: measured, not tuned."""
    return [name for name, row in manifest["presets"].items()
            if int(row.get("steps", 0)) == 0 and int(row.get("views", 1)) > 1]


def tune_presets(
    model: StemModel,
    manifest: dict,
    chunks: Iterable[Chunk],
    grid: Sequence[float] = DEFAULT_GRID,
    settings: ProtocolSettings = PAPER_SETTINGS,
    seed: int = 0,
    total_chunks: int | None = None,
    progress: ProgressCallback = no_progress,
) -> tuple[dict[str, dict], SweepResult]:
    """Sweep the presets' step counts and pick the best sigma_max of each.

    Returns:
        ``(choices, sweep)``: preset name -> ``{"steps", "sigma_max", "si_sdri_validation"}``,
        and the sweep it was read from.
    """
    presets, viewed = tuned_step_counts(manifest), view_presets(manifest)
    if not presets and not viewed:
        raise ConfigError("the bundle has no consistency preset to tune and no multi-view preset to measure "
                          "(only draft?)")
    sweep = SweepResult(grid=list(grid), steps=[])
    if presets:  # the curves end as the presets do: with the ratio mask when draft has it
        mask = bool(manifest["presets"].get("draft", {}).get("mask", False))
        sweep = run_sweep(model, chunks, grid, sorted(set(presets.values())), ("consistency",), settings,
                          seed=seed, total_chunks=total_chunks, progress=progress, mask=mask)
    choices = {}
    for name, steps in presets.items():
        sigma_max, score = sweep.best("consistency", steps)
        choices[name] = {"steps": steps, "sigma_max": sigma_max, "si_sdri_validation": round(score, 4)}
    if viewed:
        from core.evaluation.protocol import evaluate
        from core.manifest import presets_from_manifest

        table = presets_from_manifest(manifest)
        draft = next(p for p in table.values() if p.steps == 0 and p.views == 1)
        result = evaluate(model, chunks, [draft, *(table[name] for name in viewed)], settings, seed=seed,
                          total_chunks=total_chunks, progress=progress)
        scores = result.table("active")
        if not presets:  # the reference line comes from this evaluation
            sweep.extractor, sweep.chunks, sweep.windows_kept = (scores[draft.name]["All"], result.chunks,
                                                                 result.windows_kept)
        for name in viewed:
            score = scores[name]["All"]
            choices[name] = {"steps": 0, "views": table[name].views, "si_sdri_validation": round(score, 4),
                             "gain_db": round(score - scores[draft.name]["All"], 4)}
    return choices, sweep


def apply_choices(manifest: dict, choices: dict[str, dict], sweep: SweepResult, split: str,
                  data: str) -> dict:
    """A copy of ``manifest`` with the tuned sigma_max values, flags and the tuning curve."""
    updated = json.loads(json.dumps(manifest))
    extractor = None if math.isnan(sweep.extractor) else round(sweep.extractor, 4)
    for name, choice in choices.items():
        row = updated["presets"][name]
        if "sigma_max" in choice:
            row["sigma_max"] = choice["sigma_max"]
        row["tuned"] = True
        row["si_sdri_validation"] = choice["si_sdri_validation"]
        if "gain_db" in choice:  # measured against draft on its own windows
            row["gain_db"] = choice["gain_db"]
        else:
            row["gain_db"] = None if extractor is None else round(choice["si_sdri_validation"] - extractor, 4)
    for row in updated["presets"].values():
        if int(row.get("steps", 0)) == 0 and int(row.get("views", 1)) == 1 and extractor is not None:
            row["si_sdri_validation"] = extractor
            row["gain_db"] = 0.0
    metrics = updated.setdefault("metrics", {})
    metrics["sigma_max_tuning"] = {
        "split": split,
        "data": data,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "extractor_si_sdri_validation": extractor,
        **sweep.to_dict(),
    }
    return updated


def write_manifest(folder: Path, manifest: dict) -> Path:
    """Replace a bundle's manifest atomically after checking it and the weights.

    The weights' checksums (``manifest["files"]``) are verified against the files before
    writing (the tuning never touches the weights), and the new manifest is read back
    with :func:`core.bundle.read_manifest`; on failure the old manifest is restored.
    """
    from core.bundle import MANIFEST, read_manifest, verify_files
    from core.manifest_checks import seal

    folder = Path(folder)
    verify_files(folder, manifest)
    target = folder / MANIFEST
    backup = target.read_bytes()
    write_text_atomic(target, json.dumps(seal(dict(manifest)), indent=2) + "\n")
    try:
        read_manifest(folder)
    except Exception:
        write_bytes_atomic(target, backup)
        raise
    return target
