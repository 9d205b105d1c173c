"""A run stopped and resumed ends bit-identical to one that never stopped (CPU)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal

import pytest
import torch
from tiny_runs import CPU, configure, factory, run
from toy_data import ToyStems

from core.errors import ConfigError
from core.training.checkpoint import load_checkpoint, save_checkpoint
from core.training.loop import train


def tensors(state, prefix=""):
    """Every tensor of a nested checkpoint, by path."""
    if isinstance(state, torch.Tensor):
        yield prefix, state
    elif isinstance(state, dict):
        for key, value in state.items():
            yield from tensors(value, f"{prefix}/{key}")
    elif isinstance(state, (list, tuple)):
        for index, value in enumerate(state):
            yield from tensors(value, f"{prefix}/{index}")


def assert_same_training_state(path_a, path_b):
    a, b = load_checkpoint(path_a), load_checkpoint(path_b)
    assert a["step"] == b["step"]
    for part in ("network", "ema", "optimizer"):
        tensors_a, tensors_b = dict(tensors(a[part])), dict(tensors(b[part]))
        assert tensors_a.keys() == tensors_b.keys()
        for name, value in tensors_a.items():
            assert torch.equal(value, tensors_b[name]), f"{part}{name} differs"
    assert a["ema"]["updates"] == b["ema"]["updates"]


def training_records(run_dir):
    lines = (run_dir / "log.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if json.loads(line)["event"] == "train"]


@pytest.mark.parametrize("stage_name", ["extractor", "diffusion", "distill"])
def test_stop_and_resume_is_bit_identical(tmp_path, stage_name):
    whole, pieces = tmp_path / "whole", tmp_path / "pieces"
    result = run(stage_name, whole, steps=6)
    assert result.step == 6 and result.resumed_from is None

    first = run(stage_name, pieces, steps=3)
    assert first.step == 3
    second = run(stage_name, pieces, steps=6)
    assert second.resumed_from == 3 and second.step == 6

    assert_same_training_state(whole / "checkpoint.pt", pieces / "checkpoint.pt")
    whole_log, pieces_log = training_records(whole), training_records(pieces)
    assert [r["step"] for r in pieces_log] == [1, 2, 3, 4, 5, 6]
    assert [r["loss"] for r in pieces_log] == [r["loss"] for r in whole_log]


def test_a_run_killed_between_checkpoints_resumes_from_the_last_one(tmp_path):
    """Simulate a kill at step 5 whose last checkpoint was step 3: the log lines of steps
    4-5 are dropped and the run redoes them identically."""
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run("extractor", whole, steps=6)
    run("extractor", killed, steps=3)
    shutil.copy(killed / "checkpoint.pt", tmp_path / "step3.pt")
    run("extractor", killed, steps=5)
    shutil.copy(tmp_path / "step3.pt", killed / "checkpoint.pt")  # what the kill left
    result = run("extractor", killed, steps=6)
    assert result.resumed_from == 3
    assert_same_training_state(whole / "checkpoint.pt", killed / "checkpoint.pt")
    assert [r["step"] for r in training_records(killed)] == [1, 2, 3, 4, 5, 6]


def test_resuming_with_other_weight_shaping_settings_is_refused(tmp_path):
    run("extractor", tmp_path, steps=2)
    with pytest.raises(ConfigError, match="batch"):
        run("extractor", tmp_path, steps=4, batch=4)
    # budgets and bookkeeping may change
    assert run("extractor", tmp_path, steps=3, validate_every=1).step == 3


def test_no_resume_starts_over(tmp_path):
    run("extractor", tmp_path, steps=3)
    result = run("extractor", tmp_path, steps=2, resume=False)
    assert result.step == 2 and result.resumed_from is None
    assert [r["step"] for r in training_records(tmp_path)] == [1, 2]
    assert json.loads((tmp_path / "config.json").read_text())["config"]["steps"] == 2


def test_config_is_written_before_the_first_step(tmp_path):
    resolved = configure("extractor", 1)

    class Exploding(ToyStems):
        def __getitem__(self, index):
            raise RuntimeError("data failed")

    with pytest.raises(RuntimeError, match="data failed"):
        train(factory("extractor", resolved), resolved, tmp_path, CPU,
              Exploding(resolved.segment_samples), None)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["stage"] == "extractor"
    assert stored["segment_samples"] == resolved.segment_samples
    assert stored["net"]["channels"] == resolved.net.channels
    assert not (tmp_path / "checkpoint.pt").exists()


def test_checkpoints_load_without_unpickling_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must not run",))

    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "step": Payload()}, path)
    with pytest.raises(ConfigError, match="not a readable training checkpoint"):
        load_checkpoint(path)


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"step": 1, "weights": torch.ones(3)})

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        save_checkpoint(path, {"step": 2, "weights": torch.zeros(3)})
    assert load_checkpoint(path)["step"] == 1


def test_time_budget_stops_the_run(tmp_path):
    resolved = configure("extractor", 1000)
    resolved = dataclasses.replace(
        resolved, config=dataclasses.replace(resolved.config, steps=None, minutes=0.0)
    )
    result = train(factory("extractor", resolved), resolved, tmp_path, CPU,
                   ToyStems(resolved.segment_samples), None)
    assert result.stopped == "minutes" and result.step == 0
    assert (tmp_path / "checkpoint.pt").exists()


def test_an_interrupt_finishes_the_step_saves_and_resumes_identically(tmp_path):
    """SIGINT (Ctrl-C) during step 3: the step completes, a checkpoint is written and the
    run reports "interrupted"; resuming ends where an uninterrupted run ends."""
    whole, interrupted = tmp_path / "whole", tmp_path / "interrupted"
    run("extractor", whole, steps=5)
    resolved = configure("extractor", 5)

    class InterruptOnce(ToyStems):
        def __getitem__(self, index):
            if index == 2 * 2:  # the first crop of step 3 (0-based step 2), batch 2
                os.kill(os.getpid(), signal.SIGINT)
            return super().__getitem__(index)

    segment = resolved.segment_samples
    result = train(factory("extractor", resolved), resolved, interrupted, CPU,
                   InterruptOnce(segment, seed=5), ToyStems(segment, seed=99))
    assert result.stopped == "interrupted" and result.step == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    assert run("extractor", interrupted, steps=5).resumed_from == 3
    assert_same_training_state(whole / "checkpoint.pt", interrupted / "checkpoint.pt")
