"""core.fileio: whole files or none, no-clobber moves, and a killed run's leftovers."""

from __future__ import annotations

import os

import pytest

from core.fileio import (
    atomic_file,
    place,
    remove_stale_temporaries,
    sha256_file,
    temporary_name,
    write_text_atomic,
)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_text_atomic(tmp_path / "a.json", "old")
    with pytest.raises(RuntimeError):
        with atomic_file(path, "w") as handle:
            handle.write("half")
            raise RuntimeError("crash")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_without_overwrite_an_existing_file_is_never_replaced(tmp_path):
    path = write_text_atomic(tmp_path / "a.txt", "first")
    with pytest.raises(FileExistsError):
        write_text_atomic(path, "second", overwrite=False)
    assert path.read_text() == "first" and len(list(tmp_path.iterdir())) == 1
    temporary = temporary_name(tmp_path / "b.txt")
    temporary.write_text("new")
    assert place(temporary, tmp_path / "b.txt", overwrite=False).read_text() == "new"
    assert not temporary.exists()


def test_temporary_names_carry_the_process_id(tmp_path):
    name = temporary_name(tmp_path / "bass.wav").name
    assert name.startswith(f".bass.wav.{os.getpid()}-") and name.endswith(".partial")


def test_stale_temporaries_are_removed_and_moved_aside_files_put_back(tmp_path):
    dead = 4_000_000
    while True:
        try:
            os.kill(dead, 0)
        except ProcessLookupError:
            break
        except PermissionError:
            pass
        dead += 1
    stale = tmp_path / f".bass.wav.{dead}-0123abcd.partial"
    ours = temporary_name(tmp_path / "drums.wav")
    aside = tmp_path / f".piano.wav.{dead}-0123abcd.previous"
    replaced = tmp_path / f".guitar.wav.{dead}-0123abcd.previous"
    for file in (stale, ours, aside, replaced):
        file.write_text(file.name)
    (tmp_path / "guitar.wav").write_text("the new guitar")
    assert sorted(p.name for p in remove_stale_temporaries(tmp_path)) == sorted(
        p.name for p in (stale, aside, replaced))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([ours.name, "piano.wav", "guitar.wav"])
    assert (tmp_path / "piano.wav").read_text() == aside.name
    assert (tmp_path / "guitar.wav").read_text() == "the new guitar"


def test_sha256_file(tmp_path):
    (tmp_path / "x").write_bytes(b"abc")
    assert sha256_file(tmp_path / "x") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
