"""The leakage table: least-squares shares of each estimate's energy, and the level of an
estimate whose source is silent."""

import math

import numpy as np
import pytest
import torch

from core.evaluation.leakage import SOURCES, UNEXPLAINED, LeakageTable, projection_energies
from core.evaluation.modes import parse_modes
from core.evaluation.protocol import Chunk, evaluate
from core.evaluation.report import json_report, markdown_report, run_context
from tests.fakes import FilterBankModel

SECOND = 22050


def _tones(length: int, frequencies) -> np.ndarray:
    t = np.arange(length) / SECOND
    return np.stack([np.sin(2 * np.pi * f * t) for f in frequencies])


def test_projection_splits_an_estimate_into_its_sources():
    sources = _tones(SECOND, (55.0, 110.0, 220.0, 440.0, 880.0))  # orthogonal over 1 s
    noise = np.random.default_rng(0).standard_normal(SECOND) * 0.1
    estimate = 1.0 * sources[2] + 0.5 * sources[4] + noise
    energies, unexplained = projection_energies(estimate, sources)
    norms = (sources**2).sum(axis=1)
    assert energies[2] == pytest.approx(norms[2], rel=0.02)
    assert energies[4] == pytest.approx(0.25 * norms[4], rel=0.05)
    assert energies[[0, 1, 3]].sum() < 0.01 * energies[2]
    assert unexplained == pytest.approx((noise**2).sum(), rel=0.05)


def test_a_silent_source_gets_no_share():
    sources = _tones(SECOND, (55.0, 110.0, 220.0, 440.0, 880.0))
    sources[3] = 0.0
    energies, _ = projection_energies(sources[0] + sources[1], sources)
    assert energies[3] == 0.0 and energies[0] > 0


def test_table_shares_and_silent_levels():
    length = 4 * SECOND
    stems = torch.from_numpy(_tones(length, (55.0, 110.0, 220.0, 440.0))).float()
    stems[3] = 0.0  # piano silent
    other = torch.from_numpy(_tones(length, (880.0,))[0]).float()
    mixture = stems.sum(0) + other
    estimates = stems.clone()
    estimates[2] = stems[2] + other  # the voice lands in the guitar
    estimates[3] = 0.1 * other  # and a little in the silent piano
    table = LeakageTable()
    table.add(estimates, stems, other, mixture, [0], length, torch.tensor([[True, True, True, False]]))
    shares = table.shares()
    assert set(shares["guitar"]) == {*SOURCES, UNEXPLAINED}
    assert shares["guitar"]["other"] == pytest.approx(0.5, abs=0.01)
    assert shares["guitar"]["guitar"] == pytest.approx(0.5, abs=0.01)
    assert shares["bass"]["bass"] == pytest.approx(1.0, abs=0.01)
    assert shares["piano"]["other"] == pytest.approx(1.0, abs=0.01)
    level = table.silent_level()
    expected = 10 * math.log10(0.01 * float((other**2).sum()) / float((mixture**2).sum()))
    assert level["piano"]["median_db"] == pytest.approx(expected, abs=0.1)
    assert level["piano"]["windows"] == 1 and level["bass"]["windows"] == 0


def test_evaluate_adds_a_leakage_table_when_chunks_carry_other():
    model = FilterBankModel()
    length = 5 * SECOND
    stems = torch.from_numpy(_tones(length, (60.0, 5000.0, 900.0, 300.0))).float() * 0.2
    other = torch.from_numpy(_tones(length, (2000.0,))[0]).float() * 0.2
    modes = parse_modes("draft", model, 0.01)
    with_other = evaluate(model, [Chunk(stems.sum(0) + other, stems, "Track00001", 0, other)], modes)
    without = evaluate(model, [Chunk(stems.sum(0), stems, "Track00001", 0)], modes)
    assert not without.leakage and set(with_other.leakage) == {"draft"}
    context = {**run_context(model, "data/synth", "validation", 0), "mixture_has_other": True}
    text = markdown_report(with_other, context)
    assert "## Leakage" in text and "| guitar |" in text and "non-target parts" in text
    data = json_report(with_other, context)
    shares = data["leakage"]["draft"]["shares"]
    assert set(shares) == {"bass", "drums", "guitar", "piano"}
    for row in shares.values():
        assert 0.5 < sum(v for v in row.values() if v is not None) < 1.5
