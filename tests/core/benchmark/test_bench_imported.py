"""`stemforge bench` with an imported Demucs model: its peer is its own networks under demucs'
apply_model, its goal is draft <= 1.1x that time, and apply_model's peak memory is measured."""

import pytest

from core.benchmark import imported
from core.benchmark.bench import BenchSettings, markdown_bench, run_bench
from core.cli import main

pytest.importorskip("demucs.apply")
from tests.core.models.demucs_files import save_like_demucs, tiny_htdemucs  # noqa: E402


@pytest.fixture
def tiny_th(tmp_path, monkeypatch):
    monkeypatch.setenv("STEMFORGE_MODELS", str(tmp_path / "user-models"))
    return save_like_demucs(tiny_htdemucs(0), tmp_path / "files", "tiny")


def test_bench_compares_an_imported_model_with_apply_model(tiny_th, tmp_path):
    from core.models.registry import load_model

    model = load_model(str(tiny_th), "cpu")
    result = run_bench(model, str(tiny_th), BenchSettings(seconds=2.0, long_minutes=0, repeats=1), workdir=tmp_path)
    assert [timing.name for timing in result.presets] == ["draft"]  # the others wait for tune
    assert result.peer_name.startswith("apply_model") and result.peer_seconds > 0
    assert result.presets[0].vs_peer == pytest.approx(result.presets[0].seconds / result.peer_seconds)
    goals = {goal.name: goal for goal in result.goals}
    assert goals["draft vs apply_model"].target == "<= 1.10x" and goals["draft vs apply_model"].passed is not None
    assert result.passes.segments == 2 and result.passes.stems == 4  # two stereo positions per call
    text = markdown_bench(result)
    assert "| apply_model (the same networks) | - |" in text and "shifts=0" in text


def test_apply_models_memory_probe_runs_in_a_fresh_process(tiny_th, tmp_path):
    from core.benchmark.clip import write_clip

    clip = write_clip(tmp_path / "c.wav", 2.0)
    figure = imported.measure_apply_model_in_subprocess(str(tiny_th), clip, tmp_path / "out", threads=1)
    assert figure.peak_mb >= figure.rss_after_load_mb > 0 and figure.seconds > 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["bass.wav", "drums.wav", "other.wav", "vocals.wav"]


def test_bench_command_takes_an_installed_model_id(tiny_th, capsys):
    assert main(["models", "add", str(tiny_th)]) == 0
    assert main(["bench", "--model", "tiny", "--seconds", "1", "--long-minutes", "0", "--repeats", "1",
                 "--threads", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| draft vs apply_model | <= 1.10x |" in out
