"""Smoke test of a frozen Stemforge: python3 packaging/smoke_test.py PATH/TO/stemforge [BUNDLE]

Runs the frozen executable (not the source tree): version and model listing, a
separation of the demo track with the default model (or with BUNDLE when given,
e.g. a tiny bundle when no default model is shipped yet), and the main window
opened and closed offscreen. Fails on import errors, missing resources, a missing
or wrong stem. Prints one line per check; exit 0 when all pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DEMO = "resources/demo/demo.ogg"


def run(executable: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(executable), *args], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})})


def check(name: str, ok: bool, detail: str) -> bool:
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail.strip().splitlines()[-1] if detail.strip() else ''}")
    return ok


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    executable = Path(argv[0]).resolve()
    bundle = argv[1] if len(argv) > 1 else None
    root = executable.parent
    results = []

    version = run(executable, "--version")
    results.append(check("version", version.returncode == 0 and "stemforge" in version.stdout,
                         version.stdout + version.stderr))

    listing = run(executable, "models", "--json")
    try:
        models = json.loads(listing.stdout)
    except json.JSONDecodeError:
        models = None
    results.append(check("models", listing.returncode == 0 and isinstance(models, list),
                         f"{len(models or [])} installed bundle(s) " + listing.stderr))

    demo = root / "_internal" / DEMO
    if not demo.exists():
        demo = root / DEMO
    results.append(check("demo track shipped", demo.exists(), str(demo)))
    if demo.exists() and (models or bundle):
        with tempfile.TemporaryDirectory() as out:
            # the model's default preset and high band: what a user's first command runs
            args = ["separate", str(demo), "--out", out, "--quiet"]
            if bundle:
                args += ["--model", bundle]
            separated = run(executable, *args)
            stems = sorted(p.name for p in Path(out, "demo").glob("*.wav"))
            expected = ["bass.wav", "drums.wav", "guitar.wav", "other.wav", "piano.wav"]
            results.append(check("separate demo", separated.returncode == 0 and stems == expected,
                                 f"{stems} {separated.stderr}"))
    elif not models and not bundle:
        results.append(check("separate demo", False, "no model installed in the bundle and none given"))

    gui = run(executable, "--smoke-gui")
    results.append(check("gui", gui.returncode == 0 and "gui ok" in gui.stdout, gui.stdout + gui.stderr))
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
