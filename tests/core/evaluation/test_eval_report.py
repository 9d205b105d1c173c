"""Markdown and JSON reports of an evaluation."""

import json
import math

import torch

from core.evaluation.modes import parse_modes
from core.evaluation.protocol import Chunk, evaluate
from core.evaluation.report import COLUMNS, json_report, markdown_report, run_context, write_reports
from tests.fakes import FilterBankModel

SECOND = 22050


def _result():
    model = FilterBankModel()
    length = 5 * SECOND
    t = torch.arange(length) / SECOND
    stems = torch.stack([0.2 * torch.sin(2 * math.pi * f * t) for f in (60.0, 5000.0, 900.0, 300.0)])
    stems[2] = 0.0  # guitar silent: n/a in the active table, scored in the paper's
    modes = parse_modes("draft,fast", model, 0.01)
    return model, evaluate(model, [Chunk(stems.sum(0), stems, "Track00001", 0)], modes)


def test_markdown_has_both_conventions_with_every_row_and_column():
    model, result = _result()
    text = markdown_report(result, run_context(model, "data/synth", "test", 0))
    assert text.count("| SI-SDRi (dB) | bass | drums | guitar | piano | All |") == 2
    assert "Paper convention" in text and "Active stems only" in text
    for row in ("| mixture |", "| oracle IRM |", "| draft (extractor) |", "| fast (consistency, 1 step"):
        assert text.count(row) == 2
    assert "| mixture | 0.00 | 0.00 | n/a | 0.00 | 0.00 |" in text  # active table
    assert "| mixture | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 |" in text  # paper table


def test_json_report_shape_and_files(tmp_path):
    model, result = _result()
    context = run_context(model, "data/synth", "test", 7)
    data = json_report(result, context)
    md_path, json_path = write_reports(tmp_path / "out", markdown_report(result, context), data)
    loaded = json.loads(json_path.read_text())
    assert md_path.read_text().startswith("# Stemforge evaluation: filterbank-test")
    assert loaded["columns"] == list(COLUMNS)
    assert [row["name"] for row in loaded["rows"]] == ["mixture", "oracle IRM", "draft", "fast"]
    assert [row["kind"] for row in loaded["rows"]] == ["reference", "reference", "model", "model"]
    fast = loaded["rows"][3]
    assert fast["preset"] == {"steps": 1, "sigma_max": 0.01, "sampler": "consistency"}
    assert set(fast["paper"]) == set(COLUMNS) and set(fast["active"]) == set(COLUMNS)
    assert fast["active"]["guitar"] is None  # NaN is written as null
    assert fast["active_windows"]["guitar"] == 0
    assert loaded["seed"] == 7 and loaded["split"] == "test"
    assert loaded["windows_kept"] == loaded["windows_total"] == 1
    assert loaded["protocol"]["silence_rule"] == "L2 norm / n < threshold"
