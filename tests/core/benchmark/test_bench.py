"""``stemforge bench`` in a tiny configuration, its goal checks, the clip and the peer."""

import argparse
import json
import sys

import numpy as np
import pytest
import soundfile as sf

from core.benchmark import command
from core.benchmark.bench import (
    BenchResult,
    BenchSettings,
    PresetTiming,
    check_goals,
    markdown_bench,
    run_bench,
)
from core.benchmark.clip import clip_block, write_clip
from core.benchmark.memory import MemoryFigure
from core.benchmark.peer import INSTALL_HINT, PeerUnavailable, load_htdemucs
from core.cli import run_command
from tests.fakes import FilterBankModel


def test_clip_blocks_join_seamlessly_and_stay_below_full_scale(tmp_path):
    whole = clip_block(0, 30000, 44100, 2, seed=3)
    pieces = np.concatenate([clip_block(start, 7000, 44100, 2, seed=3)[: min(7000, 30000 - start)]
                             for start in range(0, 30000, 7000)])
    np.testing.assert_allclose(whole, pieces, atol=1e-6)
    assert whole.shape == (30000, 2) and np.abs(whole).max() < 0.9
    assert not np.array_equal(whole[:, 0], whole[:, 1])  # panned: a real stereo clip
    path = write_clip(tmp_path / "c.wav", 1.5, 44100, 2)
    info = sf.info(str(path))
    assert (info.frames, info.samplerate, info.channels, info.subtype) == (66150, 44100, 2, "PCM_16")


def _result_with(peer_seconds, timings, memory):
    result = BenchResult(BenchSettings(), context={})
    result.peer_seconds = peer_seconds
    for name, seconds in timings.items():
        result.presets.append(PresetTiming(name, 1, seconds, seconds / 30, seconds / peer_seconds))
    result.memory = memory
    return check_goals(result)


def test_goal_checks_report_pass_miss_and_margin():
    memory = {"short": MemoryFigure(10, 300, 400), "long": MemoryFigure(100, 300, 600)}
    goals = {g.name: g for g in _result_with(100.0, {"fast": 20.0, "balanced": 60.0, "best": 75.0}, memory)}
    assert goals["fast vs HTDemucs"].passed is True
    assert goals["balanced vs HTDemucs"].passed is False
    assert goals["balanced vs HTDemucs"].note == "1.20x over the goal"
    assert goals["best vs HTDemucs"].passed is True  # exactly at the limit
    assert goals["peak memory, 10 min input"].passed is True
    growth = goals["memory growth 10 min / 1 min"]
    assert (growth.passed, growth.measured) == (False, "1.500x")
    big = {"short": MemoryFigure(10, 300, 1400), "long": MemoryFigure(100, 300, 1600)}
    goals = {g.name: g for g in _result_with(100.0, {"fast": 20.0}, big)}
    assert goals["peak memory, 10 min input"].passed is False
    assert goals["peak memory, 10 min input"].note == "100 MB over"
    assert goals["memory growth 10 min / 1 min"].passed is True
    assert goals["balanced vs HTDemucs"].passed is None


def test_missing_peer_is_reported_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "demucs", None)
    with pytest.raises(PeerUnavailable, match="install it with"):
        load_htdemucs()
    settings = BenchSettings(seconds=0.5, long_minutes=0, repeats=1)
    result = run_bench(FilterBankModel(), None, settings, workdir=tmp_path)
    assert result.peer_seconds is None and INSTALL_HINT in result.peer_note
    assert [p.name for p in result.presets] == ["draft", "fast", "balanced", "best"]
    assert all(p.seconds > 0 and p.rtf == pytest.approx(p.seconds / 0.5) for p in result.presets)
    assert result.passes.segments == 4 and result.passes.stems == 4 and result.passes.segment_samples == 4096
    assert [g.passed for g in result.goals] == [None, None, None, None]
    text = markdown_bench(result)
    assert "Peer: skipped: HTDemucs unavailable" in text and "| fast vs HTDemucs | <= 0.25x | n/a | not measured |" in text
    assert list(tmp_path.iterdir()) == []  # clips and stems are removed afterwards


def test_bench_command_in_a_tiny_configuration(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    out = tmp_path / "bench.md"
    args = parser.parse_args(["--model", "random:tiny:4096", "--seconds", "0.3", "--short-minutes", "0.005",
                              "--long-minutes", "0.01", "--memory-preset", "draft", "--skip-peer",
                              "--repeats", "1", "--out", str(out), "--quiet"])
    assert run_command(command.run, args) == 0
    printed = capsys.readouterr().out
    for row in ("| draft | 0 |", "| fast | 1 |", "| balanced | 2 |", "| best | 4 |", "| extractor |",
                "| student (one consistency step) |", "| 0.005 min |", "| 0.01 min |"):
        assert row in printed
    assert "| peak memory, 0.01 min input | <= 1500 MB |" in printed
    assert "Peer: skipped (--skip-peer); install the peer with:" in printed
    assert out.read_text().strip() == printed.split("\nwrote ")[0].strip()
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["model"]["id"] == "random-tiny" and data["model"]["parameters"] > 0
    for label in ("short", "long"):
        figure = data["memory"][label]
        assert figure["peak_mb"] >= figure["rss_after_load_mb"] > 0 and figure["seconds"] > 0
    assert [g["passed"] for g in data["goals"]][3:] != [None, None]


@pytest.mark.slow
def test_htdemucs_peer_separates_a_clip(tmp_path):
    pytest.importorskip("demucs")
    from core.benchmark.peer import run_htdemucs

    peer = load_htdemucs()
    assert 41e6 < peer.parameters < 42e6  # the released htdemucs architecture (41.5 M)
    clip = write_clip(tmp_path / "clip.wav", 1.0)
    seconds = run_htdemucs(peer, clip, tmp_path / "stems")
    assert seconds > 0
    for name in ("bass", "drums", "guitar", "piano"):
        info = sf.info(str(tmp_path / "stems" / f"{name}.wav"))
        assert (info.frames, info.channels, info.subtype) == (44100, 2, "PCM_16")


def test_a_two_view_preset_says_so_in_the_speed_table():
    from core.benchmark.bench import PresetTiming

    assert PresetTiming("draft", 0, 1.0, 0.1).steps_label() == "0"
    assert PresetTiming("fast", 0, 2.0, 0.2, views=2).steps_label() == "0, 2 views"
