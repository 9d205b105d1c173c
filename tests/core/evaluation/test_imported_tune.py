"""`stemforge tune` for an imported Demucs model: its presets measured against draft through
the pipeline on the stems it shares with the data, written into its manifest; a preset is
offered only once it measured a gain."""

import argparse

import numpy as np
import pytest
import torch

from core.cli import run_command
from core.evaluation import tune_command
from core.evaluation.imported_tune import measure_presets, pipeline_estimates, shared_stems
from core.evaluation.protocol import select_windows, window_si_sdri
from core.models.presets import MIN_PRESET_GAIN_DB
from tests.core.evaluation.chunks import SMALL, small_chunk

pytest.importorskip("demucs.htdemucs")
from tests.core.models.demucs_files import save_like_demucs, tiny_htdemucs  # noqa: E402


@pytest.fixture
def installed(tmp_path, monkeypatch):
    from core.models.registry import add_model

    monkeypatch.setenv("STEMFORGE_MODELS", str(tmp_path / "user-models"))
    th = save_like_demucs(tiny_htdemucs(0), tmp_path / "files", "tiny")
    return add_model([th])


def test_gains_are_each_presets_si_sdri_minus_drafts_on_the_shared_stems(installed):
    from core.models.registry import load_described

    model = load_described(installed, "cpu")
    assert shared_stems(model) == ["bass", "drums"]
    chunks = [small_chunk(0), small_chunk(1)]
    measured, context = measure_presets(model, chunks, SMALL, seed=3)
    assert set(measured) == {"draft", "fast", "balanced", "best"} and context["stems"] == ["bass", "drums"]
    assert measured["draft"]["gain_db"] == 0.0
    for row in measured.values():
        assert row["gain_db"] == pytest.approx(row["si_sdri_validation"] - measured["draft"]["si_sdri_validation"],
                                               abs=1e-3)
    # draft's figure, scored here by hand: the pipeline's estimates on each chunk's windows
    sums, counts = np.zeros(2), np.zeros(2)
    for chunk in chunks:
        estimates = pipeline_estimates(model, chunk.mixture.numpy(), 22050, model.presets["draft"],
                                       ["bass", "drums"], 0)
        assert estimates.shape == (2, chunk.mixture.shape[0])
        windows = select_windows(chunk.stems, SMALL)
        scores = window_si_sdri(torch.from_numpy(estimates), chunk.mixture.double(), chunk.stems[:2].double(),
                                windows, SMALL.window_samples).numpy()
        active = windows.active.numpy()[:, :2]
        sums += np.where(active, scores, 0.0).sum(axis=0)
        counts += active.sum(axis=0)
    assert measured["draft"]["si_sdri_validation"] == pytest.approx((sums / counts).mean(), abs=1e-3)
    assert measured["fast"]["gain_db"] != 0.0  # the ratio mask changes the estimates


def test_tune_command_writes_the_gains_and_the_offer_follows_them(installed, monkeypatch, tmp_path, capsys):
    from core.models.registry import find_model

    class Chunks:
        def __init__(self, *args, **kwargs):
            self.chunks = [small_chunk(0), small_chunk(1)]

        def __len__(self):
            return len(self.chunks)

        def __iter__(self):
            return iter(self.chunks)

    monkeypatch.setattr(tune_command, "ChunkSource", Chunks)
    parser = argparse.ArgumentParser()
    tune_command.add_arguments(parser)
    before = find_model("tiny")
    assert set(before.withheld_presets()) == {"fast", "balanced", "best"}
    args = parser.parse_args(["--model", "tiny", "--data", str(tmp_path), "--split", "validation",
                              "--device", "cpu", "--quiet", "--chunk-samples", "13300"])
    monkeypatch.setattr(tune_command, "protocol_settings", lambda args: SMALL)
    assert run_command(tune_command.run, args) == 0
    assert "gain over draft" in capsys.readouterr().out
    after = find_model("tiny")
    for name in ("fast", "balanced", "best"):
        assert after.presets[name]["tuned"] is True and after.presets[name]["gain_db"] is not None
    withheld = after.withheld_presets()
    best_gain = 0.0
    for name in ("fast", "balanced", "best"):  # offered exactly when it beats every faster one
        gain = after.presets[name]["gain_db"]
        assert (name in withheld) == (gain < best_gain + MIN_PRESET_GAIN_DB)
        if name not in withheld:
            best_gain = gain
        else:
            assert "measured" in withheld[name]


def test_tune_refuses_the_test_split_and_a_file_not_installed(installed, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    tune_command.add_arguments(parser)
    args = parser.parse_args(["--model", "tiny", "--data", str(tmp_path), "--split", "test"])
    assert run_command(tune_command.run, args) == 2
    th = next((tmp_path / "files").glob("*.th"))
    args = parser.parse_args(["--model", str(th), "--data", str(tmp_path)])
    assert run_command(tune_command.run, args) == 2
    assert "add the model first" in capsys.readouterr().err
