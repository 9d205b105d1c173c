"""The diffusion constants of the method (core/METHOD.md sections 4-5), without torch.

Everything that needs them imports them from here: the preconditioning, the schedules
and samplers, the training defaults (whose module, and with it ``stemforge --help``,
must not import torch) and the bundle's default ``diffusion`` table.
"""

SIGMA_DATA = 0.2
"""Standard deviation of the data the preconditioning assumes (stems at waveform scale)."""

SIGMA_MIN = 1e-4
"""Lowest noise level of every schedule; also the consistency boundary eps."""

RHO = 9.0
"""Karras schedule curvature used throughout the method (teacher, distillation, sampling)."""
