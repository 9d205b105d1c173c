"""Weight-space interpolation of a fine-tuned extractor (``export --interpolate-with``)."""

from __future__ import annotations

import pytest
import torch
from tiny_runs import run

from core.bundle import load_bundle
from core.errors import ConfigError
from core.manifest import read_manifest
from core.training.export import export_bundle
from core.training.runs import open_run
from core.training.weight_interpolation import interpolate_states


def states():
    generator = torch.Generator().manual_seed(3)
    tuned = {"w": torch.randn(4, 3, generator=generator), "n": torch.tensor(7)}
    start = {"w": torch.randn(4, 3, generator=generator), "n": torch.tensor(7)}
    return tuned, start


def test_the_ends_of_the_line_are_the_two_networks_and_the_middle_is_their_mean():
    tuned, start = states()
    assert torch.equal(interpolate_states(tuned, start, 1.0)["w"], tuned["w"])
    assert torch.equal(interpolate_states(tuned, start, 0.0)["w"], start["w"])
    middle = interpolate_states(tuned, start, 0.25)
    torch.testing.assert_close(middle["w"], 0.25 * tuned["w"] + 0.75 * start["w"])
    assert middle["n"].item() == 7


def test_a_half_precision_start_mixes_with_float32_weights_in_the_tuned_dtype():
    tuned = {"w": torch.tensor([1.0, 2.5])}
    start = {"w": torch.tensor([3.0, 0.5], dtype=torch.float16)}
    mixed = interpolate_states(tuned, start, 0.5)["w"]
    assert mixed.dtype == torch.float32
    assert mixed.tolist() == [2.0, 1.5]


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("n"), "differ in their parameters"),
    (lambda s: s.update(w=torch.zeros(3, 4)), "shape of w"),
    (lambda s: s.update(n=torch.tensor(8)), "non-float tensor n"),
])
def test_states_of_two_different_networks_are_refused(change, message):
    tuned, start = states()
    change(start)
    with pytest.raises(ConfigError, match=message):
        interpolate_states(tuned, start, 0.5)


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_a_weight_outside_zero_to_one_is_refused(weight):
    tuned, start = states()
    with pytest.raises(ConfigError, match="between 0 and 1"):
        interpolate_states(tuned, start, weight)


def test_export_writes_the_interpolated_extractor_and_records_the_source(tmp_path):
    run("extractor", tmp_path / "start", steps=1)
    run("extractor", tmp_path / "tuned", steps=3, init_from=str(tmp_path / "start"), seed=9)
    start = open_run(tmp_path / "start", "extractor").ema_state
    tuned = open_run(tmp_path / "tuned", "extractor").ema_state
    bundle = export_bundle(tmp_path / "tuned", None, tmp_path / "bundle", "tiny-test", fp16=False,
                           interpolate_with=tmp_path / "start", run_weight=0.5)
    exported = load_bundle(bundle).extractor.state_dict()
    moved = [name for name, value in tuned.items()
             if value.is_floating_point() and not torch.equal(value, start[name])]
    assert moved
    for name in moved:
        torch.testing.assert_close(exported[name], 0.5 * tuned[name] + 0.5 * start[name])
    record = read_manifest(bundle)["training_data"]["stages"]["extractor"]["interpolated_with"]
    assert record["source"] == str(tmp_path / "start")
    assert record["run_weight"] == 0.5
    assert record["source_record"]["steps"] == 1


def test_export_wants_both_interpolation_options_or_neither(tmp_path):
    run("extractor", tmp_path / "tuned", steps=1)
    with pytest.raises(ConfigError, match="go together"):
        export_bundle(tmp_path / "tuned", None, tmp_path / "bundle", "tiny-test", run_weight=0.5)
    assert not (tmp_path / "bundle").exists()


def test_exporting_refiners_with_an_interpolated_extractor_warns_that_they_learned_another(tmp_path, capsys):
    run("extractor", tmp_path / "start", steps=1)
    run("extractor", tmp_path / "tuned", steps=1, seed=9)
    run("distill", tmp_path / "student", steps=1)
    export_bundle(tmp_path / "tuned", tmp_path / "student", tmp_path / "bundle", "tiny-test", fp16=False,
                  interpolate_with=tmp_path / "start", run_weight=0.5)
    assert "retrain them on the exported bundle" in capsys.readouterr().err
