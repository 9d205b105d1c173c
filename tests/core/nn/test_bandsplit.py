"""The band-split extractor: shapes, exact lengths, label conditioning, its configuration,
and the refiner input it gives (x_det as a conditioning channel)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from core.errors import ConfigError
from core.nn.architectures import (
    ARCHITECTURES,
    architecture_from_dict,
    get_architecture,
    refiner_config,
)
from core.nn.bandsplit import BandSplitNet
from core.nn.bandsplit_config import BANDSPLIT_CONFIGS, BandSplitConfig
from core.nn.extractors import build_extractor, build_refiner, refiner_inputs, repeat_conditioning
from core.nn.unet import UNet, count_parameters


@pytest.fixture
def tiny() -> BandSplitConfig:
    return get_architecture("bandsplit-tiny")


def randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """The network with every parameter drawn at random (a fresh one outputs silence)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))
    return net


@pytest.mark.parametrize("length", [4096, 1000, 777])
def test_the_output_has_exactly_the_input_length(tiny, length):
    net = randomised(BandSplitNet(tiny))
    x = torch.randn(2, 1, length)
    out, activations = net(x, torch.tensor([0, 3]), return_features=True)
    assert out.shape == (2, 1, length) and torch.isfinite(out).all()
    frames = length // tiny.hop_length + 1
    assert [tuple(a.shape) for a in activations] == [(2, tiny.num_bands, frames, tiny.features)] * tiny.layers


def test_a_fresh_network_outputs_silence_and_the_label_matters_once_trained(tiny):
    torch.manual_seed(0)
    net = BandSplitNet(tiny)
    x = torch.randn(2, 1, 2048)
    assert torch.count_nonzero(net(x, torch.tensor([0, 1]))) == 0
    randomised(net)
    same = torch.cat([x[:1], x[:1]])
    out = net(same, torch.tensor([0, 2]))
    assert not torch.allclose(out[0], out[1], atol=1e-4)


def test_a_unit_mask_gives_back_the_mixture(tiny):
    """With the mask forced to 1 the iSTFT must reconstruct the input (exact length, no
    shift): the STFT/iSTFT pair the mask sits between is transparent."""
    net = BandSplitNet(tiny)
    for head in net.mask.heads:
        head[-1].bias.data.view(-1, 2)[:, 0] = 1.0
    x = torch.randn(1, 1, 3000)
    assert torch.allclose(net(x, torch.tensor([1])), x, atol=1e-4)


def test_named_configs_are_consistent_and_round_trip():
    for name, config in BANDSPLIT_CONFIGS.items():
        assert sum(config.band_widths) == config.n_fft // 2 + 1, name
        assert config.segment_samples % config.hop == 0, name
        assert config.segment_samples % config.refiner.hop == 0, name
        assert architecture_from_dict(config.to_dict()) == config, name
        assert ARCHITECTURES[name] is config
        assert refiner_config(config) == dataclasses.replace(config.refiner)
    lite = get_architecture("lite")
    assert architecture_from_dict(lite.to_dict()) == lite and refiner_config(lite) is lite


def test_bad_configs_are_refused(tiny):
    with pytest.raises(ConfigError, match="sum to n_fft / 2 \\+ 1 = 129"):
        dataclasses.replace(tiny, band_widths=(64, 64))
    with pytest.raises(ConfigError, match="condition_channels = 1"):
        dataclasses.replace(tiny, refiner=get_architecture("tiny"))
    with pytest.raises(ConfigError, match="unknown band-split configuration keys: width"):
        BandSplitConfig.from_dict({**tiny.to_dict(), "width": 3})


def test_parameter_counts_of_the_named_configs():
    with torch.device("meta"):
        lite = count_parameters(build_extractor(get_architecture("bandsplit-lite")))
        tiny = count_parameters(build_extractor(get_architecture("bandsplit-tiny")))
    assert 2e5 < lite < 1e6 and tiny < 5e4


def test_the_refiner_takes_x_det_as_its_conditioning_channel(tiny):
    torch.manual_seed(1)
    extractor = randomised(build_extractor(tiny))
    refiner = randomised(build_refiner(tiny), seed=2)
    assert isinstance(refiner, UNet) and refiner.noise_conditioned
    mixture, labels = torch.randn(2, 1, tiny.segment_samples), torch.tensor([0, 1])
    x_det, conditioning = refiner_inputs(extractor, mixture, labels)
    assert set(conditioning) == {"condition"} and conditioning["condition"] is x_det
    noisy, c_noise = torch.randn_like(mixture), torch.zeros(2)
    out = refiner(noisy, labels, c_noise=c_noise, mixture=mixture, **conditioning)
    other = refiner(noisy, labels, c_noise=c_noise, mixture=mixture, condition=x_det + 0.5)
    assert out.shape == mixture.shape and not torch.allclose(out, other)
    with pytest.raises(ValueError, match="needs a condition"):
        refiner(noisy, labels, c_noise=c_noise, mixture=mixture)


def test_conditioning_repeats_along_the_batch(tiny):
    x = torch.randn(2, 1, 8)
    assert torch.equal(repeat_conditioning({"condition": x}, 2)["condition"], torch.cat([x, x]))
    features = repeat_conditioning({"features": [x, 2 * x]}, 3)["features"]
    assert [f.shape[0] for f in features] == [6, 6] and torch.equal(features[1][4:], 2 * x)
