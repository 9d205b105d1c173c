"""The hybrid separator: deterministic extractor + consistency-distilled refiner.

:class:`HybridModel` implements :class:`core.model.StemModel` (core/METHOD.md sections 3-5):
for every (segment, instrument) pair it runs the extractor once, keeping what the
refiners condition on (:func:`core.nn.extractors.refiner_inputs`), then ``preset.steps``
consistency steps of the student (or Euler steps of the diffusion teacher for
``preset.sampler == "teacher"``) that reuse it.
Draft (``steps == 0``) is the extractor alone.

Quiet input: the networks are not zero-preserving. Their biases and GroupNorm shifts
give a fixed response to a silent segment (for the first shipped stemforge-lite extractor
-48.6 dBFS RMS, periodic every patch x first factor = 64 samples, i.e. a 345 Hz tone at
22 050 Hz), and GroupNorm makes the inner activations level-independent, so below some
level the estimates stop scaling with the input. :meth:`HybridModel.separate` therefore
lifts every segment quieter than :data:`LEVEL_FLOOR_RMS` to that level and scales the
estimates back down: with ``g = min(1, rms(x) / LEVEL_FLOOR_RMS)``,

    separate(x) = g * f(x / g)        (and 0 for a silent segment, g = 0)

which is exactly scale-equivariant below the floor, leaves louder segments untouched,
and turns digital silence into digital silence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from core.diffusion.constants import ANCHOR_PAPER, ANCHORS, RHO, SIGMA_DATA, SIGMA_MIN
from core.diffusion.preconditioning import ConsistencyDenoiser, EDMDenoiser
from core.diffusion.samplers import check_cancel, consistency_sampler, euler_sampler
from core.diffusion.schedules import consistency_sigmas, karras_sigmas
from core.errors import ConfigError
from core.instruments import INSTRUMENTS, MODEL_SAMPLE_RATE
from core.model import Preset
from core.nn.architectures import refiner_config
from core.nn.extractors import refiner_inputs
from core.nn.unet import UNet
from core.progress import CancelToken
from core.ratio_mask import ratio_mask_resynthesis

LEVEL_FLOOR_RMS = 0.05
"""Segments with a lower RMS (-26 dBFS) are separated at this level and scaled back.

Measured on the first stemforge-lite (2026-11; draft, bass, a 55 Hz bass line plus hi-hats at -17.4 dBFS
RMS, scaled): SI-SDR 19.7 / 21.1 / 14.9 / 9.9 / 7.5 dB at input RMS -17 / -27 / -37 /
-47 / -57 dBFS, with the estimate's gain over the input -0.4 / -0.2 / +3.2 / +9.6 /
+18.1 dB: the silence response (-48.6 dBFS) takes over below about -30 dBFS, so the floor
sits above that, 22 dB over the silence response."""


def level_gains(mixture: torch.Tensor, floor: float = LEVEL_FLOOR_RMS) -> torch.Tensor:
    """``g = min(1, rms / floor)`` per segment: ``(N, L)`` -> ``(N, 1)`` (0 for silence)."""
    rms = mixture.double().pow(2).mean(dim=-1, keepdim=True).sqrt()
    return (rms / floor).clamp(max=1.0).to(mixture.dtype)


def pair_generators(generator: torch.Generator, count: int) -> list[torch.Generator]:
    """``count`` CPU generators seeded from ``generator`` (one per (segment, label) pair)."""
    seeds = torch.randint(0, 2**62, (count,), generator=generator, device=generator.device)
    return [torch.Generator().manual_seed(int(seed)) for seed in seeds.tolist()]


class HybridModel:
    """Extractor + student (+ optional teacher) behind the :class:`StemModel` protocol.

    Args:
        extractor: the deterministic extractor (not noise-conditioned): a U-Net, or a
            band-split network (:mod:`core.nn.bandsplit`).
        student: the consistency student (a noise-conditioned U-Net of the extractor's
            refiner configuration, :func:`core.nn.architectures.refiner_config`), or None
            for a draft-only model.
        teacher: the diffusion teacher (like the student), or None.
        presets: name -> :class:`Preset` (from the bundle's presets table).
        model_id, sha256: identity of the weights (bundle id and weights checksum).
        sample_rate: rate of the segments (22 050 Hz).
        segment_samples: segment length L (a multiple of the config's hop).
        instruments: labels in one-hot order.
        sigma_data, sigma_min, rho: diffusion constants (sigma_min is the consistency eps).
        anchor: what the refiners denoise around: ``"zero"`` (the paper) or ``"x_det"``
            (core/METHOD.md section 4a; the bundle's ``diffusion.anchor``).
        s_churn, s_tmin, s_tmax, s_noise: the teacher sampler's stochasticity.
        max_batch: most (segment, instrument) pairs per network call; the pipeline may
            lower it after a CUDA out-of-memory error.
        files: file name -> sha256 of the files the weights came from (the recipe's record).
    """

    family = "stemforge"
    channels = 1  # every channel is separated as its own mono signal

    def __init__(
        self,
        extractor: torch.nn.Module,
        student: UNet | None,
        presets: dict[str, Preset],
        teacher: UNet | None = None,
        model_id: str = "unnamed",
        sha256: str = "",
        sample_rate: int = MODEL_SAMPLE_RATE,
        segment_samples: int | None = None,
        instruments: Sequence[str] = INSTRUMENTS,
        sigma_data: float = SIGMA_DATA,
        sigma_min: float = SIGMA_MIN,
        rho: float = RHO,
        s_churn: float = 0.0,
        s_tmin: float = 0.0,
        s_tmax: float = math.inf,
        s_noise: float = 1.0,
        max_batch: int = 16,
        anchor: str = ANCHOR_PAPER,
        files: dict[str, str] | None = None,
    ) -> None:
        config = extractor.config
        for name, net in (("student", student), ("teacher", teacher)):
            if net is not None and (net.config != refiner_config(config) or not net.noise_conditioned):
                raise ConfigError(
                    f"the {name} must be a noise-conditioned U-Net with the extractor's refiner configuration"
                )
        if extractor.noise_conditioned:
            raise ConfigError("the extractor must not be noise-conditioned")
        self.extractor = extractor.eval()
        self.student = student.eval() if student is not None else None
        self.teacher = teacher.eval() if teacher is not None else None
        self.config = config
        self.presets = dict(presets)
        self.model_id = model_id
        self.sha256 = sha256
        self.files = dict(files or {})
        self.sample_rate = sample_rate
        self.segment_samples = segment_samples or config.segment_samples
        self.instruments = tuple(instruments)
        self.sigma_data = sigma_data
        self.sigma_min = sigma_min
        self.rho = rho
        if anchor not in ANCHORS:
            raise ConfigError(f"unknown refiner anchor {anchor!r}; choose from {', '.join(ANCHORS)}")
        self.anchor = anchor
        self.s_churn, self.s_tmin, self.s_tmax, self.s_noise = s_churn, s_tmin, s_tmax, s_noise
        self.max_batch = max_batch
        self.device = next(extractor.parameters()).device
        if self.segment_samples % config.hop:
            raise ConfigError(
                f"segment length {self.segment_samples} is not a multiple of the hop {config.hop}"
            )

    # -- StemModel ---------------------------------------------------------------------

    def to(self, device: torch.device | str) -> HybridModel:
        """Move every network to ``device``; returns self."""
        device = torch.device(device)
        for net in self.networks().values():
            net.to(device)
        self.device = device
        return self

    def separate(
        self,
        mixture: torch.Tensor,
        instruments: Sequence[str],
        preset: Preset,
        generator: torch.Generator,
        cancel: CancelToken,
    ) -> torch.Tensor:
        """Estimate ``S = len(instruments)`` stems of ``N`` mono segments.

        The N*S (segment, label) pairs run batched (at most ``max_batch`` per call); each
        pair costs ``preset.passes_per_stem`` network passes. Segments quieter than
        :data:`LEVEL_FLOOR_RMS` are lifted to it and their estimates scaled back (see the
        module docstring). Each pair draws its noise from
        its own generator, seeded from ``generator``, so the result does not depend on
        ``max_batch`` (beyond float rounding). With ``preset.views == 2`` all of this runs
        on ``x`` and on ``-x`` and the result is ``(f(x) - f(-x)) / 2`` (:class:`Preset`);
        with ``preset.mask`` the stems are then rebuilt from the segments with ratio masks
        (:mod:`core.ratio_mask`).

        Args:
            mixture: ``(N, L)`` segments on ``self.device``.
            instruments: labels to extract.
            preset: draft (steps 0), consistency steps, or teacher steps.
            generator: noise source (any device; noise is moved to ``self.device``).
            cancel: checked before every network pass.

        Returns:
            ``(N, S, L)`` estimates, dtype and device of ``mixture``.
        """
        if mixture.dim() != 2:
            raise ValueError(f"expected mixture (N, L), got {tuple(mixture.shape)}")
        count, length = mixture.shape
        if length % self.config.hop:
            raise ValueError(f"segment length {length} is not a multiple of the hop {self.config.hop}")
        labels = torch.tensor([self._label(name) for name in instruments], dtype=torch.long)
        stems = len(labels)
        segments = mixture.to(self.device, torch.float32)
        gains = level_gains(segments)  # (N, 1)
        lifted = segments / torch.where(gains > 0, gains, 1.0)
        pairs_mix = lifted.repeat_interleave(stems, dim=0)[:, None]
        pairs_labels = labels.repeat(count).to(self.device)
        signs = (1.0, -1.0)[: preset.views]
        with torch.inference_mode():
            result = pairs_mix.new_zeros(count * stems, 1, length)
            for sign in signs:  # f(x), then -f(-x) for a two-view preset
                generators = pair_generators(generator, count * stems) if preset.steps else []
                for start in range(0, count * stems, max(1, self.max_batch)):
                    check_cancel(cancel)
                    part = slice(start, start + max(1, self.max_batch))
                    result[part] += sign * self._run(sign * pairs_mix[part], pairs_labels[part], preset,
                                                     generators[part], cancel)
        result = result.reshape(count, stems, length) * (gains[:, :, None] / len(signs))
        if preset.mask:
            result = ratio_mask_resynthesis(result, segments)
        return result.to(mixture.device, mixture.dtype)

    # -- internals ---------------------------------------------------------------------

    def networks(self) -> dict[str, torch.nn.Module]:
        """The networks present: ``extractor``, ``student``, ``teacher`` (by name)."""
        nets = {"extractor": self.extractor, "student": self.student, "teacher": self.teacher}
        return {name: net for name, net in nets.items() if net is not None}

    def _label(self, name: str) -> int:
        try:
            return self.instruments.index(name)
        except ValueError:
            raise ConfigError(
                f"model {self.model_id} cannot extract {name!r}; it knows {', '.join(self.instruments)}"
            ) from None

    def _run(
        self,
        mix: torch.Tensor,
        labels: torch.Tensor,
        preset: Preset,
        generator: list[torch.Generator],
        cancel,
    ) -> torch.Tensor:
        """One batch of pairs: ``mix (B, 1, L)``, ``labels (B,)`` -> ``(B, 1, L)``."""
        x_det, conditioning = refiner_inputs(self.extractor, mix, labels)
        if preset.steps == 0:
            return x_det
        conditioning = {**conditioning, "anchor": x_det if self.anchor == "x_det" else None}
        if preset.sampler == "teacher":
            if self.teacher is None:
                raise ConfigError(f"preset {preset.name!r} needs the diffusion teacher; this bundle has none")
            denoiser = EDMDenoiser(self.teacher, self.sigma_data)
            sigmas = karras_sigmas(preset.steps, preset.sigma_max, self.sigma_min, self.rho, append_zero=True)
            sample = euler_sampler(
                lambda x, sigma: denoiser(x, sigma, labels, mixture=mix, **conditioning),
                x_det,
                sigmas,
                generator,
                s_churn=self.s_churn,
                s_tmin=self.s_tmin,
                s_tmax=self.s_tmax,
                s_noise=self.s_noise,
                cancel=cancel,
            )
            return sample.clamp(-1, 1)
        if preset.sampler != "consistency":
            raise ConfigError(f"preset {preset.name!r} has unknown sampler {preset.sampler!r}")
        if self.student is None:
            raise ConfigError(f"preset {preset.name!r} needs the consistency student; this bundle has none")
        student = ConsistencyDenoiser(self.student, self.sigma_data, self.sigma_min)
        sigmas = consistency_sigmas(preset.steps, preset.sigma_max, self.sigma_min, self.rho)
        return consistency_sampler(
            lambda x, sigma: student(x, sigma, labels, mixture=mix, **conditioning),
            x_det,
            sigmas,
            generator,
            eps=self.sigma_min,
            cancel=cancel,
        )
