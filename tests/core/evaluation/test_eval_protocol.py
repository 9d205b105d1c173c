"""The paper's protocol on hand-built chunks: windows, skip rule, reference rows, modes."""

import math

import numpy as np
import pytest
import torch

from core.errors import ConfigError
from core.evaluation.modes import parse_modes
from core.evaluation.protocol import (
    MIXTURE_ROW,
    ORACLE_ROW,
    Chunk,
    ProtocolSettings,
    evaluate,
    ideal_ratio_mask,
    model_estimates,
    select_windows,
    window_si_sdri,
    window_starts,
)
from core.instruments import INSTRUMENTS
from core.model import Preset
from tests.fakes import FilterBankModel

L = 262144
SECOND = 22050


def tone(frequency: float, length: int = L, seed: int = 0) -> torch.Tensor:
    t = torch.arange(length, dtype=torch.float32) / SECOND
    rng = torch.Generator().manual_seed(seed)
    return 0.2 * torch.sin(2 * math.pi * frequency * t) + 0.02 * torch.randn(length, generator=rng)


def hand_built_chunk() -> Chunk:
    """bass everywhere; drums only in [0, 1 s); guitar silent (tiny noise); piano from 8 s on.

    Windows (4 s, hop 2 s) start at 0, 2, 4, 6 s: w0 has bass + drums (kept), w1 and w2
    bass only (skipped), w3 = [6 s, 10 s) bass + piano (kept).
    """
    stems = torch.stack([tone(55), tone(4000, seed=1), tone(700, seed=2), tone(300, seed=3)])
    stems[1, SECOND:] = 0.0
    stems[2] = 1e-6 * torch.randn(L, generator=torch.Generator().manual_seed(4))
    stems[3, : 8 * SECOND] = 0.0
    return Chunk(stems.sum(0), stems, "Track00001", 0)


def test_window_starts_of_a_paper_chunk():
    assert window_starts(L, 4 * SECOND, 2 * SECOND) == [0, 2 * SECOND, 4 * SECOND, 6 * SECOND]
    assert window_starts(4 * SECOND - 1, 4 * SECOND, 2 * SECOND) == []


def test_skip_rule_keeps_windows_with_two_sounding_stems():
    chunk = hand_built_chunk()
    windows = select_windows(chunk.stems, ProtocolSettings())
    assert windows.total == 4
    assert windows.starts == [0, 6 * SECOND]
    assert windows.active.tolist() == [[True, True, False, False], [True, False, False, True]]


def test_evaluate_rows_counts_and_conventions():
    chunk = hand_built_chunk()
    model = FilterBankModel()  # segment 4096: the chunk runs through overlap-add
    result = evaluate(model, [chunk], [model.presets["draft"]])
    assert (result.chunks, result.windows_total, result.windows_kept) == (1, 4, 2)
    assert result.active_windows == {"bass": 2, "drums": 1, "guitar": 0, "piano": 1}
    paper, active = result.table("paper"), result.table("active")
    assert list(paper) == [MIXTURE_ROW, ORACLE_ROW, "draft"]
    for convention in (paper, active):
        assert all(value == 0.0 for value in convention[MIXTURE_ROW].values() if not math.isnan(value))
    assert math.isnan(active["draft"]["guitar"])  # never sounding in a kept window
    assert not math.isnan(paper["draft"]["guitar"])  # the paper's convention scores it anyway
    # "All" is the mean of the stems: of four in the paper's convention, of the three scored ones here.
    assert paper["draft"]["All"] == pytest.approx(np.mean([paper["draft"][s] for s in INSTRUMENTS]))
    assert active["draft"]["All"] == pytest.approx(np.mean([active["draft"][s] for s in ("bass", "drums", "piano")]))

    # Recompute the active and paper means by hand from per-window scores.
    settings = ProtocolSettings()
    windows = select_windows(chunk.stems, settings)
    estimates = model_estimates(model, chunk.mixture, model.presets["draft"], torch.Generator(), settings)
    scores = window_si_sdri(estimates, chunk.mixture, chunk.stems, windows, settings.window_samples)
    assert scores.shape == (2, 4)
    assert paper["draft"]["bass"] == pytest.approx(float(scores[:, 0].mean()))
    assert active["draft"]["drums"] == pytest.approx(float(scores[0, 1]))
    assert active["draft"]["piano"] == pytest.approx(float(scores[1, 3]))


