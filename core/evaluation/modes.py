"""The rows ``stemforge eval`` scores: a model's presets by name, ``NAME:nomask``, and ``teacher:N``.

``--modes draft,fast,teacher:8`` becomes a list of :class:`~core.model.Preset`: each
name must be in the model's presets table; ``teacher:N`` runs the diffusion teacher for
N Euler steps from ``x_det + sigma_max * z``, with ``sigma_max`` from ``--teacher-sigma-max``,
else the bundle's first teacher preset, else :data:`FALLBACK_TEACHER_SIGMA_MAX`.
``NAME:nomask`` is the preset ``NAME`` without its ratio mask (:attr:`Preset.mask`), to
measure what the mask adds on the same windows.
"""

from __future__ import annotations

import re
from dataclasses import replace

from core.errors import ConfigError
from core.model import Preset, StemModel

TEACHER_PREFIX = "teacher:"
NO_MASK_SUFFIX = ":nomask"

FALLBACK_TEACHER_SIGMA_MAX = 0.01
"""Teacher start noise when the bundle has no teacher preset (paper: 0.001-0.01)."""


def parse_modes(text: str, model: StemModel, teacher_sigma_max: float) -> list[Preset]:
    """Turn ``"draft,fast,teacher:8"`` into presets of ``model``.

    A preset name must be in the model's presets table; ``teacher:N`` runs the diffusion
    teacher for N Euler steps from ``x_det + teacher_sigma_max * z``.
    """
    modes: list[Preset] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.startswith(TEACHER_PREFIX):
            steps = part[len(TEACHER_PREFIX):]
            if not re.fullmatch(r"[1-9][0-9]*", steps):
                raise ConfigError(f"bad mode {part!r}: write teacher:N with N >= 1 Euler steps")
            modes.append(teacher_preset(int(steps), teacher_sigma_max))
        elif part in model.presets:
            modes.append(model.presets[part])
        elif part.endswith(NO_MASK_SUFFIX) and part[: -len(NO_MASK_SUFFIX)] in model.presets:
            base = model.presets[part[: -len(NO_MASK_SUFFIX)]]
            if not base.mask:
                raise ConfigError(f"bad mode {part!r}: preset {base.name!r} has no ratio mask to leave out")
            modes.append(replace(base, name=part, mask=False, gain_db=None))
        else:
            raise ConfigError(
                f"unknown mode {part!r}; choose from {', '.join(model.presets)}, NAME{NO_MASK_SUFFIX} "
                "or teacher:N"
            )
    if not modes:
        raise ConfigError("no evaluation mode given")
    names = [m.name for m in modes]
    if len(set(names)) != len(names):
        raise ConfigError(f"a mode is listed twice: {','.join(names)}")
    return modes


def teacher_preset(steps: int, sigma_max: float) -> Preset:
    """The diffusion teacher with ``steps`` Euler steps (the CLI's "reference" quality)."""
    return Preset(f"{TEACHER_PREFIX}{steps}", steps, sigma_max, sampler="teacher")


def teacher_sigma_max(model: StemModel, requested: float | None) -> float:
    """``requested``, else the sigma_max of the model's first teacher preset, else the fallback."""
    if requested is not None:
        return requested
    for preset in model.presets.values():
        if preset.sampler == "teacher" and preset.sigma_max > 0:
            return preset.sigma_max
    return FALLBACK_TEACHER_SIGMA_MAX
