"""Issue 16's reproductions around naming and replacing outputs: every one through the
command line (`stemforge separate`, the fake model), as a user would hit it."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import soundfile as sf

import core.cli
import core.jobs
import core.outputs
from core.cli import main
from core.errors import ConfigError
from core.outputs import check_template, replace_set, sanitise_field
from tests.fakes import FilterBankModel


@pytest.fixture
def fake_model(monkeypatch):
    model = FilterBankModel()
    monkeypatch.setattr(core.cli, "load_model", lambda spec, device: model)
    return model


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# -- 1. writes outside --out ---------------------------------------------------------------


def test_templates_that_leave_the_output_folder_are_usage_errors(fake_model, make_audio, tmp_path, capsys):
    path = make_audio("x.wav", seconds=0.2)
    out = tmp_path / "d" / "e" / "o"
    assert main(["separate", str(path), "--out", str(out), "--template", "../../escape/{stem}.{ext}"]) == 2
    assert not (tmp_path / "d" / "escape").exists()
    absolute = tmp_path / "abs"
    assert main(["separate", str(path), "--out", str(out), "--template", f"{absolute}/{{stem}}.{{ext}}"]) == 2
    assert not absolute.exists()
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and "'..'" in errors[0] and "absolute" in errors[1]
    assert not out.exists()


def test_a_track_named_dot_dot_stays_inside_the_output_folder(fake_model, make_audio, tmp_path):
    path = make_audio("in/x.wav", seconds=0.2).rename(tmp_path / "in" / "...wav")  # track name ".."
    out = tmp_path / "out"
    assert main(["separate", str(path), "--out", str(out), "--quiet"]) == 0
    assert files_under(tmp_path / "out") == sorted(
        f"__/{name}" for name in ("bass.wav", "drums.wav", "guitar.wav", "piano.wav", "other.wav", "stemforge.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]


def test_field_values_cannot_add_separators(fake_model, make_audio, tmp_path):
    fake_model.model_id = "../../evil/id"
    path = make_audio("x.wav", seconds=0.2)
    out = tmp_path / "out"
    assert main(["separate", str(path), "--out", str(out), "--template", "{model}/{stem}.{ext}", "--quiet"]) == 0
    assert {p.parent.name for p in out.rglob("*.wav")} == {".._.._evil_id"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "x.wav"]
    assert sanitise_field("a\\b/c") == "a_b_c" and sanitise_field("..") == "__" and sanitise_field("") == "_"


def test_a_symbolic_link_inside_out_cannot_lead_outside(fake_model, make_audio, tmp_path, capsys):
    path = make_audio("x.wav", seconds=0.2)
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "x").symlink_to(elsewhere, target_is_directory=True)
    assert main(["separate", str(path), "--out", str(out)]) == 1
    assert "outside" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


def test_template_rules():
    for good in ("{track}/{stem}.{ext}", "{folder}/{track}/{stem}.{ext}", "{model}-{preset}/{stem}.{ext}"):
        check_template(good)
    for bad in ("{stem}", "{track}/{stem}.wav", "/abs/{stem}.{ext}", "\\\\server\\{stem}.{ext}", "C:{stem}.{ext}",
                "~/{stem}.{ext}", "a/../../{stem}.{ext}", "{track}.{ext}", "{stem}/{nope}.{ext}"):
        with pytest.raises(ConfigError):
            check_template(bad)


# -- 2. an input of the batch overwritten by another input's stem ----------------------------


def test_no_output_replaces_an_input_of_the_batch(fake_model, make_audio, tmp_path, capsys):
    bass = make_audio("c/bass.wav", seconds=0.2, seed=1)
    make_audio("c/mix.wav", seconds=0.2, seed=2)
    before = bass.read_bytes()
    code = main(["separate", str(tmp_path / "c"), "--out", str(tmp_path / "c"), "--template", "{stem}.{ext}",
                 "--overwrite"])
    assert code == 1
    assert bass.read_bytes() == before
    errors = capsys.readouterr().err
    assert "bass.wav: an output would overwrite the input" in errors
    assert "mix.wav: output" in errors and "is an input of this batch" in errors
    assert files_under(tmp_path / "c") == ["bass.wav", "mix.wav"]


# -- 3. a failed run deletes files it did not write ---------------------------------------------


def test_a_failed_overwrite_keeps_the_previous_stems(fake_model, make_audio, tmp_path):
    path = make_audio("x.wav", seconds=0.2)
    out = tmp_path / "out"
    assert main(["separate", str(path), "--out", str(out), "--quiet"]) == 0
    stems = {p.name: p.read_bytes() for p in (out / "x").glob("*.wav")}
    assert len(stems) == 5
    (out / "x" / "stemforge.json").unlink()
    (out / "x" / "stemforge.json").mkdir()
    assert main(["separate", str(path), "--out", str(out), "--overwrite", "--seed", "3", "--preset", "best"]) == 1
    assert {p.name: p.read_bytes() for p in (out / "x").glob("*.wav")} == stems
    assert not [p for p in (out / "x").iterdir() if p.name.startswith(".")]


def test_a_concurrent_runs_finished_stem_is_never_deleted(fake_model, make_audio, tmp_path, monkeypatch, capsys):
    """Another run finishes drums.wav while this one computes: this run fails without
    deleting it, and removes only what it had itself put in place."""
    path = make_audio("x.wav", seconds=0.5)
    winner = out_file = tmp_path / "out" / "x" / "drums.wav"
    original = core.jobs.separate_stream

    def other_run_finishes_first(*args, **kwargs):
        frames = original(*args, **kwargs)
        winner.write_bytes(b"the winner's stem")
        return frames

    monkeypatch.setattr(core.jobs, "separate_stream", other_run_finishes_first)
    assert main(["separate", str(path), "--out", str(tmp_path / "out")]) == 1
    assert "appeared while writing" in capsys.readouterr().err
    assert out_file.read_bytes() == b"the winner's stem"
    assert files_under(tmp_path / "out") == ["x/drums.wav"]


def test_replace_set_puts_everything_back_when_a_move_fails(tmp_path, monkeypatch):
    old = {name: tmp_path / name for name in ("a.wav", "b.wav", "stale.wav")}
    for name, path in old.items():
        path.write_text("old " + name)

    def finished_set():
        new = {}
        for name in ("a.wav", "b.wav"):
            temporary = tmp_path / f".{name}.new"
            temporary.write_text("new " + name)
            new[temporary] = tmp_path / name
        return new

    real_replace = os.replace

    def fail_on_b(source, target):
        if str(source).endswith(".b.wav.new"):
            raise OSError(5, "Input/output error")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", fail_on_b)
    with pytest.raises(OSError):
        replace_set(finished_set(), [old["stale.wav"]], overwrite=True)
    assert {p.name: p.read_text() for p in tmp_path.glob("*.wav")} == {n: "old " + n for n in old}
    monkeypatch.setattr(os, "replace", real_replace)
    for leftover in tmp_path.glob(".*.new"):
        leftover.unlink()
    replace_set(finished_set(), [old["stale.wav"]], overwrite=True)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"a.wav": "new a.wav", "b.wav": "new b.wav"}


# -- 5. leftovers of a killed run -----------------------------------------------------------------


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def test_the_next_run_removes_a_killed_runs_partial_files(fake_model, make_audio, tmp_path):
    path = make_audio("x.wav", seconds=0.2)
    folder = tmp_path / "out" / "x"
    folder.mkdir(parents=True)
    stale = [folder / f".bass.wav.{_dead_pid()}-0123abcd.partial", folder / ".drums.wav.89abcdef.partial"]
    alive = folder / f".piano.wav.{os.getppid()}-0123abcd.partial"  # a running process's file
    for file in (*stale, alive):
        file.write_bytes(b"half a stem")
    assert main(["separate", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert not any(file.exists() for file in stale)
    assert alive.exists()


# -- 8. smaller ones ------------------------------------------------------------------------------


def test_overwrite_with_fewer_stems_replaces_the_whole_set_and_still_nulls(fake_model, make_audio, tmp_path):
    path = make_audio("x.wav", seconds=0.3, subtype="PCM_16")
    out = tmp_path / "out"
    assert main(["separate", str(path), "--out", str(out), "--quiet"]) == 0
    assert main(["separate", str(path), "--out", str(out), "--quiet", "--overwrite", "--stems", "bass"]) == 0
    assert files_under(out) == ["x/bass.wav", "x/other.wav", "x/stemforge.json"]
    mix, _ = sf.read(str(path), dtype="int16")
    total = sum(sf.read(str(out / "x" / name), dtype="int16")[0].astype(np.int64) for name in ("bass.wav", "other.wav"))
    np.testing.assert_array_equal(total, mix)
    recipe = json.loads((out / "x" / "stemforge.json").read_text())
    assert sorted(recipe["output"]["files"]) == ["bass", "other"]


def test_overwrite_works_when_the_recipe_lives_in_another_folder_than_the_stems(fake_model, make_audio, tmp_path):
    path = make_audio("x.wav", seconds=0.2)
    out = tmp_path / "out"
    args = ["separate", str(path), "--out", str(out), "--quiet", "--template", "{stem}/{track}.{ext}"]
    assert main(args) == 0
    assert main(args + ["--overwrite", "--stems", "bass,drums"]) == 0
    assert files_under(out) == ["bass/x.wav", "drums/x.wav", "other/x.wav", "stemforge/x.json"]


def test_an_edited_recipe_cannot_point_the_replacement_at_other_files(fake_model, make_audio, tmp_path):
    path = make_audio("x.wav", seconds=0.2)
    out = tmp_path / "out"
    assert main(["separate", str(path), "--out", str(out), "--quiet"]) == 0
    keep = out / "notes.txt"
    keep.write_text("mine")
    recipe = out / "x" / "stemforge.json"
    data = json.loads(recipe.read_text())
    data["output"]["files"]["vocals"] = "../notes.txt"
    recipe.write_text(json.dumps(data))
    assert main(["separate", str(path), "--out", str(out), "--quiet", "--overwrite", "--stems", "bass",
                 "--format", "flac"]) == 0
    assert keep.read_text() == "mine"
    assert files_under(out) == ["notes.txt", "x/bass.flac", "x/other.flac", "x/stemforge.json"]


def test_a_template_without_ext_is_refused(fake_model, make_audio, tmp_path, capsys):
    path = make_audio("x.wav", seconds=0.2)
    assert main(["separate", str(path), "--out", str(tmp_path / "o"), "--template", "{track}/{stem}"]) == 2
    assert "must end in .{ext}" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_collision_hint_names_a_field_that_tells_folders_apart(fake_model, make_audio, tmp_path, capsys):
    make_audio("a/song.wav", seconds=0.2, seed=1)
    make_audio("b/song.wav", seconds=0.2, seed=2)
    inputs = [str(tmp_path / "a"), str(tmp_path / "b")]
    assert main(["separate", *inputs, "--out", str(tmp_path / "o")]) == 1
    error = capsys.readouterr().err
    assert "collides" in error and "{folder}" in error
    assert main(["separate", *inputs, "--out", str(tmp_path / "p"), "--quiet",
                 "--template", "{folder}/{track}/{stem}.{ext}"]) == 0
    assert (tmp_path / "p" / "a" / "song" / "bass.wav").is_file()
    assert (tmp_path / "p" / "b" / "song" / "bass.wav").is_file()


# -- issue 32: concurrent runs, interrupts and messages around the swap --------------------------


def test_concurrent_overwrites_with_different_stem_sets_leave_one_set_that_nulls(fake_model, make_audio, tmp_path,
                                                                                monkeypatch):
    """Case 10: `--stems bass,drums` and `--stems guitar,piano` with --overwrite at once left
    B's recipe beside A's bass and drums, off the input by 0.82: the set to replace was
    listed when the run started, not under the folder lock. Here run B starts and ends
    while run A computes."""
    path = make_audio("x.wav", seconds=0.3, subtype="PCM_16")
    out = tmp_path / "out"
    original = core.jobs.separate_stream
    runs = []

    def the_other_run_ends_meanwhile(*args, **kwargs):
        frames = original(*args, **kwargs)
        runs.append("computed")
        if len(runs) == 1:
            assert main(["separate", str(path), "--out", str(out), "--quiet", "--overwrite",
                         "--stems", "guitar,piano"]) == 0
        return frames

    monkeypatch.setattr(core.jobs, "separate_stream", the_other_run_ends_meanwhile)
    assert main(["separate", str(path), "--out", str(out), "--quiet", "--overwrite", "--stems", "bass,drums"]) == 0
    assert len(runs) == 2
    assert files_under(out) == ["x/bass.wav", "x/drums.wav", "x/other.wav", "x/stemforge.json"]
    mix, _ = sf.read(str(path), dtype="int16")
    total = sum(sf.read(str(out / "x" / f"{name}.wav"), dtype="int16")[0].astype(np.int64)
                for name in ("bass", "drums", "other"))
    np.testing.assert_array_equal(total, mix)
    assert sorted(json.loads((out / "x" / "stemforge.json").read_text())["output"]["files"]) == ["bass", "drums",
                                                                                                  "other"]


@pytest.mark.parametrize("signal_number, code, word", [(signal.SIGINT, 130, "interrupted"),
                                                       (signal.SIGTERM, 143, "terminated")])
def test_a_signal_during_the_final_swap_waits_for_the_whole_set(fake_model, make_audio, tmp_path, monkeypatch,
                                                                 capsys, signal_number, code, word):
    """Case 11: Ctrl-C while the previous set's files were being deleted: exit 130 and
    "unfinished files were removed", yet the new set was in place and a hidden
    `.stemforge.json.<pid>-<id>.previous` was left. The signal arrives at exactly that
    point (the hook sends it); it is now acted on once the new set is whole and reported."""
    path = make_audio("x.wav", seconds=0.3)
    out = tmp_path / "out"
    assert main(["separate", str(path), "--out", str(out), "--quiet"]) == 0
    real_remove = core.outputs.remove_quietly
    sent = []

    def signalled_while_deleting_the_previous_set(file):
        if str(file).endswith(".previous") and not sent:
            sent.append(file)
            os.kill(os.getpid(), signal_number)
        real_remove(file)

    monkeypatch.setattr(core.outputs, "remove_quietly", signalled_while_deleting_the_previous_set)
    assert main(["separate", str(path), "--out", str(out), "--overwrite", "--seed", "3", "--preset", "best"]) == code
    assert sent
    captured = capsys.readouterr()
    assert captured.out.startswith("done: x.wav: 5 stems")
    assert captured.err == f"stemforge: error: {word}; unfinished files were removed\n"
    assert files_under(out) == sorted(f"x/{name}" for name in ("bass.wav", "drums.wav", "guitar.wav", "other.wav",
                                                                "piano.wav", "stemforge.json"))
    assert json.loads((out / "x" / "stemforge.json").read_text())["seed"] == 3


def test_the_losing_concurrent_run_names_the_stem_not_its_temporary_file(fake_model, make_audio, tmp_path,
                                                                          monkeypatch, capsys):
    """Case 13: the run that lost the race named its own vanished `.bass.wav.<pid>-<id>.partial`."""
    path = make_audio("x.wav", seconds=0.3)
    out = tmp_path / "out"
    original = core.jobs.separate_stream

    def the_other_run_wins(*args, **kwargs):
        frames = original(*args, **kwargs)
        monkeypatch.setattr(core.jobs, "separate_stream", original)
        assert main(["separate", str(path), "--out", str(out), "--quiet"]) == 0
        return frames

    monkeypatch.setattr(core.jobs, "separate_stream", the_other_run_wins)
    assert main(["separate", str(path), "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert error == (f"stemforge: error: {out / 'x' / 'bass.wav'}: appeared while writing (another run?); "
                     "not overwritten\n")
    assert files_under(out) == sorted(f"x/{name}" for name in ("bass.wav", "drums.wav", "guitar.wav", "other.wav",
                                                                "piano.wav", "stemforge.json"))
