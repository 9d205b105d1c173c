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

RESIDUAL_SIGMA_DATA = 0.05
"""Standard deviation the preconditioning assumes for the extractor's error ``x - x_det``
when the refiner is anchored at x_det (core/METHOD.md section 4a). Measured on the
extractor of the 65-minute A/B (lite, MSE, rec1000): the error's RMS over 48 training
crops of 3 s has median 0.053 and mean 0.057, against 0.064 for the stems themselves."""

ANCHORS = ("zero", "x_det")
"""What a refiner denoises around: ``zero`` is the paper's (the stem itself), ``x_det``
the extractor's estimate (the refiner learns the extractor's error)."""

ANCHOR_PAPER = "zero"
"""The paper's anchor; also what a bundle or run written before anchors existed used."""