def test_oracle_beats_the_mixture_on_sounding_stems():
    result = evaluate(FilterBankModel(), [hand_built_chunk()], [])
    active = result.table("active")[ORACLE_ROW]
    for stem in ("bass", "drums", "piano"):
        assert active[stem] > 10.0


def test_ideal_ratio_mask_reconstructs_the_mixture():
    chunk = hand_built_chunk()
    oracle = ideal_ratio_mask(chunk.mixture, chunk.stems)
    assert oracle.shape == chunk.stems.shape
    # the masks sum to one wherever any stem sounds, so the estimates add up to the mixture
    assert torch.allclose(oracle.sum(0), chunk.mixture.double(), atol=1e-5)


def test_identity_model_through_overlap_add_scores_zero():
    model = FilterBankModel(identity=True)  # every "stem" is the mixture itself
    chunk = hand_built_chunk()
    settings = ProtocolSettings()
    estimates = model_estimates(model, chunk.mixture, model.presets["draft"], torch.Generator(), settings)
    assert estimates.shape == (4, L)
    assert torch.allclose(estimates, chunk.mixture.double().expand(4, L), atol=1e-6)
    result = evaluate(model, [chunk], [model.presets["draft"]])
    assert result.table("paper")["draft"]["All"] == pytest.approx(0.0, abs=1e-4)


def test_chunks_without_kept_windows_do_not_run_the_model():
    model = FilterBankModel()
    stems = torch.zeros(4, L)
    stems[0] = tone(55)
    result = evaluate(model, [Chunk(stems.sum(0), stems, "t", 0)], [model.presets["fast"]])
    assert model.calls == 0
    assert (result.windows_kept, result.windows_total) == (0, 4)
    assert math.isnan(result.table("paper")["fast"]["All"])


def test_same_seed_same_scores_and_seed_matters():
    chunk = hand_built_chunk()

    def score(seed: int) -> float:
        model = FilterBankModel()
        return evaluate(model, [chunk], [Preset("noisy", 2, 0.05)], seed=seed).table("paper")["noisy"]["All"]

    assert score(3) == score(3)
    assert score(3) != score(4)


def test_wrong_sample_rate_and_bad_chunk_shapes_are_refused():
    chunk = hand_built_chunk()
    with pytest.raises(ConfigError, match="Hz"):
        evaluate(FilterBankModel(sample_rate=44100), [chunk], [])
    bad = Chunk(chunk.mixture, chunk.stems[:3], "t", 0)
    with pytest.raises(ConfigError, match="stems"):
        evaluate(FilterBankModel(), [bad], [])


def test_teacher_mode_on_a_tiny_hybrid_model():
    from core.evaluation.models import random_model

    model = random_model("tiny", segment_samples=4096)
    settings = ProtocolSettings(window_seconds=0.4, hop_seconds=0.2)  # small windows keep it fast
    short = 13300  # two windows: at 0 and 0.2 s
    stems = torch.stack([tone(55, short), tone(3000, short, 1), tone(700, short, 2), tone(300, short, 3)])
    modes = parse_modes("draft,fast,teacher:2", model, 0.01)
    result = evaluate(model, [Chunk(stems.sum(0), stems, "t", 0)], modes, settings)
    table = result.table("active")
    assert (result.windows_kept, result.windows_total) == (2, 2)
    for name in ("draft", "fast", "teacher:2"):
        assert all(math.isfinite(table[name][s]) for s in INSTRUMENTS)
    assert table["teacher:2"] != table["draft"]
