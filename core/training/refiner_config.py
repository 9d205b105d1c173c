"""Configuration of the two refiner stages: the diffusion teacher and the consistency student.

Both share :class:`RefinerConfig`: which extractor run they refine, what they denoise
around (the anchor), the scale of what they denoise, and which noise levels they train
on. Defaults, and the numbers that are not the paper's (core/METHOD.md sections 4a and 8):

- ``anchor = "x_det"`` (paper: the stem itself, ``"zero"``): the refiner denoises the
  extractor's error ``x - x_det``, with ``D = x_det + c_skip (x - x_det) + c_out F``, and
  its output layer starts at zero, so an untrained refiner returns x_det (exactly at
  ``x = x_det``, on average over the noise). Trained from scratch around 0 for 30 CPU
  minutes, the paper's refiner never beat its own conditioning: every preset was tuned
  to sigma_max = 3e-4, where it returns x_det unchanged.
- ``sigma_data``: the scale of what is denoised; None picks the anchor's
  (:data:`~core.diffusion.constants.SIGMA_DATA` 0.2 around zero,
  :data:`~core.diffusion.constants.RESIDUAL_SIGMA_DATA` 0.05 around x_det, the
  measured RMS of a CPU-trained extractor's error).
- ``sigma_train_range = (0.002, 0.5)`` (paper: the whole log-normal): the teacher and
  the student's denoising term only see noise levels that sampling starts from
  (sigma_max up to 0.5; EDM's log-normal with P_mean -3 puts 15% of its samples above
  0.25 and 5% below 0.01, where the error of x_det is either swamped or untouched).
- ``warm_start`` (teacher): the refiner U-Net starts from the extractor's weights wherever
  a parameter has the same name and shape (everything but the noise embedding when the
  architectures match), then its output layer is zeroed.
- distillation ``sigma_max = 0.5`` (paper: 10, with the anchor at zero): the grid of 18
  Karras levels only needs to reach the highest sigma_max a preset may use.
- distillation ``predictive_weight = 1`` (paper: none): a third loss term scores the
  student's one-step output from ``x_det + sigma z`` against the target with waveform L1
  plus a multi-resolution STFT loss (as StoRM, GeCo and "Single and few-step diffusion
  for generative speech enhancement" do), so that one step learns to beat x_det directly
  instead of only agreeing with the teacher.
- distillation ``lr = 1e-4`` (paper: 1e-5, RAdam): the paper's rate is for a 405 M
  parameter network trained for days; ``lite`` has about 70x fewer parameters (``tiny``
  thousands of times fewer) and a CPU hour is under a thousand distillation steps, in
  which 1e-5 barely moves the student away from the teacher. RAdam's rectified warm-up
  keeps the first steps of the larger rate stable. *tune*: record the choice in the card.
- distillation ``k_max = 4`` (paper: 17): each step runs ``k`` Heun steps of the teacher
  (2 network passes each) without gradients; with P(k) proportional to k the mean is
  ``E[k] = (2 k_max + 1) / 3``, so 17 costs about 23 teacher passes per step and 4
  about 6. Fewer teacher steps per distillation step keep a CPU step affordable. *tune*.

A run folder written before these fields existed lacks them; :meth:`RefinerConfig.from_dict`
reads it with the paper's values (:data:`LEGACY_REFINER_FIELDS`), which is what it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.diffusion.constants import (
    ANCHOR_PAPER,
    ANCHORS,
    RESIDUAL_SIGMA_DATA,
    RHO,
    SIGMA_DATA,
    SIGMA_MIN,
)
from core.training.config import DEFAULT_STFT_SIZES, TrainingConfig

LEGACY_REFINER_FIELDS: dict[str, Any] = {
    "anchor": ANCHOR_PAPER,
    "sigma_train_range": None,
    "warm_start": False,
    "predictive_weight": 0.0,
    "sigma_max": 10.0,
}
"""What a refiner run written before anchors existed used, for the fields it lacks."""


PREDICTIVE_LOSSES = ("l1_stft", "mse")
"""What the student's predictive term can measure (:class:`DistillConfig`)."""


