"""Tiny training runs on the toy data, shared by the resume and DDP tests (and the DDP
worker script): the same configuration, frozen networks and datasets everywhere."""

from __future__ import annotations

import torch
from toy_data import ToyStems

from core.nn.unet import UNet
from core.training.config import ExtractorConfig
from core.training.diffusion import DiffusionStage
from core.training.distill import DistillStage
from core.training.distributed import Distributed
from core.training.extractor import ExtractorStage
from core.training.loop import train
from core.training.refiner_config import DiffusionConfig, DistillConfig
from core.training.resolved import resolve

CPU = Distributed(rank=0, world_size=1, device=torch.device("cpu"))
SEGMENT = 256 / 22050


def configure(stage_name: str, steps: int, **changes):
    """A resolved ``tiny`` configuration of 256-sample crops, batch 2, one log line per step."""
    common = dict(data="-", net="tiny", segment_seconds=SEGMENT, batch=2, steps=steps,
                  minutes=None, log_every=1, validate_every=2, validation_crops=2,
                  checkpoint_minutes=60.0, seed=5)
    common.update(changes)
    if stage_name == "extractor":
        return resolve(ExtractorConfig(**common))
    if stage_name == "diffusion":
        return resolve(DiffusionConfig(extractor="-", **common))
    return resolve(DistillConfig(extractor="-", teacher="-", k_max=3, **common))


def factory(stage_name: str, resolved):
    """``build() -> Stage`` on the CPU; the frozen extractor and teacher are random
    networks seeded apart from the run's seed (the same in every run)."""
    def build():
        if stage_name == "extractor":
            return ExtractorStage(resolved, CPU.device)
        generator_state = torch.get_rng_state()
        torch.manual_seed(100)  # the frozen networks: the same in every run
        extractor = UNet(resolved.net, noise_conditioned=False)
        teacher = UNet(resolved.net, noise_conditioned=True)
        torch.set_rng_state(generator_state)
        if stage_name == "diffusion":
            return DiffusionStage(resolved, extractor, CPU.device)
        return DistillStage(resolved, extractor, teacher, CPU.device)

    return build


def run(stage_name: str, run_dir, steps: int, resume: bool = True, **changes):
    """Train (or resume) a tiny run of ``stage_name`` in ``run_dir`` up to ``steps``."""
    resolved = configure(stage_name, steps, **changes)
    segment = resolved.segment_samples
    return train(factory(stage_name, resolved), resolved, run_dir, CPU,
                 ToyStems(segment, seed=5), ToyStems(segment, seed=99), resume=resume)
