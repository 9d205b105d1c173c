"""Stage 3: consistency distillation of the teacher into the student (core/METHOD.md section 5).

Song et al. 2023 (consistency distillation) with the teacher's Heun solver over k grid
steps, as in the paper:

    grid   sigma_0 > ... > sigma_{N-1}: N = 18 Karras levels from sigma_max (0.5; the
           paper's 10) to 1e-4, rho 9
    k ~ P(k) = k / sum(1..k_max),   k in 1..k_max       (one k per step, all ranks agree)
    n ~ U{0, ..., N-1-k}                                 (one per crop)
    x_t = x + sigma_n z
    x_{n+k} = k Heun steps of the teacher's probability-flow ODE from sigma_n down to
              sigma_{n+k}, through the grid (no gradient)
    L_cons  = mean( (f_student(x_t, sigma_n) - f_EMA(x_{n+k}, sigma_{n+k}))^2 )
    L_edm   = mean( lambda(s) (f_student(x + s n', s) - x)^2 ),  ln s ~ N(P_mean, P_std^2)
              (restricted to sigma_train_range)
    L_pred  = (L1(y, x) + MRSTFT(y, x)) / sd,  y = clamp(f_student(x_det + s' n'', s'), -1, 1),
              s' drawn like s: the one-step output the ``fast`` preset returns; divided
              by sd so that it is on the unit scale the EDM weighting gives L_edm
              (``predictive_loss = "mse"``: mean (y - x)^2 / sd^2, the extractor's loss)
    loss    = w_cons L_cons + w_edm L_edm + w_pred L_pred   (1 : 1 : 1)

A term whose weight is 0 is not computed. With ``w_cons = 0`` the teacher's trajectories
are skipped (the teacher only gives the student its first weights): a predictive student
trained on L_edm and L_pred alone, two to three times cheaper a step, for CPU budgets
where the teacher itself does not beat x_det.

f is the consistency parametrisation around the teacher's anchor a (``ConsistencyDenoiser``:
f(x, sigma) = a + c_skip (x - a) + c_out F, with f(x, eps) = x, eps = sigma_min); the
student starts as a copy of the teacher's EMA U-Net and the target f_EMA is the loop's
EMA of the student (decay 0.999, no warm-up). The teacher, the student and the target
all get the frozen extractor's stage activations and the mixture. RAdam. L_pred is not
the paper's (core/METHOD.md section 5, "Predictive loss"): it scores what the product returns, so that one
step learns to beat x_det rather than only to agree with a teacher that may not.

The student evaluations run as one forward pass over the concatenated batch (``B``
items per term in use), as DistributedDataParallel expects one forward per backward.

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
from core.diffusion.schedules import consistency_sigmas, karras_sigmas
from core.errors import ConfigError
from core.nn.extractors import Conditioning, repeat_conditioning
from core.training.batches import Batch, StepGenerators
from core.training.diffusion import (
    ExtractorFeatures,
    anchor_of,
    edm_denoising_loss,
    frozen,
    training_sigmas,
)
from core.training.launch import run_stage
from core.training.loop import RunResult
from core.training.losses import multi_resolution_stft_loss
from core.training.refiner_config import DistillConfig
from core.training.resolved import ResolvedConfig
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
        self.teacher = frozen(EDMDenoiser(copy.deepcopy(teacher), config.data_scale), device)
        student = copy.deepcopy(teacher).train().requires_grad_(True)
        self.network = ConsistencyDenoiser(student, config.data_scale, eps=config.sigma_min).to(device)
        self.sigmas = karras_sigmas(
            config.num_sigmas, config.sigma_max, config.sigma_min, config.rho
        ).to(device)
        self.k_probabilities = teacher_steps_distribution(config.k_max)

    def teacher_trajectory(
        self, x: torch.Tensor, start: torch.Tensor, k: int, batch: Batch,
        conditioning: Conditioning, anchor: torch.Tensor | None,
    ) -> torch.Tensor:
        """Move ``x (B, 1, L)`` from ``sigmas[start]`` to ``sigmas[start + k]`` with k Heun
        steps of the teacher (``start (B,)`` grid indices)."""

        def denoiser(y: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            return self.teacher(y, sigma, batch.labels, mixture=batch.mixture, anchor=anchor, **conditioning)

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
        x_det, conditioning = self.extractor(batch)
        anchor = anchor_of(config, x_det)

        inputs: list[torch.Tensor] = []
        sigmas: list[torch.Tensor] = []
        consistent = config.consistency_weight > 0
        if consistent:
            k = int(torch.multinomial(self.k_probabilities, 1, generator=generators.shared)) + 1
            start = torch.randint(0, config.num_sigmas - k, (size,), generator=local, device=local.device)
            start = start.to(device)
            sigma_n, sigma_nk = self.sigmas[start], self.sigmas[start + k]
            x_t = batch.target + sigma_n.reshape(-1, 1, 1) * draw_noise(batch.target, local)
            with torch.no_grad():
                x_nk = self.teacher_trajectory(x_t, start, k, batch, conditioning, anchor)
                target = ema(x_nk, sigma_nk, batch.labels, mixture=batch.mixture, anchor=anchor, **conditioning)
            inputs.append(x_t)
            sigmas.append(sigma_n)

        denoised = config.denoising_weight > 0
        if denoised:
            sigma_d = training_sigmas(config, size, local).to(device).clamp_min(config.sigma_min)
            x_d = batch.target + sigma_d.reshape(-1, 1, 1) * draw_noise(batch.target, local)
            inputs.append(x_d)
            sigmas.append(sigma_d)
        predictive = config.predictive_weight > 0
        if predictive:
            sigma_p = training_sigmas(config, size, local).to(device).clamp_min(config.sigma_min)
            inputs.append(x_det + sigma_p.reshape(-1, 1, 1) * draw_noise(x_det, local))
            sigmas.append(sigma_p)
        times = len(inputs)
        repeat = lambda t: None if t is None else torch.cat([t] * times)  # noqa: E731
        outputs = network(
            torch.cat(inputs),
            torch.cat(sigmas),
            repeat(batch.labels),
            mixture=repeat(batch.mixture),
            anchor=repeat(anchor),
            **repeat_conditioning(conditioning, times),
        )
        chunks = list(outputs.float().chunk(times))
        loss = torch.zeros((), device=device)
        parts: dict[str, torch.Tensor] = {}
        if denoised:
            denoising = edm_denoising_loss(chunks[int(consistent)], batch.target, sigma_d, config.data_scale)
            loss = loss + config.denoising_weight * denoising
            parts["loss_denoising"] = denoising.detach()
        if consistent:
            consistency = F.mse_loss(chunks[0], target.float())
            loss = loss + config.consistency_weight * consistency
            parts["loss_consistency"] = consistency.detach()
            parts["teacher_steps"] = torch.tensor(float(k))
        if predictive:
            one_step = chunks[-1].clamp(-1, 1)
            target_stem = batch.target.float()
            if config.predictive_loss == "mse":
                prediction = F.mse_loss(one_step, target_stem) / config.data_scale**2
            else:
                prediction = (F.l1_loss(one_step, target_stem) + multi_resolution_stft_loss(
                    one_step, target_stem, config.predictive_stft_sizes
                )) / config.data_scale
            loss = loss + config.predictive_weight * prediction
            parts["loss_predictive"] = prediction.detach()
        return loss, parts

    def parameter_groups(self, learning_rate: float) -> list[dict]:
        """The optimiser's parameter groups: the student's zeroed output layer (the second
        convolution and the shortcut of its last residual block) at ``output_lr_scale``
        times ``learning_rate``, everything else at ``learning_rate``."""
        block = self.network.net.unpatcher.block
        output = [p for layer in (block.conv2, block.shortcut) for p in layer.parameters()]
        chosen = {id(p) for p in output}
        rest = [p for p in self.network.parameters() if id(p) not in chosen]
        return [{"params": rest, "lr": learning_rate},
                {"params": output, "lr": learning_rate * self.config.output_lr_scale}]

    @torch.no_grad()
    def estimate(self, ema: nn.Module, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        config = self.config
        x_det, conditioning = self.extractor(batch)
        anchor = anchor_of(config, x_det)
        sigmas = consistency_sigmas(
            config.validation_steps, config.validation_sigma_max, config.sigma_min, config.rho
        )

        def student(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            return ema(x, sigma, batch.labels, mixture=batch.mixture, anchor=anchor, **conditioning)

        return consistency_sampler(student, x_det.float(), sigmas, generator, eps=config.sigma_min)


def train_distill(
    config: DistillConfig, run_dir: Path, resume: bool = True, stream: TextIO | None = None
) -> RunResult:
    """Train (or resume) a student run in ``run_dir`` from ``config.extractor`` (a run or an
    imported model, :mod:`core.training.frozen_extractor`) and ``config.teacher``, which
    must have been trained on that extractor."""
    from core.training.frozen_extractor import (
        check_same_weights,
        is_run_folder,
        open_extractor,
        record_extractor,
    )

    teacher_run = open_run(config.teacher, "diffusion")
    taught = teacher_run.resolved.config
    extractor = open_extractor(config.extractor, taught.net)
    same_extractor = (teacher_run.resolved.net == extractor.architecture if is_run_folder(config.extractor)
                      else taught.extractor == config.extractor)
    if not same_extractor:
        raise ConfigError(
            f"the teacher {teacher_run.path} was not trained on the extractor {config.extractor} "
            f"(it was trained on {taught.extractor})"
        )
    check_same_weights(teacher_run.path, extractor)
    record_extractor(run_dir, extractor, resume)
    config = replace(
        config,
        net=extractor.net,
        anchor=taught.anchor,
        sigma_data=taught.data_scale,
    )
    teacher = teacher_run.unet()
    return run_stage(
        config,
        lambda resolved, device: DistillStage(resolved, extractor.network, teacher, device),
        run_dir,
        resume=resume,
        net=extractor.architecture,
        stream=stream,
        labels=extractor.labels,
    )
