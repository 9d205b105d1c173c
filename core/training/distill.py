"""Stage 3: consistency distillation of the teacher into the student (core/METHOD.md section 5).

Song et al. 2023 (consistency distillation) with the teacher's Heun solver over k grid
steps, as in the paper:

    grid   sigma_0 > ... > sigma_{N-1}: N = 18 Karras levels from 10 to 1e-4, rho 9
    k ~ P(k) = k / sum(1..k_max),   k in 1..k_max       (one k per step, all ranks agree)
    n ~ U{0, ..., N-1-k}                                 (one per crop)
    x_t = x + sigma_n z
    x_{n+k} = k Heun steps of the teacher's probability-flow ODE from sigma_n down to
              sigma_{n+k}, through the grid (no gradient)
    L_cons  = mean( (f_student(x_t, sigma_n) - f_EMA(x_{n+k}, sigma_{n+k}))^2 )
    L_edm   = mean( lambda(s) (f_student(x + s n', s) - x)^2 ),  ln s ~ N(P_mean, P_std^2)
    loss    = w_cons L_cons + w_edm L_edm                 (1 : 1)

f is the consistency parametrisation (``ConsistencyDenoiser``: f(x, eps) = x with eps =
sigma_min); the student starts as a copy of the teacher's EMA U-Net and the target f_EMA
is the loop's EMA of the student (decay 0.999, no warm-up). The teacher, the student and
the target all get the frozen extractor's stage activations and the mixture. RAdam.

The two student evaluations run as one forward pass over the concatenated batch
(``2B`` items), as DistributedDataParallel expects one forward per backward.

Validation: multistep consistency sampling of the EMA student (``validation_steps``
steps from ``x_det + validation_sigma_max * z``).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import torch
from torch import nn
from torch.nn import functional as F

from core.diffusion.preconditioning import ConsistencyDenoiser, EDMDenoiser
from core.diffusion.samplers import consistency_sampler, draw_noise, heun_step
from core.diffusion.schedules import consistency_sigmas, karras_sigmas, lognormal_sigmas
from core.errors import ConfigError
from core.nn.extractors import Conditioning, repeat_conditioning
from core.training.batches import Batch, StepGenerators
from core.training.config import DistillConfig, ResolvedConfig
from core.training.diffusion import ExtractorFeatures, edm_denoising_loss, frozen
from core.training.loop import RunResult, run_stage
from core.training.runs import open_run


def teacher_steps_distribution(k_max: int) -> torch.Tensor:
    """``(k_max,)`` probabilities of k = 1 .. k_max, proportional to k."""
    weights = torch.arange(1, k_max + 1, dtype=torch.float64)
    return weights / weights.sum()


class DistillStage:
    """Consistency distillation.

    Args:
        resolved: the run configuration (``resolved.net`` is the extractor's architecture).
        extractor: the extractor run's EMA U-Net (frozen here).
        teacher: the teacher run's EMA U-Net (frozen here; the student starts as its copy).
        device: where to train.
    """

    name = "distill"

    def __init__(
        self, resolved: ResolvedConfig, extractor: nn.Module, teacher: nn.Module, device: torch.device
    ) -> None:
        config: DistillConfig = resolved.config
        self.config = config
        self.extractor = ExtractorFeatures(extractor, device)
        self.teacher = frozen(EDMDenoiser(copy.deepcopy(teacher), config.sigma_data), device)
        student = copy.deepcopy(teacher).train().requires_grad_(True)
        self.network = ConsistencyDenoiser(student, config.sigma_data, eps=config.sigma_min).to(device)
        self.sigmas = karras_sigmas(
            config.num_sigmas, config.sigma_max, config.sigma_min, config.rho
        ).to(device)
        self.k_probabilities = teacher_steps_distribution(config.k_max)

    def teacher_trajectory(
        self, x: torch.Tensor, start: torch.Tensor, k: int, batch: Batch,
        conditioning: Conditioning,
    ) -> torch.Tensor:
        """Move ``x (B, 1, L)`` from ``sigmas[start]`` to ``sigmas[start + k]`` with k Heun
        steps of the teacher (``start (B,)`` grid indices)."""

        def denoiser(y: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            return self.teacher(y, sigma, batch.labels, mixture=batch.mixture, **conditioning)

        for j in range(k):
            x = heun_step(denoiser, x, self.sigmas[start + j], self.sigmas[start + j + 1])
        return x

    def loss(
        self, network: nn.Module, ema: nn.Module, batch: Batch, generators: StepGenerators
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        config = self.config
        size = len(batch)
        local = generators.local
        device = batch.target.device
        _, conditioning = self.extractor(batch)

        k = int(torch.multinomial(self.k_probabilities, 1, generator=generators.shared)) + 1
        start = torch.randint(0, config.num_sigmas - k, (size,), generator=local, device=local.device)
        start = start.to(device)
        sigma_n, sigma_nk = self.sigmas[start], self.sigmas[start + k]
        x_t = batch.target + sigma_n.reshape(-1, 1, 1) * draw_noise(batch.target, local)
        with torch.no_grad():
            x_nk = self.teacher_trajectory(x_t, start, k, batch, conditioning)
            target = ema(x_nk, sigma_nk, batch.labels, mixture=batch.mixture, **conditioning)

        sigma_d = lognormal_sigmas(size, local, config.p_mean, config.p_std).to(device)
        sigma_d = sigma_d.clamp_min(config.sigma_min)
        x_d = batch.target + sigma_d.reshape(-1, 1, 1) * draw_noise(batch.target, local)

        twice = lambda t: torch.cat([t, t])  # noqa: E731
        both = network(
            torch.cat([x_t, x_d]),
            torch.cat([sigma_n, sigma_d]),
            twice(batch.labels),
            mixture=twice(batch.mixture),
            **repeat_conditioning(conditioning, 2),
        )
        f_t, f_d = both.float().chunk(2)
        consistency = F.mse_loss(f_t, target.float())
        denoising = edm_denoising_loss(f_d, batch.target, sigma_d, config.sigma_data)
        loss = config.consistency_weight * consistency + config.denoising_weight * denoising
        parts = {
            "loss_consistency": consistency.detach(),
            "loss_denoising": denoising.detach(),
            "teacher_steps": torch.tensor(float(k)),
        }
        return loss, parts

    @torch.no_grad()
    def estimate(self, ema: nn.Module, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        config = self.config
        x_det, conditioning = self.extractor(batch)
        sigmas = consistency_sigmas(
            config.validation_steps, config.validation_sigma_max, config.sigma_min, config.rho
        )

        def student(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            return ema(x, sigma, batch.labels, mixture=batch.mixture, **conditioning)

        return consistency_sampler(student, x_det.float(), sigmas, generator, eps=config.sigma_min)


def train_distill(
    config: DistillConfig, run_dir: Path, resume: bool = True, stream: TextIO | None = None
) -> RunResult:
    """Train (or resume) a student run in ``run_dir`` from ``config.extractor`` and
    ``config.teacher``."""
    extractor_run = open_run(config.extractor, "extractor")
    teacher_run = open_run(config.teacher, "diffusion")
    if teacher_run.resolved.net != extractor_run.resolved.net:
        raise ConfigError(
            f"the teacher {teacher_run.path} was not trained on the extractor's architecture "
            f"({extractor_run.path})"
        )
    extractor, teacher = extractor_run.unet(), teacher_run.unet()
    config = replace(config, net=extractor_run.resolved.config.net)
    return run_stage(
        config,
        lambda resolved, device: DistillStage(resolved, extractor, teacher, device),
        run_dir,
        resume=resume,
        net=extractor_run.resolved.net,
        stream=stream,
    )
