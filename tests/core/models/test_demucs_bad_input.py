"""Bad Demucs files and ids: one line naming the file and the reason, nothing registered.

Every case goes through the command line (`stemforge models add`, `stemforge separate
--model`) and checks the line on stderr, the exit code, and that the user's model folder
holds nothing afterwards (no model, no staging leftovers).
"""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from core.cli import main
from tests.core.models.demucs_files import save_like_demucs, tiny_htdemucs, write_bag

pytest.importorskip("demucs.states")


@pytest.fixture
def good_th(tmp_path):
    return save_like_demucs(tiny_htdemucs(0), tmp_path / "files", "tiny")


def add_fails(paths, capsys, user_folder, code: int = 1) -> str:
    """`models add` of ``paths``: exit ``code``, one line on stderr, nothing installed."""
    assert main(["models", "add", *map(str, paths)]) == code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stemforge: error: "), captured.err
    assert "Traceback" not in captured.err and "added" not in captured.out
    assert not user_folder.exists() or not any(user_folder.iterdir())  # nothing registered or half-way
    return lines[0]


def test_a_truncated_th_is_refused(good_th, capsys, own_model_folders):
    truncated = good_th.with_name("cut.th")
    truncated.write_bytes(good_th.read_bytes()[: good_th.stat().st_size // 2])
    line = add_fails([truncated], capsys, own_model_folders)
    assert f"{truncated}: not a readable Demucs .th file (truncated or corrupted" in line


def test_a_corrupted_th_is_refused(good_th, capsys, own_model_folders):
    corrupted = good_th.with_name("garbled.th")
    data = bytearray(good_th.read_bytes())
    data[:64] = os.urandom(64)
    corrupted.write_bytes(bytes(data))
    line = add_fails([corrupted], capsys, own_model_folders)
    assert f"{corrupted}: not a readable Demucs .th file" in line


def test_a_wrong_checksum_prefix_in_the_name_is_refused(good_th, capsys, own_model_folders):
    renamed = good_th.with_name("tiny-00000000.th")
    shutil.copy(good_th, renamed)
    line = add_fails([renamed], capsys, own_model_folders)
    actual = good_th.stem.rsplit("-", 1)[1]
    assert f"{renamed}: its name says its sha256 starts with 00000000, but it starts with {actual}" in line


def test_a_bag_naming_a_missing_file_is_refused(good_th, capsys, own_model_folders):
    bag = write_bag(good_th.parent, "halfbag", ["tiny", "absent"])
    line = add_fails([bag], capsys, own_model_folders)
    assert f"{bag}: names model 'absent', but neither absent.th nor absent-<sha8>.th lies beside it" in line


def test_a_quantized_file_says_it_needs_diffq(good_th, tmp_path, capsys, own_model_folders, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "diffq", None)  # not installed, whatever the machine has
    model = tiny_htdemucs(0)
    args, kwargs = model._init_args_kwargs
    quantized = tmp_path / "files" / "tiny_q.th"
    torch.save({"klass": type(model), "args": args, "kwargs": kwargs,
                "state": {"__quantized": True, "quantized": [torch.zeros(3, dtype=torch.int8)]}}, quantized)
    line = add_fails([quantized], capsys, own_model_folders)
    assert f"{quantized}: a quantized (DiffQ, '_q') model: it needs the diffq package" in line


def test_a_th_whose_class_is_not_a_demucs_model_is_refused_without_running_it(tmp_path, capsys, own_model_folders):
    linear = torch.nn.Linear(2, 2)
    path = tmp_path / "files" / "linear.th"
    path.parent.mkdir()
    torch.save({"klass": torch.nn.Linear, "args": [2, 2], "kwargs": {}, "state": linear.state_dict()}, path)
    line = add_fails([path], capsys, own_model_folders)
    assert f"{path}: names torch.nn.modules.linear.Linear, which is not a Demucs model class" in line


class _Payload:
    """What a hostile .th may hold: unpickling it would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_th_that_would_run_code_when_unpickled_is_refused_and_nothing_runs(tmp_path, capsys, own_model_folders):
    marker = tmp_path / "ran"
    model = tiny_htdemucs(0)
    args, kwargs = model._init_args_kwargs
    path = tmp_path / "files" / "hostile.th"
    path.parent.mkdir()
    torch.save({"klass": type(model), "args": args, "kwargs": kwargs, "state": model.state_dict(),
                "training_args": _Payload(marker)}, path)
    line = add_fails([path], capsys, own_model_folders)
    assert f"{path}: names " in line and "system" in line and "refused without running it" in line
    assert main(["separate", str(tmp_path / "files"), "--model", str(path), "--out", str(tmp_path / "o")]) == 1
    assert not marker.exists()


def test_an_older_demucs_class_is_refused_by_name(tmp_path, capsys, own_model_folders):
    from demucs.hdemucs import HDemucs

    model = HDemucs(sources=["drums", "bass", "other", "vocals"], channels=4, depth=2)
    path = save_like_demucs(model, tmp_path / "files", "v3")
    line = add_fails([path], capsys, own_model_folders)
    assert f"{path}: a HDemucs model (Demucs v2/v3); Stemforge runs HTDemucs (Demucs v4) models only" in line


def test_an_unknown_model_id_is_a_usage_error(make_audio, tmp_path, capsys, own_model_folders):
    path = make_audio(seconds=0.2)
    assert main(["separate", str(path), "--model", "nosuch", "--out", str(tmp_path / "o")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stemforge: error: no model 'nosuch'")
    assert not (tmp_path / "o").exists()
    assert main(["models", "remove", "nosuch"]) == 2
    assert capsys.readouterr().err.startswith("stemforge: error: no installed model 'nosuch'")


def test_a_taken_id_is_refused_and_the_first_model_stays(good_th, capsys, own_model_folders):
    assert main(["models", "add", str(good_th)]) == 0
    capsys.readouterr()
    assert main(["models", "add", str(good_th)]) == 2
    assert "a model with the id 'tiny' is already installed" in capsys.readouterr().err
    assert sorted(p.name for p in own_model_folders.iterdir()) == ["tiny"]


def test_a_file_changed_after_install_fails_with_its_name(good_th, make_audio, tmp_path, capsys, own_model_folders):
    assert main(["models", "add", str(good_th), "--id", "mine"]) == 0
    installed = own_model_folders / "mine" / good_th.name
    installed.write_bytes(installed.read_bytes()[:-10])
    path = make_audio(seconds=0.2)
    assert main(["separate", str(path), "--model", "mine", "--out", str(tmp_path / "o")]) == 1
    error = capsys.readouterr().err
    assert f"{installed}: checksum mismatch" in error and error.count("\n") == 1
