import argparse

import numpy as np
import pytest
import soundfile as sf

from core.cli import run_command
from core.data.synth import command


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_missing_soundfont_is_a_one_line_error(tmp_path, capsys):
    code = run_command(command.run, _args(
        "--out", str(tmp_path / "d"), "--songs", "1", "--soundfont", str(tmp_path / "none.sf2")
    ))
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("stemforge: error:") and "none.sf2" in err
    assert "\n" not in err


def test_missing_default_fonts_names_the_debian_packages(tmp_path, capsys, monkeypatch):
    from core.data.synth import fonts

    monkeypatch.setattr(fonts, "SEARCH_DIRECTORIES", (tmp_path,))
    assert run_command(command.run, _args("--out", str(tmp_path / "d"), "--songs", "1")) == 1
    err = capsys.readouterr().err
    assert "fluid-soundfont-gm" in err and "musescore-general-soundfont-small" in err


def test_bad_numbers_are_rejected_by_the_parser():
    with pytest.raises(SystemExit):
        _args("--out", "x", "--songs", "0")
    with pytest.raises(SystemExit):
        _args("--out", "x", "--songs", "2", "--seconds", "0.1")


def test_run_writes_songs_and_reports_speed(tmp_path, capsys):
    code = run_command(command.run, _args(
        "--out", str(tmp_path / "d"), "--songs", "1", "--seconds", "2", "--jobs", "1"
    ))
    assert code == 0
    err = capsys.readouterr().err
    assert "1/1 songs" in err and "x real time" in err
    assert (tmp_path / "d" / "train" / "Track00001" / "mix.flac").is_file()


def test_render_demo_writes_a_stereo_ogg_peaking_at_minus_one_db(tmp_path):
    from core.data.synth.demo import render_demo

    out = render_demo(tmp_path / "demo.ogg", seconds=2.0, seed=1, stems_dir=tmp_path / "stems")
    audio, rate = sf.read(out)
    assert rate == 44100 and audio.shape[1] == 2
    assert abs(audio.shape[0] - 2 * 44100) < 2048
    assert 0.75 < np.abs(audio).max() < 1.0
    stems = [
        sf.read(tmp_path / "stems" / f"{name}.wav")[0]
        for name in ("bass", "drums", "guitar", "piano")
    ]
    assert all(s.shape == (2 * 44100, 2) for s in stems)
