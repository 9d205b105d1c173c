"""Peak memory of one separation, measured in a fresh process.

``python -m core.benchmark.memory --model SPEC --input FILE --out DIR --preset P`` loads
the model, separates the file with all of its stems through :func:`core.jobs.separate_file`
and prints one JSON line::

    {"status": "done", "seconds": 12.3, "rss_after_load_mb": 410.2, "peak_mb": 455.0}

``peak_mb`` is the process's high-water mark of resident memory (``VmHWM`` from
/proc/self/status on Linux; ``ru_maxrss`` elsewhere), so it covers the interpreter,
torch, the model and the whole separation. Running each input in its own process keeps
one measurement from inheriting another's peak.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import StemforgeError

MB = 1e6


def _proc_status_mb(field: str) -> float | None:
    """A ``kB`` field of /proc/self/status in MB, or None where there is no /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024 / MB
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """High-water mark of this process's resident memory, in MB."""
    value = _proc_status_mb("VmHWM")
    if value is not None:
        return value
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak * 1024 / MB  # bytes on macOS, kB elsewhere


def current_rss_mb() -> float:
    """This process's resident memory now, in MB (the peak where /proc is missing)."""
    value = _proc_status_mb("VmRSS")
    return value if value is not None else peak_rss_mb()


@dataclass(frozen=True)
class MemoryFigure:
    """One fresh-process separation: wall time, memory after loading the model, peak."""

    seconds: float
    rss_after_load_mb: float
    peak_mb: float


def measure_in_subprocess(model: str | None, path: Path, out_dir: Path, preset: str, device: str = "cpu",
                          threads: int | None = None, timeout: float | None = None) -> MemoryFigure:
    """Run this module on ``path`` in a new interpreter and read its report.

    Raises:
        StemforgeError: the child failed (its last stderr line is in the message).
    """
    command = [sys.executable, "-m", "core.benchmark.memory", "--input", str(path), "--out", str(out_dir),
               "--preset", preset, "--device", device]
    if model is not None:
        command += ["--model", model]
    if threads is not None:
        command += ["--threads", str(threads)]
    root = Path(__file__).resolve().parents[2]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=root)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        detail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise StemforgeError(f"memory probe on {path.name} failed: {detail}")
    report = json.loads(lines[-1])
    if report.get("status") != "done":
        raise StemforgeError(f"memory probe on {path.name}: {report.get('message')}")
    return MemoryFigure(report["seconds"], report["rss_after_load_mb"], report["peak_mb"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Peak memory of one separation (used by stemforge bench).")
    parser.add_argument("--model", default=None)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)

    import torch

    from core.evaluation.models import resolve_model
    from core.jobs import FileStatus, SeparationOptions, separate_file

    if args.threads:
        torch.set_num_threads(args.threads)
    model = resolve_model(args.model, args.device)
    after_load = current_rss_mb()
    options = SeparationOptions(out_dir=args.out, preset=args.preset, device=args.device, overwrite=True,
                                stems=tuple(model.instruments))
    started = time.perf_counter()
    result = separate_file(args.input, model, options)
    seconds = time.perf_counter() - started
    print(json.dumps({"status": result.status, "message": result.message, "seconds": round(seconds, 3),
                      "rss_after_load_mb": round(after_load, 1), "peak_mb": round(peak_rss_mb(), 1)}))
    return 0 if result.status is FileStatus.DONE else 1


if __name__ == "__main__":
    sys.exit(main())
