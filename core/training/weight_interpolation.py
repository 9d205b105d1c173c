"""Weight-space interpolation of a fine-tuned extractor with the weights it started from.

    theta = w * theta_tuned + (1 - w) * theta_start,   0 <= w <= 1

(WiSE-FT: Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022). A network
fine-tuned from ``theta_start`` stays in the same basin, so the straight line between the two
holds working networks; part-way along it the fine-tune's gains on the new data are kept
while what it cost on data it no longer sees (issue 28: held-out guitar timbres of songs
without non-target parts) is partly given back. ``stemforge export --interpolate-with SOURCE
--run-weight W`` writes such an extractor; the bundle's manifest records the source and W.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from core.errors import ConfigError


def interpolate_states(
    tuned: Mapping[str, torch.Tensor], start: Mapping[str, torch.Tensor], run_weight: float
) -> dict[str, torch.Tensor]:
    """``run_weight * tuned + (1 - run_weight) * start``, tensor by tensor.

    Floating-point tensors are mixed in float32 and returned in ``tuned``'s dtype; other
    tensors (integer counters, masks) must be equal in both and are kept.

    Args:
        tuned: the fine-tuned network's state dict.
        start: a state dict of the same network (same keys, same shapes).
        run_weight: ``w`` in [0, 1]; 1 returns ``tuned``, 0 returns ``start``.

    Raises:
        ConfigError: ``w`` outside [0, 1], or the two states are not of one network.
    """
    if not 0.0 <= run_weight <= 1.0:
        raise ConfigError(f"--run-weight must be between 0 and 1, not {run_weight}")
    if set(tuned) != set(start):
        differing = sorted(set(tuned) ^ set(start))
        raise ConfigError(f"the two networks differ in their parameters ({', '.join(differing[:3])}...)")
    mixed = {}
    for key, value in tuned.items():
        other = start[key]
        if value.shape != other.shape:
            raise ConfigError(f"the two networks differ in the shape of {key}: "
                              f"{tuple(value.shape)} and {tuple(other.shape)}")
        if value.is_floating_point():
            blend = run_weight * value.float() + (1.0 - run_weight) * other.float()
            mixed[key] = blend.to(value.dtype)
        elif torch.equal(value, other.to(value.dtype)):
            mixed[key] = value.clone()
        else:
            raise ConfigError(f"the two networks differ in the non-float tensor {key}")
    return mixed
