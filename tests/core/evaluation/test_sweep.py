"""The sigma_max sweep: grid, curves for both samplers, the extractor line, the PNG plot."""

import math
import sys

import pytest

from core.errors import ConfigError
from core.evaluation.models import random_model
from core.evaluation.sweep import (
    DEFAULT_GRID,
    available_samplers,
    import_matplotlib,
    log_grid,
    markdown_sweep,
    parse_grid,
    plot_sweep,
    run_sweep,
)
from tests.core.evaluation.chunks import SMALL, small_chunk
from tests.fakes import FilterBankModel


def test_grid_parsing():
    assert len(DEFAULT_GRID) == 8
    assert DEFAULT_GRID[0] == pytest.approx(1e-3) and DEFAULT_GRID[-1] == pytest.approx(1.0)
    assert all(b / a == pytest.approx(DEFAULT_GRID[1] / DEFAULT_GRID[0]) for a, b in zip(DEFAULT_GRID[:-1], DEFAULT_GRID[1:], strict=True))
    assert parse_grid("0.01:1:3") == pytest.approx([0.01, 0.1, 1.0])
    assert parse_grid("0.5, 0.01") == [0.01, 0.5]
    for bad in ("a:b:c", "0:1:3", "-1,0.1", "", "1:0.1:3"):
        with pytest.raises(ConfigError):
            parse_grid(bad)
    assert log_grid(0.2, 0.2, 1) == [0.2]


def test_sweep_on_a_tiny_hybrid_model(tmp_path):
    model = random_model("tiny", segment_samples=4096)
    result = run_sweep(model, [small_chunk()], grid=[0.01, 0.5], steps=[1, 2], settings=SMALL)
    assert result.grid == [0.01, 0.5] and result.steps == [1, 2]
    assert set(result.curves) == {"consistency", "teacher"}
    for sampler in ("consistency", "teacher"):
        assert set(result.curves[sampler]) == {1, 2}
        for values in result.curves[sampler].values():
            assert len(values) == 2 and all(math.isfinite(v) for v in values)
    assert math.isfinite(result.extractor) and result.oracle > result.extractor
    # a refiner started from x_det with almost no noise stays near the extractor; a large
    # sigma_max moves it away: the curve is not flat
    assert result.curves["consistency"][1][0] != result.curves["consistency"][1][1]
    sigma, score = result.best("consistency", 1)
    assert sigma in result.grid and score == max(result.curves["consistency"][1])
    data = result.to_dict()
    assert data["curves"]["teacher"]["2"] == pytest.approx(result.curves["teacher"][2], abs=1e-4)
    text = markdown_sweep(result)
    assert "### consistency student" in text and "### diffusion teacher" in text and "Extractor alone" in text

    pytest.importorskip("matplotlib")
    png = plot_sweep(result, tmp_path / "plots" / "sweep.png", title="tiny")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_samplers_follow_the_networks_present():
    model = random_model("tiny", segment_samples=4096)
    assert available_samplers(model) == ["consistency", "teacher"]
    model.teacher = None
    assert available_samplers(model) == ["consistency"]
    assert available_samplers(FilterBankModel()) == ["consistency", "teacher"]
    with pytest.raises(ConfigError, match="sampler"):
        run_sweep(FilterBankModel(), [small_chunk()], [0.1], [1], samplers=["heun"], settings=SMALL)


def test_missing_matplotlib_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "matplotlib.figure", raising=False)
    monkeypatch.delitem(sys.modules, "matplotlib.backends.backend_agg", raising=False)
    with pytest.raises(ConfigError, match="pip install"):
        import_matplotlib()


def test_a_masked_sweep_masks_every_point_and_the_extractor_line():
    from core.evaluation.protocol import evaluate
    from core.model import Preset

    model = random_model("tiny", segment_samples=4096)
    chunks = [small_chunk()]
    plain = run_sweep(model, chunks, grid=[0.01], steps=[1], samplers=["consistency"], settings=SMALL)
    masked = run_sweep(model, chunks, grid=[0.01], steps=[1], samplers=["consistency"], settings=SMALL, mask=True)
    assert masked.mask and not plain.mask and masked.to_dict()["mask"] is True
    reference = evaluate(model, chunks, [Preset("x", 0, 0.0, mask=True), Preset("y", 1, 0.01, mask=True)],
                         SMALL).table("active")
    assert masked.extractor == pytest.approx(reference["x"]["All"])
    assert masked.curves["consistency"][1][0] == pytest.approx(reference["y"]["All"])
    assert masked.extractor != pytest.approx(plain.extractor)
    assert "Extractor + ratio mask (draft)" in markdown_sweep(masked)
