"""Two gloo processes launched by torchrun train every stage to identical weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_runs import run as run_single

from core.training.checkpoint import load_checkpoint

WORKER = Path(__file__).parent / "ddp_worker.py"
STEPS = 3


@pytest.mark.slow  # three Python processes importing torch: 15-35 s on 2 cores
def test_two_gloo_processes_train_every_stage_identically(tmp_path):
    repository = Path(__file__).resolve().parents[3]
    env = dict(os.environ, PYTHONPATH=str(repository), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nnodes", "1", "--nproc_per_node", "2", str(WORKER), str(tmp_path), str(STEPS)]
    finished = subprocess.run(command, env=env, cwd=repository, capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]

    for stage in ("extractor", "diffusion", "distill"):
        rank0 = torch.load(tmp_path / f"{stage}-rank0.pt", weights_only=True)
        rank1 = torch.load(tmp_path / f"{stage}-rank1.pt", weights_only=True)
        assert rank0["step"] == rank1["step"] == STEPS
        for name, value in rank0["network"].items():
            assert torch.equal(value, rank1["network"][name]), f"{stage}: {name} differs between ranks"
        # rank 0 alone wrote the run folder: one checkpoint, one log line per step
        checkpoint = load_checkpoint(tmp_path / stage / "checkpoint.pt")
        assert checkpoint["step"] == STEPS
        records = [json.loads(line) for line in (tmp_path / stage / "log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in records if r["event"] == "train"] == list(range(1, STEPS + 1))
        assert json.loads((tmp_path / stage / "config.json").read_text())["world_size"] == 2

    # Two processes with 2 crops each see the same 4 crops per step as one process with 4:
    # the averaged gradients, hence the weights, agree up to float rounding.
    run_single("extractor", tmp_path / "single", steps=STEPS, batch=4, validate_every=STEPS)
    single = load_checkpoint(tmp_path / "single" / "checkpoint.pt")["network"]
    distributed = torch.load(tmp_path / "extractor-rank0.pt", weights_only=True)["network"]
    for name, value in single.items():
        torch.testing.assert_close(distributed[name], value, rtol=0, atol=1e-5, msg=name)