@dataclass(frozen=True)
class RefinerConfig(TrainingConfig):
    """The fields both refiner stages share.

    Attributes:
        extractor: the finished extractor run folder (frozen; gives the architecture).
        anchor: ``"x_det"`` (denoise the extractor's error) or ``"zero"`` (the paper).
        sigma_data: scale of what is denoised; None: the anchor's default
            (:attr:`data_scale`).
        p_mean, p_std: ln(sigma) ~ N(p_mean, p_std^2) for the training noise levels.
        sigma_train_range: ``(low, high)``: the log-normal restricted to this range, or
            None for all of it (the paper).
    """

    extractor: str = ""
    anchor: str = "x_det"
    sigma_data: float | None = None
    p_mean: float = -3.0
    p_std: float = 1.0
    sigma_train_range: tuple[float, float] | None = (0.002, 0.5)

    def __post_init__(self) -> None:
        if self.sigma_train_range is not None:
            object.__setattr__(self, "sigma_train_range", tuple(float(s) for s in self.sigma_train_range))
        super().__post_init__()

    @property
    def data_scale(self) -> float:
        """The preconditioning's sigma_data: the given one, else the anchor's default."""
        if self.sigma_data is not None:
            return float(self.sigma_data)
        return RESIDUAL_SIGMA_DATA if self.anchor == "x_det" else SIGMA_DATA

    def problems(self) -> list[str]:
        problems = super().problems()
        if not self.extractor:
            problems.append("the extractor run folder is required")
        if self.anchor not in ANCHORS:
            problems.append(f"anchor must be one of {', '.join(ANCHORS)}, got {self.anchor!r}")
        if self.sigma_data is not None and not self.sigma_data > 0:
            problems.append(f"sigma_data must be > 0, got {self.sigma_data}")
        if not self.p_std > 0:
            problems.append(f"p_std must be > 0, got {self.p_std}")
        if self.sigma_train_range is not None:
            low_high = self.sigma_train_range
            if len(low_high) != 2 or not 0 < low_high[0] < low_high[1]:
                problems.append(f"sigma_train_range must be two numbers 0 < low < high, got {list(low_high)}")
        return problems

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.sigma_train_range is not None:
            data["sigma_train_range"] = list(self.sigma_train_range)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RefinerConfig:
        """Inverse of :meth:`to_dict`; a run written before anchors existed (no ``anchor``
        key) gets :data:`LEGACY_REFINER_FIELDS` for the fields it lacks."""
        if "anchor" not in data:
            known = {name for name in cls.__dataclass_fields__}
            legacy = {k: v for k, v in LEGACY_REFINER_FIELDS.items() if k in known and k not in data}
            data = {**legacy, **data}
        return super().from_dict(data)


@dataclass(frozen=True)
class DiffusionConfig(RefinerConfig):
    """Stage 2 (core/METHOD.md sections 4 and 4a): the EDM teacher.

    Attributes:
        warm_start: start the refiner U-Net from the extractor's weights where names and
            shapes match (U-Net extractors only), before its output layer is zeroed.
        validation_steps, validation_sigma_max: the Euler sampler used to score the EMA
            teacher on the validation crops (starting from x_det + sigma_max * z).
    """

    warm_start: bool = True
    validation_steps: int = 8
    validation_sigma_max: float = 0.01

    stage = "diffusion"

    def problems(self) -> list[str]:
        problems = super().problems()
        if self.validation_steps < 1 or not self.validation_sigma_max > 0:
            problems.append("validation_steps must be >= 1 and validation_sigma_max > 0")
        return problems


