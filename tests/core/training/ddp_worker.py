"""Launched by test_training_ddp.py through ``python -m torch.distributed.run``.

Trains each stage for a few steps of the ``tiny`` configuration in the run folders
``OUT/{stage}`` with this process's rank, then saves this rank's final weights to
``OUT/{stage}-rank{R}.pt`` so the test can compare the ranks.

Usage: ``ddp_worker.py OUT STEPS``
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from tiny_runs import configure, factory  # noqa: E402
from toy_data import ToyStems  # noqa: E402

from core.training.distributed import setup, teardown  # noqa: E402
from core.training.loop import train  # noqa: E402


def main() -> None:
    out, steps = Path(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(1)
    context = setup("cpu")
    try:
        for stage_name in ("extractor", "diffusion", "distill"):
            resolved = configure(stage_name, steps, batch=4, validate_every=steps)
            resolved = type(resolved)(resolved.config, resolved.net, resolved.segment_samples,
                                      context.world_size)
            built = {}

            def build(stage_name=stage_name, resolved=resolved, built=built):
                built["stage"] = factory(stage_name, resolved)()
                return built["stage"]

            segment = resolved.segment_samples
            result = train(build, resolved, out / stage_name, context,
                           ToyStems(segment, seed=5), ToyStems(segment, seed=99))
            state = {k: v.clone() for k, v in built["stage"].network.state_dict().items()}
            torch.save({"step": result.step, "network": state},
                       out / f"{stage_name}-rank{context.rank}.pt")
    finally:
        teardown(context)


if __name__ == "__main__":
    main()
