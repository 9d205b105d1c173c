"""Building an architecture's networks, and how a refiner is conditioned on its extractor.

The refiners (diffusion teacher, consistency student) are noise-conditioned U-Nets. What
they take from the frozen extractor depends on the extractor's kind, and is returned by
:func:`refiner_inputs` as keyword arguments of the refiner's forward (the same for
:class:`core.nn.unet.UNet` and the wrappers of :mod:`core.diffusion.preconditioning`):

- U-Net extractor (the paper): ``{"features": stages}``, its ``2n + 3`` stage activations,
  added element-wise at the refiner's matching stages (the last one is x_det itself,
  added at the refiner's output stage).
- Band-split extractor, or any other (an imported separator,
  :mod:`core.training.frozen_extractor`): ``{"condition": x_det}``: x_det ``(B, 1, L)`` is
  concatenated to the refiner's input as a second channel (its U-Net has
  ``condition_channels = 1``).
  Its time-frequency activations ``(B, K, T, D)`` do not match any U-Net stage shape,
  so the refiner does not see them; a learned projection per stage would be the way to
  add them (not done).

In both cases the mixture is added at the refiner's input (``mixture=``), as in the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from core.nn.architectures import Architecture, refiner_config
from core.nn.bandsplit import BandSplitNet
from core.nn.bandsplit_config import BandSplitConfig
from core.nn.unet import UNet

Conditioning = dict[str, object]
"""Keyword arguments of a refiner's forward: ``features`` (a list of tensors) or
``condition`` (a tensor)."""


def build_extractor(architecture: Architecture) -> nn.Module:
    """A fresh extractor network (not noise-conditioned) of ``architecture``."""
    if isinstance(architecture, BandSplitConfig):
        return BandSplitNet(architecture)
    return UNet(architecture, noise_conditioned=False)


def build_refiner(architecture: Architecture) -> UNet:
    """A fresh refiner U-Net (noise-conditioned) for an extractor of ``architecture``."""
    return UNet(refiner_config(architecture), noise_conditioned=True)


def refiner_inputs(
    extractor: nn.Module, mixture: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, Conditioning]:
    """Run the extractor: ``mixture (B, 1, L)``, ``labels (B,)`` -> ``x_det (B, 1, L)`` and
    the refiner's conditioning keyword arguments (module doc)."""
    if isinstance(extractor, UNet):
        x_det, stages = extractor(mixture, labels, return_features=True)
        return x_det, {"features": stages}
    x_det = extractor(mixture, labels)
    return x_det, {"condition": x_det}


def repeat_conditioning(conditioning: Conditioning, times: int) -> Conditioning:
    """The conditioning of a batch repeated ``times`` times along the batch dimension (for
    a forward pass over ``torch.cat([batch] * times)``)."""
    repeated: Conditioning = {}
    for name, value in conditioning.items():
        if isinstance(value, torch.Tensor):
            repeated[name] = torch.cat([value] * times)
        else:
            repeated[name] = [torch.cat([item] * times) for item in value]
    return repeated
