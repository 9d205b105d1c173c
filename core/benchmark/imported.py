"""The peer of an imported Demucs model: the same networks run by the demucs package itself.

For such a model the question is what Stemforge's pipeline costs over the way its authors
run it, so the peer is ``demucs.apply.apply_model(model, mix, shifts=0, split=True,
overlap=0.25)`` on the same networks (a ``BagOfModels`` with the same weights for a bag),
timed like Stemforge's figure: the file is read, separated, and each stem written as WAV
at the input's bit depth. ``apply_model`` holds the whole track and every stem of it in
memory at once (float32, ``(stems, channels, frames)``), Stemforge a few segments, so the
bench also measures its peak memory on the short and long inputs (:func:`main`, in a fresh
process as :mod:`core.benchmark.memory` does).

``python -m core.benchmark.imported --model ID --input FILE --out DIR`` prints one JSON line
like :mod:`core.benchmark.memory`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from core.benchmark.memory import MemoryFigure, current_rss_mb, peak_rss_mb
from core.errors import StemforgeError

SPEED_GOAL = 1.1
"""Most Stemforge draft time / apply_model time allowed for an imported model."""


def is_imported(model) -> bool:
    """Whether the bench compares ``model`` with its own networks under ``apply_model``."""
    return getattr(model, "family", "stemforge") == "demucs"


def as_demucs_model(model):
    """The demucs package's view of a :class:`~core.models.demucs_model.DemucsModel`: its one
    network, or a ``BagOfModels`` of its networks with its weights."""
    from demucs.apply import BagOfModels

    members = list(model.networks().values())
    if len(members) == 1:
        return members[0]
    return BagOfModels(members, weights=model.weights.tolist())


def run_apply_model(model, path: Path, out_dir: Path) -> float:
    """Separate ``path`` with ``apply_model`` (module docstring) and write every stem;
    returns the wall seconds, reading and writing included."""
    import torch
    from demucs.apply import apply_model

    started = time.perf_counter()
    info = sf.info(str(path))
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if rate != model.sample_rate or audio.shape[1] != model.channels:
        raise ValueError(f"{path.name}: {rate} Hz x {audio.shape[1]}, the model takes {model.sample_rate} Hz x "
                         f"{model.channels}")
    with torch.inference_mode():
        sources = apply_model(as_demucs_model(model), torch.from_numpy(audio.T.copy())[None], shifts=0,
                              split=True, overlap=0.25, progress=False)[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, source in zip(model.instruments, sources, strict=True):
        sf.write(str(out_dir / f"{name}.wav"), np.clip(source.numpy().T, -1, 1), rate, subtype=info.subtype)
    return time.perf_counter() - started


def measure_apply_model_in_subprocess(model: str, path: Path, out_dir: Path, threads: int | None = None,
                                      timeout: float | None = None) -> MemoryFigure:
    """:func:`run_apply_model`'s time and peak memory on ``path`` in a fresh interpreter."""
    command = [sys.executable, "-m", "core.benchmark.imported", "--model", model, "--input", str(path),
               "--out", str(out_dir)] + ([] if threads is None else ["--threads", str(threads)])
    root = Path(__file__).resolve().parents[2]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=root)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        detail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise StemforgeError(f"apply_model memory probe on {path.name} failed: {detail}")
    report = json.loads(lines[-1])
    return MemoryFigure(report["seconds"], report["rss_after_load_mb"], report["peak_mb"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Peak memory of demucs' apply_model (used by stemforge bench).")
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)

    import torch

    from core.models.registry import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model, "cpu")
    after_load = current_rss_mb()
    seconds = run_apply_model(model, args.input, args.out)
    print(json.dumps({"status": "done", "seconds": round(seconds, 3), "rss_after_load_mb": round(after_load, 1),
                      "peak_mb": round(peak_rss_mb(), 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
