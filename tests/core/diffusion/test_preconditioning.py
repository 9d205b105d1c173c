"""EDM and consistency preconditioning: identities, boundary condition, clamp."""

import pytest
import torch

from core.diffusion.preconditioning import (
    SIGMA_DATA,
    ConsistencyDenoiser,
    EDMDenoiser,
    c_noise,
    consistency_coefficients,
    edm_coefficients,
    edm_loss_weight,
)
from core.nn.config import get_config
from core.nn.unet import UNet

SIGMAS = torch.tensor([1e-4, 1e-3, 0.0124, 0.2, 0.25, 1.0, 10.0], dtype=torch.float64)


def test_edm_coefficients_identities():
    c_skip, c_out, c_in = edm_coefficients(SIGMAS)
    sd = SIGMA_DATA
    torch.testing.assert_close(c_skip, sd**2 / (SIGMAS**2 + sd**2))
    # unit-variance training target: c_skip + c_out^2 / sd^2 = 1, c_in^2 (s^2 + sd^2) = 1
    torch.testing.assert_close(c_skip + c_out**2 / sd**2, torch.ones_like(SIGMAS))
    torch.testing.assert_close(c_in**2 * (SIGMAS**2 + sd**2), torch.ones_like(SIGMAS))
    # loss weight = 1 / c_out^2
    torch.testing.assert_close(edm_loss_weight(SIGMAS), 1 / c_out**2)
    torch.testing.assert_close(c_noise(SIGMAS), SIGMAS.log() / 4)


def test_consistency_coefficients_meet_the_boundary_and_approach_edm():
    c_skip, c_out, c_in = consistency_coefficients(torch.tensor([1e-4]))
    assert c_skip.item() == 1.0 and c_out.item() == 0.0
    big = torch.tensor([10.0], dtype=torch.float64)
    for a, b in zip(consistency_coefficients(big), edm_coefficients(big), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=0)


@pytest.fixture
def refiner():
    torch.manual_seed(0)
    net = UNet(get_config("tiny"), noise_conditioned=True)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


def test_consistency_function_is_the_identity_at_eps_exactly(refiner):
    f = ConsistencyDenoiser(refiner)
    length = get_config("tiny").segment_samples
    x = 3 * torch.randn(4, 1, length)  # even outside [-1, 1]
    labels, mix = torch.tensor([0, 1, 2, 3]), torch.randn(4, 1, length)
    assert torch.equal(f(x, 1e-4, labels, mixture=mix), x)
    assert torch.equal(f(x, torch.full((4,), 1e-4), labels), x)
    assert not torch.allclose(f(x, 0.5, labels), x)


def test_edm_denoiser_is_clamped_and_uses_the_coefficients(refiner):
    length = get_config("tiny").segment_samples
    x = 5 * torch.randn(2, 1, length)
    labels, sigma = torch.tensor([0, 1]), torch.tensor([0.3, 2.0])
    clamped = EDMDenoiser(refiner)(x, sigma, labels)
    assert clamped.abs().max() <= 1.0
    raw = EDMDenoiser(refiner, clamp=False)(x, sigma, labels)
    s = sigma.reshape(-1, 1, 1)
    c_skip, c_out, c_in = edm_coefficients(s)
    expected = c_skip * x + c_out * refiner(c_in * x, labels, c_noise=c_noise(sigma))
    torch.testing.assert_close(raw, expected)
    torch.testing.assert_close(clamped, expected.clamp(-1, 1))


def test_wrappers_refuse_an_extractor():
    with pytest.raises(ValueError, match="noise-conditioned"):
        EDMDenoiser(UNet(get_config("tiny")))
