"""Evaluation results as Markdown tables and JSON (``report.md`` + ``report.json``)."""

from __future__ import annotations

import json
import math
import platform
from datetime import datetime, timezone
from pathlib import Path

import torch

import core
from core.evaluation.leakage import markdown_leakage
from core.evaluation.protocol import ALL, MIXTURE_ROW, ORACLE_ROW, EvaluationResult
from core.instruments import INSTRUMENTS
from core.model import StemModel

COLUMNS = (*INSTRUMENTS, ALL)
PAPER_FIGURES = ("deterministic 21.4, diffusion 22.7, consistency 1 step 23.1 dB; "
                 "Demucs 16.1, Demucs + Gibbs 17.7, MSDM 16.5, ISDM 17.3 dB")
"""SI-SDRi "All" reported by Karchkhadze et al. 2024 (core/METHOD.md section 6)."""
CONVENTION_TITLES = {
    "paper": "Paper convention: every stem of every kept window (silent references included)",
    "active": "Active stems only: (window, stem) pairs whose reference is not silent",
}


def _number(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.2f}"


def _row_label(name: str, result: EvaluationResult) -> str:
    preset = result.modes.get(name)
    if preset is None:
        return name
    views = (f", {preset.views} views" if preset.views > 1 else "") + (", ratio mask" if preset.mask else "")
    if preset.steps == 0:
        return f"{name} (extractor{views})"
    kind = "teacher Euler" if preset.sampler == "teacher" else "consistency"
    return (f"{name} ({kind}, {preset.steps} step{'s' if preset.steps > 1 else ''}, "
            f"sigma_max {preset.sigma_max:g}{views})")


def markdown_table(result: EvaluationResult, convention: str) -> str:
    """One table: rows mixture, oracle IRM, then each mode; columns the stems and All (dB)."""
    table = result.table(convention)
    lines = [
        "| SI-SDRi (dB) | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for name, means in table.items():
        cells = " | ".join(_number(means[column]) for column in COLUMNS)
        lines.append(f"| {_row_label(name, result)} | {cells} |")
    return "\n".join(lines)


def markdown_report(result: EvaluationResult, context: dict) -> str:
    """The full ``report.md``: what was measured, then both tables."""
    settings = result.settings
    active = ", ".join(f"{stem} {count}" for stem, count in result.active_windows.items())
    lines = [
        f"# Stemforge evaluation: {context.get('model', {}).get('id', '?')}",
        "",
        f"- data: `{context.get('data')}` split `{context.get('split')}`; {result.chunks} chunks of "
        f"{settings.chunk_samples} samples at {settings.sample_rate} Hz",
        f"- windows: {settings.window_seconds:g} s every {settings.hop_seconds:g} s; kept "
        f"{result.windows_kept} of {result.windows_total} (at least {settings.min_active_stems} "
        f"stems with L2 norm / n >= {settings.silence_threshold:g})",
        f"- non-silent references among the kept windows: {active}",
        "- mixtures: " + (f"with the set's non-target parts (`other`: vocals, strings, synths...) in "
                          f"{result.chunks_with_other} of {result.chunks} chunks"
                          if context.get("mixture_has_other") else "the four instruments only (--four-stem-mix)"),
        f"- seed {context.get('seed')}; measured {context.get('date')} on {context.get('machine')}",
        f"- reference rows: `{MIXTURE_ROW}` scores the mixture itself (0 dB by definition); "
        f"`{ORACLE_ROW}` masks the mixture's STFT ({settings.irm_fft}/{settings.irm_hop} Hann) with "
        "|S_i| / sum_j |S_j| of the true stems",
        f"- for scale, the paper on Slakh2100 test (All, paper convention): {PAPER_FIGURES}",
        "",
    ]
    for convention, title in CONVENTION_TITLES.items():
        lines += [f"## {title}", "", markdown_table(result, convention), ""]
    if result.leakage:
        lines += ["## Leakage: where each estimate's energy comes from", "",
                  "Least-squares projection of each estimate, per chunk, onto the true stems "
                  "and `other` (the set's non-target parts: vocals, strings, synths...); energy "
                  "summed over the chunks (core/evaluation/leakage.py).", ""]
        for name, table in result.leakage.items():
            lines += [markdown_leakage(name, table), ""]
    return "\n".join(lines)


def json_report(result: EvaluationResult, context: dict) -> dict:
    """Everything in ``report.md`` as data (NaN written as null)."""

    def clean(means: dict[str, float]) -> dict[str, float | None]:
        return {k: (None if math.isnan(v) else round(v, 4)) for k, v in means.items()}

    rows = []
    for name, scores in result.rows.items():
        preset = result.modes.get(name)
        rows.append({
            "name": name,
            "kind": "model" if preset else "reference",
            "preset": None if preset is None else {
                "steps": preset.steps, "sigma_max": preset.sigma_max, "sampler": preset.sampler,
            },
            "paper": clean(scores.means("paper")),
            "active": clean(scores.means("active")),
            "active_windows": {s: int(n) for s, n in zip(INSTRUMENTS, scores.active_count, strict=True)},
            "seconds": round(scores.seconds, 3),
        })
    return {
        **context,
        "protocol": result.settings.to_dict(),
        "chunks": result.chunks,
        "windows_total": result.windows_total,
        "windows_kept": result.windows_kept,
        "active_windows": result.active_windows,
        "columns": list(COLUMNS),
        "rows": rows,
        "mixture_has_other": context.get("mixture_has_other"),
        "chunks_with_other": result.chunks_with_other,
        "leakage": {name: table.to_dict() for name, table in result.leakage.items()},
    }


def run_context(model: StemModel, data: Path | str, split: str, seed: int) -> dict:
    """Who measured what, where and when (for both report files)."""
    return {
        "stemforge_version": core.__version__,
        "model": {"id": model.model_id, "sha256": model.sha256, "segment_samples": model.segment_samples},
        "data": str(data),
        "split": split,
        "seed": seed,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_description(str(model.device)),
    }


def machine_description(device: str = "cpu") -> str:
    """One line: processor, cores torch uses, OS, device."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} torch threads, {platform.system()} {platform.release()}, device {device}"


def write_reports(folder: Path, markdown: str, data: dict) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.json`` into ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    md_path, json_path = folder / "report.md", folder / "report.json"
    md_path.write_text(markdown + "\n", encoding="utf-8")
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return md_path, json_path
