"""Ratio-mask resynthesis: masks of the estimates' own magnitudes applied to the mixture."""

import pytest
import torch

from core.ratio_mask import MASK_FFT, MASK_HOP, ratio_mask_resynthesis

LENGTH = 8192
INNER = slice(MASK_FFT, LENGTH - MASK_FFT)  # away from the segment's edges


def tone(freq: float, length: int = LENGTH, rate: int = 22050, amplitude: float = 0.3) -> torch.Tensor:
    return amplitude * torch.sin(2 * torch.pi * freq * torch.arange(length) / rate)


def noise(seed: int, length: int = LENGTH) -> torch.Tensor:
    return 0.1 * torch.randn(length, generator=torch.Generator().manual_seed(seed))


def test_estimates_that_are_already_shares_of_the_mixture_come_back_unchanged():
    mix = noise(0)[None]
    shares = torch.stack([0.5 * mix[0], 0.2 * mix[0], 0.1 * mix[0]])[None]  # claim 80 %, the rest is nobody's
    torch.testing.assert_close(ratio_mask_resynthesis(shares, mix), shares, rtol=1e-4, atol=1e-6)


def test_over_claiming_stems_share_the_mixture_in_their_proportions():
    mix = noise(1)[None]
    claimed = torch.stack([0.9 * mix[0], 0.6 * mix[0]])[None]  # 150 % of the mixture
    expected = torch.stack([0.6 * mix[0], 0.4 * mix[0]])[None]
    torch.testing.assert_close(ratio_mask_resynthesis(claimed, mix), expected, rtol=1e-4, atol=1e-6)


def test_a_tone_the_mixture_does_not_have_is_removed():
    """An estimate = its true source + a tone absent from the mixture (like a network's
    response to silence): the mask has nothing to give the tone."""
    bass = tone(110.0)
    estimate = (bass + 0.1 * tone(4000.0))[None, None]
    rebuilt = ratio_mask_resynthesis(estimate, bass[None])
    error_before = (estimate[0, 0, INNER] - bass[INNER]).pow(2).mean()
    error_after = (rebuilt[0, 0, INNER] - bass[INNER]).pow(2).mean()
    assert error_after < 1e-3 * error_before


def test_what_no_stem_claims_stays_out_of_the_stems():
    """A voice in the mixture that no requested stem claims stays for `other`."""
    bass, voice = tone(110.0), tone(1000.0)
    rebuilt = ratio_mask_resynthesis(bass[None, None].clone(), (bass + voice)[None])
    leak = (rebuilt[0, 0, INNER] - bass[INNER]).pow(2).mean() / voice[INNER].pow(2).mean()
    assert leak < 1e-3


def test_masks_do_not_depend_on_level_or_polarity_and_silence_stays_silent():
    mix = torch.stack([noise(2, 6000), noise(3, 6000)])
    estimates = torch.stack([0.6 * mix, 0.3 * mix + 0.1 * torch.stack([noise(4, 6000), noise(5, 6000)])], dim=1)
    rebuilt = ratio_mask_resynthesis(estimates, mix)
    assert rebuilt.shape == estimates.shape and rebuilt.dtype == estimates.dtype
    assert not torch.allclose(rebuilt, estimates, atol=1e-3)
    torch.testing.assert_close(ratio_mask_resynthesis(0.01 * estimates, 0.01 * mix), 0.01 * rebuilt,
                               rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(ratio_mask_resynthesis(-estimates, -mix), -rebuilt)
    silent = ratio_mask_resynthesis(torch.zeros(1, 3, 4096), torch.zeros(1, 4096))
    assert torch.equal(silent, torch.zeros(1, 3, 4096))


@pytest.mark.parametrize("length", [40, 700])
def test_short_segments_use_a_shorter_frame(length):
    mix = noise(6, length)[None]
    shares = torch.stack([0.5 * mix[0], 0.5 * mix[0]])[None]
    rebuilt = ratio_mask_resynthesis(shares, mix)
    assert rebuilt.shape == (1, 2, length)
    torch.testing.assert_close(rebuilt, shares, rtol=1e-4, atol=1e-5)


def test_the_hop_is_a_quarter_frame():
    assert MASK_HOP * 4 == MASK_FFT
