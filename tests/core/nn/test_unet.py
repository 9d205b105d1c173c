"""The U-Net: shapes for every config, the paper's size, stage activations and injection."""

import pytest
import torch

from core.nn.config import CONFIGS, get_config
from core.nn.unet import UNet, count_parameters


def trained_like(net: UNet, seed: int = 0) -> UNet:
    """Perturb every parameter (fresh blocks start as identities) so all paths carry signal."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return net


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return get_config("tiny")


def test_paper_config_has_about_405_million_parameters():
    with torch.device("meta"):
        extractor = UNet(get_config("paper"))
        refiner = UNet(get_config("paper"), noise_conditioned=True)
    count = count_parameters(extractor)
    assert abs(count - 405e6) / 405e6 < 0.02, count
    assert count_parameters(refiner) == count  # the Fourier frequencies are a fixed buffer


@pytest.mark.parametrize("batch, hops", [(1, 1), (3, 2)])
def test_tiny_shapes(tiny, batch, hops):
    net = UNet(tiny)
    x = torch.randn(batch, 1, hops * tiny.hop)
    assert net(x, torch.zeros(batch, dtype=torch.long)).shape == x.shape


def test_lite_runs_on_one_hop():
    lite = get_config("lite")
    net = UNet(lite, noise_conditioned=True).eval()
    x = torch.randn(1, 1, lite.hop)
    with torch.inference_mode():
        out, stages = net(x, torch.tensor([2]), c_noise=torch.tensor([0.1]), return_features=True)
    assert out.shape == x.shape
    assert [tuple(s.shape[1:]) for s in stages] == lite.stage_shapes(lite.hop)
    assert len(stages) == 15
    assert 5e6 < count_parameters(net) < 6.5e6  # 2 networks in fp16 stay under ~25 MB


def test_every_named_config_builds_with_matching_stage_count():
    for name, config in CONFIGS.items():
        with torch.device("meta"):
            net = UNet(config)
        assert len(net.encoder) == len(net.decoder) == config.depth, name


def test_extractor_returns_its_stage_activations(tiny):
    net = UNet(tiny)
    x = torch.randn(2, 1, tiny.segment_samples)
    out, stages = net(x, torch.tensor([0, 3]), return_features=True)
    assert len(stages) == tiny.num_stages
    assert [tuple(s.shape) for s in stages] == [(2, *shape) for shape in tiny.stage_shapes(x.shape[-1])]
    assert torch.equal(stages[-1], out)


def test_features_are_added_at_the_matching_stage(tiny):
    net = trained_like(UNet(tiny, noise_conditioned=True))
    x, labels, c = torch.randn(2, 1, tiny.segment_samples), torch.tensor([1, 2]), torch.tensor([0.3, -1.0])
    plain, stages = net(x, labels, c_noise=c, return_features=True)
    zeros = [torch.zeros_like(s) for s in stages]
    assert torch.equal(net(x, labels, c_noise=c, features=zeros), plain)
    for k in range(tiny.num_stages):
        delta = [torch.zeros_like(s) for s in stages]
        delta[k] = torch.randn_like(stages[k])
        out, injected = net(x, labels, c_noise=c, features=delta, return_features=True)
        for j in range(k):  # earlier stages do not see it
            torch.testing.assert_close(injected[j], stages[j])
        torch.testing.assert_close(injected[k], stages[k] + delta[k])
        assert not torch.allclose(out, plain), f"injection at stage {k} had no effect"


def test_wrong_feature_count_or_length_is_refused(tiny):
    net = UNet(tiny)
    x = torch.randn(1, 1, tiny.segment_samples)
    with pytest.raises(ValueError, match="features"):
        net(x, torch.tensor([0]), features=[torch.zeros(1)])
    with pytest.raises(ValueError, match="multiple"):
        net(torch.randn(1, 1, tiny.hop + 1), torch.tensor([0]))


def test_mixture_is_added_at_the_input(tiny):
    net = trained_like(UNet(tiny, noise_conditioned=True))
    x, mix = torch.randn(2, 1, tiny.segment_samples), torch.randn(2, 1, tiny.segment_samples)
    labels, c = torch.tensor([0, 1]), torch.tensor([0.0, 0.5])
    torch.testing.assert_close(net(x, labels, c_noise=c, mixture=mix), net(x + mix, labels, c_noise=c))


def test_noise_level_conditioning(tiny):
    refiner = trained_like(UNet(tiny, noise_conditioned=True))
    x, labels = torch.randn(1, 1, tiny.segment_samples), torch.tensor([0])
    with pytest.raises(ValueError, match="c_noise"):
        refiner(x, labels)
    a = refiner(x, labels, c_noise=torch.tensor([-2.0]))
    b = refiner(x, labels, c_noise=torch.tensor([0.5]))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="not noise-conditioned"):
        UNet(tiny)(x, labels, c_noise=torch.tensor([0.0]))


def test_label_changes_the_output(tiny):
    net = trained_like(UNet(tiny))
    x = torch.randn(1, 1, tiny.segment_samples).expand(2, 1, -1)
    out = net(x, torch.tensor([0, 1]))
    assert not torch.allclose(out[0], out[1])


def test_gradients_reach_every_parameter(tiny):
    net = trained_like(UNet(tiny, noise_conditioned=True))
    x = torch.randn(2, 1, tiny.segment_samples)
    net(x, torch.tensor([0, 1]), c_noise=torch.tensor([0.1, 0.2])).square().mean().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing
