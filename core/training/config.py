"""Training configuration: the fields every stage shares, and the extractor's.

Every default of the three training stages (core/METHOD.md sections 3-5) is a dataclass
field default: here for the shared fields and the extractor, in
:mod:`core.training.refiner_config` for the teacher and the student;
:mod:`core.training.resolved` ties a stage's fields to the architecture and crop length
of one run. The command line and the tests only override fields with
:func:`dataclasses.replace`; a run writes its resolved configuration (these fields plus
what was derived from them: the U-Net architecture and the segment length in samples)
to ``RUN/config.json`` before its first step, and a resumed run checks that the fields
that shape the weights are unchanged (:func:`core.training.runs.check_resumable`).

Numbers that are not the paper's, and why (core/METHOD.md section 8 collects them all):

- ``segment_seconds`` 3.0 s by default: the paper trains on 11.9 s crops; a 3 s crop (rounded to a
  multiple of the U-Net's hop, 65 536 samples for ``lite``) keeps a ``lite`` step of
  batch 8 around 0.9 s (extractor), 1.2 s (teacher) and 4-5 s (distillation) on one
  CPU core (measured with torch 2.13). The test-sized architectures (``tiny``,
  ``bandsplit-tiny``) default to 0.5 s crops, so a first try takes seconds per step.
- ``minutes = 60`` when no step count is given: the product's budget for a CPU stage.
- ``ema_warmup``: the EMA decay is ``min(decay, (1 + t) / (10 + t))`` at step t for the
  extractor and the teacher. With a constant 0.999 the exported weights of a short CPU
  run (a few thousand steps) would still carry ``0.999 ** t`` of the random
  initialisation (37 % after 1000 steps). The distillation target starts from the
  trained teacher, so it uses the paper's constant 0.999 from the first step.
- extractor ``loss = "snr"`` (an option; the paper's MSE stays the default): on CPU
  budgets MSE learned the loud stems (drums) and predicted quiet ones (guitar, often
  10-20 dB under the mix) as near-silence, which costs MSE almost nothing. The
  thresholded SNR loss is scale-free per crop, so every stem pulls equally.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from core.errors import ConfigError
from core.nn.architectures import ARCHITECTURES

STAGES: tuple[str, ...] = ("extractor", "diffusion", "distill", "mixer")

EXTRACTOR_LOSSES: tuple[str, ...] = ("mse", "snr", "l1_stft")

DEFAULT_STFT_SIZES: tuple[int, ...] = (512, 1024, 2048)
"""FFT sizes of the ``l1_stft`` loss's multi-resolution STFT term (23, 46, 93 ms)."""

DEFAULT_SEGMENT_SECONDS = 3.0
"""Training crop length when none is given (see the module doc)."""

SHORT_SEGMENT_SECONDS: dict[str, float] = {"tiny": 0.5, "bandsplit-tiny": 0.5}
"""Default crop of the architectures meant for tests and first tries: a 0.5 s crop keeps
every stage of ``tiny`` at a few seconds per step or less on a shared 2-core CPU."""



@dataclass(frozen=True)
class TrainingConfig:
    """Fields shared by the three stages.

    Attributes:
        data: dataset root (Slakh2100 layout: ``{split}/TrackXXXXX/...``).
        net: named architecture of :data:`core.nn.architectures.ARCHITECTURES` (the U-Nets
            ``tiny``, ``lite``, ``paper``, or a band-split extractor ``bandsplit-tiny``,
            ``bandsplit-lite``); the refiner and the student take the extractor run's
            architecture instead.
        segment_seconds: training crop length; rounded to the nearest multiple of the
            architecture's hop (at least one hop), see :func:`core.training.resolved.segment_samples`. None:
            :data:`DEFAULT_SEGMENT_SECONDS`, or the short crop of the test-sized
            architectures (:data:`SHORT_SEGMENT_SECONDS`).
        batch: crops per optimiser step, over all processes together (each of W
            distributed processes takes ``batch / W`` of them).
        optimizer: ``adam`` or ``radam``.
        lr, betas: optimiser learning rate and Adam betas.
        steps: stop after this many optimiser steps (None: no step limit).
        minutes: stop after this many minutes of training, summed over resumptions (None:
            no time limit). When both are None the run is refused.
        ema_decay: decay of the EMA of the weights kept for export (and, in distillation,
            the consistency target).
        ema_warmup: use ``min(ema_decay, (1 + t) / (10 + t))`` at step t (see module doc).
        checkpoint_minutes: wall-clock interval between checkpoints (one is also written
            at the end and when the run is interrupted).
        validate_every: steps between validations (validation also runs at the end).
        validation_crops: fixed validation crops (with a non-silent target) scored by SI-SDRi.
        log_every: steps between log lines (the loss is averaged over them).
        seed: seeds the initial weights, the crops and all training noise.
        train_split, validation_split: dataset splits (folders under ``data``).
        device: ``auto``, ``cpu``, ``cuda`` or ``mps`` (``cuda`` uses bf16 autocast).
        workers: data-loading worker processes (0: load in the training process).
        remix: probability that a training crop is remixed from the stems of four
            songs with random gains and polarities (see
            :class:`core.data.datasets.RandomCropDataset`); 0 = never (the paper).
        include_other: mixtures also hold the set's non-target parts (Slakh classes
            other than the four; the vocals, strings, synths... of ``stemforge synth``),
            which no target contains: the model learns to leave them in ``other``.
        other_probability: with ``include_other``, the share of training crops whose
            mixture holds the non-target parts (the rest are the four stems alone);
            validation crops always hold them.
    """

    data: str = ""
    net: str = "lite"
    segment_seconds: float | None = None
    batch: int = 8
    optimizer: str = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    steps: int | None = None
    minutes: float | None = 60.0
    ema_decay: float = 0.999
    ema_warmup: bool = True
    checkpoint_minutes: float = 5.0
    validate_every: int = 200
    validation_crops: int = 8
    log_every: int = 10
    seed: int = 0
    train_split: str = "train"
    validation_split: str = "validation"
    device: str = "auto"
    workers: int = 0
    remix: float = 0.0
    include_other: bool = False
    other_probability: float = 1.0

    stage = "base"

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        problems = self.problems()
        if problems:
            raise ConfigError(f"invalid {self.stage} training configuration: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """Human-readable reasons this configuration cannot run (empty when fine)."""
        problems = []
        if self.net not in ARCHITECTURES:
            problems.append(f"unknown net {self.net!r}; choose from {', '.join(ARCHITECTURES)}")
        if self.segment_seconds is not None and not self.segment_seconds > 0:
            problems.append(f"segment_seconds must be > 0, got {self.segment_seconds}")
        if self.batch < 1:
            problems.append(f"batch must be >= 1, got {self.batch}")
        if self.optimizer not in ("adam", "radam"):
            problems.append(f"optimizer must be adam or radam, got {self.optimizer!r}")
        if not self.lr > 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            problems.append(f"betas must be two numbers in [0, 1), got {self.betas}")
        if self.steps is not None and self.steps < 0:
            problems.append(f"steps must be >= 0, got {self.steps}")
        if self.minutes is not None and not self.minutes >= 0:
            problems.append(f"minutes must be >= 0, got {self.minutes}")
        if self.steps is None and self.minutes is None:
            problems.append("give a step count or a time budget (steps or minutes)")
        if not 0 <= self.ema_decay < 1:
            problems.append(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not self.checkpoint_minutes >= 0:
            problems.append(f"checkpoint_minutes must be >= 0, got {self.checkpoint_minutes}")
        if self.validate_every < 1 or self.log_every < 1:
            problems.append("validate_every and log_every must be >= 1")
        if self.validation_crops < 0 or self.workers < 0:
            problems.append("validation_crops and workers must be >= 0")
        if not 0.0 <= self.remix <= 1.0:
            problems.append(f"remix must be a probability in [0, 1], got {self.remix}")
        if not 0.0 <= self.other_probability <= 1.0:
            problems.append(f"other_probability must be a probability in [0, 1], got {self.other_probability}")
        return problems

    @property
    def crop_seconds(self) -> float:
        """The training crop length: ``segment_seconds`` or its default for ``net``."""
        if self.segment_seconds is not None:
            return self.segment_seconds
        return SHORT_SEGMENT_SECONDS.get(self.net, DEFAULT_SEGMENT_SECONDS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples become lists)."""
        data = asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown {cls.stage} configuration keys: {', '.join(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class ExtractorConfig(TrainingConfig):
    """Stage 1 (core/METHOD.md section 3): x_det = D(x_mix, label), MSE to the target stem,
    Adam lr 1e-4, betas (0.9, 0.99).

    Attributes:
        loss: ``mse`` (the paper's), ``snr``, the negative thresholded SNR of
            :func:`core.training.losses.thresholded_snr_loss`, which weighs quiet
            stems like loud ones (with MSE a quiet stem costs little when predicted as
            silence, see the module doc), or ``l1_stft`` (below). Making ``l1_stft`` the
            default is this one field's default.
        snr_tau: soft threshold of the ``snr`` loss, relative to the mixture's energy
            (1e-3 caps the rewarded SNR of a crop at about 30 dB above the mixture), and of
            the ``l1_stft`` loss's L1-SNR term, relative to the mixture's L1 norm.
        stft_sizes, stft_magnitude_weight, stft_complex_weight, l1snr_weight: the
            ``l1_stft`` loss of :mod:`core.training.losses` (waveform L1 + w_mag x
            multi-resolution STFT magnitude L1 + w_cplx x complex L1 + w_snr x L1-SNR).
        init_from: an extractor run folder whose EMA weights start this run, or a model
            bundle whose extractor does (fine-tuning, e.g. with another loss, or training
            the shipped model on); empty: random initial weights.
    """

    loss: str = "mse"
    snr_tau: float = 1e-3
    stft_sizes: tuple[int, ...] = DEFAULT_STFT_SIZES
    stft_magnitude_weight: float = 1.0
    stft_complex_weight: float = 0.0
    l1snr_weight: float = 0.0
    init_from: str = ""

    stage = "extractor"

    def __post_init__(self) -> None:
        object.__setattr__(self, "stft_sizes", tuple(int(n) for n in self.stft_sizes))
        super().__post_init__()

    def problems(self) -> list[str]:
        problems = super().problems()
        if self.loss not in EXTRACTOR_LOSSES:
            problems.append(f"loss must be one of {', '.join(EXTRACTOR_LOSSES)}, got {self.loss!r}")
        if not self.snr_tau > 0:
            problems.append(f"snr_tau must be > 0, got {self.snr_tau}")
        if not self.stft_sizes or any(n < 16 or n & (n - 1) for n in self.stft_sizes):
            problems.append(f"stft_sizes must be powers of two >= 16, got {list(self.stft_sizes)}")
        weights = (self.stft_magnitude_weight, self.stft_complex_weight, self.l1snr_weight)
        if any(not w >= 0 for w in weights):
            problems.append("stft_magnitude_weight, stft_complex_weight and l1snr_weight must be >= 0")
        return problems

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["stft_sizes"] = list(self.stft_sizes)
        return data


__all__ = [
    "DEFAULT_SEGMENT_SECONDS",
    "DEFAULT_STFT_SIZES",
    "EXTRACTOR_LOSSES",
    "SHORT_SEGMENT_SECONDS",
    "STAGES",
    "ExtractorConfig",
    "TrainingConfig",
]
