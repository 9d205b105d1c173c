"""Builds the Linux installers and smoke-tests the extracted .deb (marked: .ci/run runs it).

Slow (several minutes: PyInstaller analyses torch and Qt), so the default test run
leaves it out; run it with ``python3 -m pytest -m packaging``.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import core

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.packaging


def tiny_bundle(folder: Path) -> Path:
    """A random-weight tiny bundle, so the smoke test can separate without a shipped model."""
    from core.bundle import save_bundle
    from core.model import Preset
    from core.nn.config import get_config
    from core.nn.unet import UNet

    config = get_config("tiny")
    presets = {"draft": Preset("draft", 0, 0.0), "fast": Preset("fast", 1, 0.0124),
               "balanced": Preset("balanced", 2, 0.25), "best": Preset("best", 4, 0.25)}
    return save_bundle(folder, bundle_id="smoke-tiny", config=config, config_name="tiny",
                       extractor=UNet(config), student=UNet(config, noise_conditioned=True),
                       presets=presets)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_build_install_and_smoke(tmp_path):
    build = subprocess.run(["bash", "packaging/build_linux.sh"], cwd=ROOT, capture_output=True, text=True)
    print(build.stdout[-3000:], build.stderr[-3000:])
    assert build.returncode == 0, build.stderr[-2000:]
    version = core.__version__
    deb = ROOT / "dist" / f"stemforge_{version}_amd64.deb"
    tarball = ROOT / "dist" / f"stemforge-{version}-linux-x86_64.tar.gz"
    assert deb.exists() and tarball.exists()

    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    executable = root / "opt" / "stemforge" / "stemforge"
    assert (root / "usr" / "share" / "applications" / "stemforge.desktop").exists()
    assert (root / "usr" / "bin" / "stemforge-gui").is_symlink()
    fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True).stdout
    for library in ("libegl1", "libgl1", "libfontconfig1", "libxkbcommon0", "libdbus-1-3"):
        assert library in fields

    args = [sys.executable, str(ROOT / "packaging" / "smoke_test.py"), str(executable)]
    if not any((ROOT / "resources" / "models").glob("*/manifest.json")):
        args.append(str(tiny_bundle(tmp_path / "smoke-tiny")))
    smoke = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    print(smoke.stdout, smoke.stderr)
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr

    # disk use, as du counts it: PyInstaller links some libraries instead of copying them
    unpacked_mb = sum(p.lstat().st_size for p in (root / "opt").rglob("*") if not p.is_symlink() and p.is_file()) / 2**20
    deb_mb = deb.stat().st_size / 2**20
    print(f"unpacked bundle {unpacked_mb:.0f} MB, deb {deb_mb:.0f} MB")
    assert unpacked_mb <= 800 and deb_mb <= 250
