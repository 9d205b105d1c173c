"""The mixer baseline: 24 parameters on the extractor's four estimates and the mix."""

from __future__ import annotations

import json

import torch
from tiny_runs import CPU, SEGMENT
from toy_data import ToyStems

from core.nn.unet import UNet
from core.training.batches import Batch, StepGenerators, collate
from core.training.loop import make_optimizer, train
from core.training.mixer import MixerNet, MixerStage, every_estimate
from core.training.refiner_config import MixerConfig
from core.training.resolved import resolve


def mixer_stage(seed: int = 100):
    resolved = resolve(MixerConfig(data="-", extractor="-", net="tiny", segment_seconds=SEGMENT, batch=4,
                                   steps=6, minutes=None, lr=1e-2, log_every=1, validate_every=3,
                                   validation_crops=4, checkpoint_minutes=60.0, seed=5))
    torch.manual_seed(seed)
    extractor = UNet(resolved.net, noise_conditioned=False)
    return MixerStage(resolved, extractor, CPU.device), resolved


def toy_batch(resolved) -> Batch:
    dataset = ToyStems(resolved.segment_samples, seed=5)
    return Batch.from_items(collate([dataset[i] for i in range(4)]), torch.device("cpu"))


def test_an_untrained_mixer_is_the_extractor():
    stage, resolved = mixer_stage()
    batch = toy_batch(resolved)
    x_det, _ = stage.extractor(batch)
    estimates = every_estimate(stage.extractor, batch, 4)
    assert estimates.shape == (4, 4, resolved.segment_samples)
    torch.testing.assert_close(estimates[torch.arange(4), batch.labels][:, None], x_det)
    assert torch.equal(stage.network(estimates, batch.mixture, batch.labels), x_det)
    assert sum(p.numel() for p in MixerNet().parameters()) == 24


def test_the_mixer_learns_to_move_energy_between_stems():
    stage, resolved = mixer_stage()
    batch = toy_batch(resolved)
    optimizer = make_optimizer(stage.network.parameters(), resolved)
    generators = StepGenerators.create(torch.device("cpu"))
    losses = []
    for _ in range(30):
        loss, _ = stage.loss(stage.network, stage.network, batch, generators)
        losses.append(float(loss.detach()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < 0.9 * losses[0], losses
    assert not torch.equal(stage.network.weight[:, :4], torch.eye(4))


def test_validation_of_an_untrained_mixer_equals_the_extractors_on_the_same_crops():
    from core.training.validation import validate

    stage, resolved = mixer_stage()
    scores = validate(stage, stage.network, [toy_batch(resolved)], seed=5, device=torch.device("cpu"))
    assert scores["val_si_sdri"] == scores["val_extractor_si_sdri"]


def test_a_mixer_run_trains_validates_and_writes_its_folder(tmp_path):
    stage, resolved = mixer_stage()
    dataset, validation = ToyStems(resolved.segment_samples, seed=5), ToyStems(resolved.segment_samples, seed=99)
    result = train(lambda: stage, resolved, tmp_path / "mixer", CPU, dataset, validation)
    assert result.step == 6 and "val_si_sdri" in result.metrics
    # refiner-like stages report the extractor alone on the same crops, the figure to beat
    assert "val_extractor_si_sdri" in result.metrics
    config = json.loads((tmp_path / "mixer" / "config.json").read_text())
    assert config["stage"] == "mixer" and config["config"]["extractor"] == "-"
