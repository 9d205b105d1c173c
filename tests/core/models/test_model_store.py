"""The user's model folder: manifests, whole-or-nothing installs, listing, removal; and
`stemforge models` over it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.cli import main
from core.errors import ConfigError, ModelLoadError
from core.fileio import sha256_file
from core.models import store
from core.models.store import InstalledModel


def manifest(tmp_path, model_id="m1", content=b"weights") -> tuple[InstalledModel, dict]:
    source = tmp_path / "src" / "w.th"
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(content)
    model = InstalledModel(id=model_id, family="demucs", entry="w.th", files={"w.th": sha256_file(source)},
                           stems=("drums", "other"), sample_rate=44100, channels=2, segment_samples=1000,
                           presets={"draft": {"steps": 0}}, origin="test", licence="none")
    return model, {"w.th": source}


def test_the_folder_is_the_override_else_the_platform_data_folder(monkeypatch, tmp_path):
    assert store.models_folder() == tmp_path / "user-models"
    monkeypatch.delenv("STEMFORGE_MODELS")
    if sys.platform.startswith("linux"):
        assert store.models_folder() == tmp_path / "xdg" / "stemforge" / "models"
        monkeypatch.delenv("XDG_DATA_HOME")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert store.models_folder() == tmp_path / "home" / ".local" / "share" / "stemforge" / "models"


def test_install_round_trips_and_lists(tmp_path):
    model, sources = manifest(tmp_path)
    installed = store.install(model, sources)
    assert installed.folder == tmp_path / "user-models" / "m1" and installed.added
    assert (installed.folder / "w.th").read_bytes() == b"weights" and sources["w.th"].exists()
    again = store.read_installed(installed.folder)
    assert again == installed
    assert store.list_installed() == ([installed], [])
    store.verify_files(installed)
    assert store.find_installed("m1") == installed and store.find_installed("m2") is None


def test_an_install_that_fails_leaves_nothing(tmp_path, monkeypatch):
    model, sources = manifest(tmp_path)
    wrong = InstalledModel(**{**model.__dict__, "files": {"w.th": "0" * 64}})
    with pytest.raises(ModelLoadError, match="changed while it was being installed"):
        store.install(wrong, sources)
    assert list((tmp_path / "user-models").iterdir()) == []

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.shutil, "copyfile", full_disk)
    with pytest.raises(OSError, match="No space left"):
        store.install(model, sources)
    assert list((tmp_path / "user-models").iterdir()) == []


def test_bad_ids_and_manifests_are_refused(tmp_path):
    for bad in ("", "../x", ".hidden", "a/b", "x" * 65, "sp ace"):
        with pytest.raises(ConfigError):
            store.check_model_id(bad)
    model, sources = manifest(tmp_path)
    installed = store.install(model, sources)
    file = installed.folder / store.MANIFEST_NAME
    data = json.loads(file.read_text())
    data["files"] = {"../escape": "0" * 64}
    file.write_text(json.dumps(data))
    models, problems = store.list_installed()
    assert models == [] and len(problems) == 1
    assert str(problems[0]).startswith(f"{file}: not a usable model manifest (file name '../escape'")


def test_remove_takes_only_installed_models(tmp_path):
    model, sources = manifest(tmp_path)
    installed = store.install(model, sources)
    with pytest.raises(ConfigError, match="not in a user model folder"):
        store.remove_folder(tmp_path / "src")
    store.remove_folder(installed.folder)
    assert list((tmp_path / "user-models").iterdir()) == []


def test_models_lists_adds_and_removes_a_demucs_model(tmp_path, capsys):
    from tests.core.models.demucs_files import save_like_demucs, tiny_htdemucs

    th = save_like_demucs(tiny_htdemucs(0, sources=["drums", "bass", "other", "vocals", "guitar", "piano"]),
                          tmp_path / "files", "six")
    assert main(["models", "add", str(th), "--id", "six-stems"]) == 0
    out = capsys.readouterr().out
    assert "added six-stems (demucs)" in out and "residual: residual" in out and "licence: Demucs" in out
    assert main(["models", "--json"]) == 0
    listed = {entry["id"]: entry for entry in json.loads(capsys.readouterr().out)}
    entry = listed["six-stems"]
    assert entry["stems"] == ["drums", "bass", "other", "vocals", "guitar", "piano"]
    assert entry["family"] == "demucs" and entry["residual"] == "residual" and entry["channels"] == 2
    assert entry["files"] == {th.name: sha256_file(th)} and entry["sample_rate"] == 44100
    assert set(entry["withheld_presets"]) == {"fast", "balanced", "best"}  # until tune measures them
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "six-stems  [demucs, installed]" in text and "not offered: not measured yet" in text
    assert main(["models", "remove", "six-stems"]) == 0
    assert capsys.readouterr().out.startswith("removed six-stems")
    assert main(["models", "--json"]) == 0
    assert "six-stems" not in {entry["id"] for entry in json.loads(capsys.readouterr().out)}


def test_a_built_in_model_cannot_be_removed(capsys):
    import core.bundle

    assert main(["models", "remove", core.bundle.DEFAULT_BUNDLE_ID]) == 2
    assert "built into Stemforge" in capsys.readouterr().err


def test_models_help_imports_no_torch():
    code = ("import sys\nfrom core.cli import main\n"
            "for argv in (['models', '--help'], ['models', 'add', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pickle" in result.stdout
