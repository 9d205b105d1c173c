"""Launching a training stage: set up this process (alone or one of several under
torchrun), open the run's datasets, and hand both to :func:`core.training.loop.train`.

Every stage's ``train_*`` function (:mod:`core.training.extractor`, ``diffusion``,
``distill``, ``mixer``) ends in :func:`run_stage`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import torch

from core.nn.architectures import Architecture
from core.training.config import TrainingConfig
from core.training.distributed import barrier, setup, teardown
from core.training.loop import RunResult, Stage, train
from core.training.resolved import ResolvedConfig, resolve
from core.training.runs import ThrottledProgress

VALIDATION_CROP_SEED = 0
"""Seeds the validation crops of every run, whatever its ``--seed``: the parts of a model
trained with different seeds then score the same crops, and their curves compare."""


def open_datasets(resolved: ResolvedConfig, progress=None, labels: tuple[int, ...] | None = None):
    """The training crops and (when the split exists) the validation crops of a run.

    Both are ``core.data.datasets.RandomCropDataset`` of ``segment_samples``-long crops:
    the training crops seeded with ``config.seed``, the validation crops with
    :data:`VALIDATION_CROP_SEED`. A dataset without the validation split trains without
    validation. ``progress(fraction, message)`` follows the first decoding of the audio;
    ``labels`` restricts the instruments the crops target (default: all four).
    """
    from core.data.datasets import RandomCropDataset

    config = resolved.config
    extra = {} if progress is None else {"progress": progress}
    if labels is not None:
        extra["labels"] = labels
    train_dataset = RandomCropDataset(
        config.data,
        config.train_split,
        resolved.segment_samples,
        seed=config.seed,
        remix=config.remix,
        include_other=config.include_other,
        other_probability=config.other_probability,
        **extra,
    )
    validation_dataset = None
    if config.validation_crops > 0 and (Path(config.data) / config.validation_split).is_dir():
        validation_dataset = RandomCropDataset(
            config.data, config.validation_split, resolved.segment_samples, seed=VALIDATION_CROP_SEED,
            include_other=config.include_other, **extra
        )
    return train_dataset, validation_dataset


def run_stage(
    config: TrainingConfig,
    build_stage: Callable[[ResolvedConfig, torch.device], Stage],
    run_dir: Path,
    resume: bool = True,
    net: Architecture | None = None,
    stream: TextIO | None = None,
    labels: tuple[int, ...] | None = None,
) -> RunResult:
    """Set up this process (distributed or not), open the data and :func:`train`.

    Args:
        config: the stage configuration.
        build_stage: ``(resolved, device) -> Stage``.
        run_dir: the run folder.
        resume: continue from the run's checkpoint when there is one.
        net: the architecture (the refiners pass the extractor run's); default
            the architecture named ``config.net``.
        stream: where progress lines go (default stderr).
        labels: the instruments the crops target (default all four).
    """
    context = setup(config.device)
    try:
        resolved = resolve(config, net, context.world_size)
        # Rank 0 decodes the audio into the dataset's cache first; the others then read it.
        if context.is_main:
            datasets = open_datasets(resolved, ThrottledProgress(stream), labels)
        barrier(context)
        if not context.is_main:
            datasets = open_datasets(resolved, labels=labels)
        train_dataset, validation_dataset = datasets
        return train(
            lambda: build_stage(resolved, context.device),
            resolved,
            run_dir,
            context,
            train_dataset,
            validation_dataset,
            resume=resume,
            stream=stream,
        )
    finally:
        teardown(context)


def run_on_extractor(
    config: TrainingConfig,
    stage_class: Callable[[ResolvedConfig, torch.nn.Module, torch.device], Stage],
    run_dir: Path,
    resume: bool = True,
    stream: TextIO | None = None,
) -> RunResult:
    """:func:`run_stage` for a stage built on the frozen extractor ``config.extractor``
    names (the teacher, the mixer): an extractor run, whose architecture the run takes, or
    an imported model (:mod:`core.training.frozen_extractor`); ``stage_class(resolved,
    extractor, device)`` builds the stage."""
    from core.training.frozen_extractor import open_extractor, record_extractor

    extractor = open_extractor(config.extractor, config.net)
    record_extractor(run_dir, extractor, resume)
    config = replace(config, net=extractor.net)
    return run_stage(
        config,
        lambda resolved, device: stage_class(resolved, extractor.network, device),
        run_dir,
        resume=resume,
        net=extractor.architecture,
        stream=stream,
        labels=extractor.labels,
    )