@dataclass(frozen=True)
class DistillConfig(RefinerConfig):
    """Stage 3 (core/METHOD.md section 5): consistency distillation of the teacher.

    Attributes:
        teacher: the finished diffusion run folder (the student starts as its copy; its
            anchor and sigma_data are used, whatever these fields say).
        num_sigmas, sigma_max, sigma_min, rho: the Karras discretisation grid
            (18 levels from 0.5 down to 1e-4, rho 9); sigma_min is also the boundary
            epsilon of the consistency parametrisation.
        k_max: teacher steps per distillation step are k in 1..k_max with P(k) ~ k.
        consistency_weight, denoising_weight, predictive_weight: weights of the three
            loss terms (module doc of :mod:`core.training.distill`).
        predictive_loss: what the predictive term measures: ``"l1_stft"`` (waveform L1 +
            multi-resolution STFT, divided by sd) or ``"mse"`` (the squared error divided
            by sd^2, the extractor's own loss, which SI-SDR rewards).
        predictive_stft_sizes: FFT sizes of the predictive term's STFT loss.
        output_lr_scale: the output layer (the one zeroed at the start) learns this many
            times faster than the rest: its correction is scaled by c_out(s) ~ s at the
            small levels a one-step preset uses, so at the base rate it grows too slowly
            to reach the error's size in a CPU session.
        validation_steps, validation_sigma_max: multistep consistency sampling used to
            score the EMA student.
    """

    teacher: str = ""
    optimizer: str = "radam"
    ema_warmup: bool = False
    num_sigmas: int = 18
    sigma_max: float = 0.5
    sigma_min: float = SIGMA_MIN
    rho: float = RHO
    k_max: int = 4
    consistency_weight: float = 1.0
    denoising_weight: float = 1.0
    predictive_weight: float = 1.0
    predictive_loss: str = "l1_stft"
    predictive_stft_sizes: tuple[int, ...] = DEFAULT_STFT_SIZES
    output_lr_scale: float = 1.0
    validation_steps: int = 1
    validation_sigma_max: float = 0.0124

    stage = "distill"

    def __post_init__(self) -> None:
        object.__setattr__(self, "predictive_stft_sizes", tuple(int(n) for n in self.predictive_stft_sizes))
        super().__post_init__()

    def problems(self) -> list[str]:
        problems = super().problems()
        if not self.teacher:
            problems.append("the teacher run folder is required")
        if self.num_sigmas < 2:
            problems.append(f"num_sigmas must be >= 2, got {self.num_sigmas}")
        if not 1 <= self.k_max <= self.num_sigmas - 1:
            problems.append(f"k_max must be in 1..{self.num_sigmas - 1}, got {self.k_max}")
        if not 0 < self.sigma_min < self.sigma_max:
            problems.append("need 0 < sigma_min < sigma_max")
        weights = (self.consistency_weight, self.denoising_weight, self.predictive_weight)
        if any(not w >= 0 for w in weights) or not any(w > 0 for w in weights):
            problems.append("the loss weights must be >= 0, and one of them > 0")
        if self.predictive_loss not in PREDICTIVE_LOSSES:
            problems.append(f"predictive_loss must be one of {', '.join(PREDICTIVE_LOSSES)}, "
                            f"got {self.predictive_loss!r}")
        if not self.output_lr_scale > 0:
            problems.append(f"output_lr_scale must be > 0, got {self.output_lr_scale}")
        if any(n < 16 or n & (n - 1) for n in self.predictive_stft_sizes):
            problems.append(f"predictive_stft_sizes must be powers of two >= 16, got {list(self.predictive_stft_sizes)}")
        if self.validation_steps < 1 or not self.validation_sigma_max > self.sigma_min:
            problems.append("validation_steps must be >= 1 and validation_sigma_max > sigma_min")
        return problems

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["predictive_stft_sizes"] = list(self.predictive_stft_sizes)
        return data


@dataclass(frozen=True)
class MixerConfig(TrainingConfig):
    """The mixer baseline (:mod:`core.training.mixer`): 24 parameters on top of the
    frozen extractor, trained in minutes.

    Attributes:
        extractor: the finished extractor run folder.
    """

    extractor: str = ""
    lr: float = 1e-3
    minutes: float | None = 5.0
    validation_crops: int = 32

    stage = "mixer"

    def problems(self) -> list[str]:
        problems = super().problems()
        if not self.extractor:
            problems.append("the extractor run folder is required")
        return problems


__all__ = ["LEGACY_REFINER_FIELDS", "PREDICTIVE_LOSSES", "DiffusionConfig", "DistillConfig", "MixerConfig", "RefinerConfig"]
