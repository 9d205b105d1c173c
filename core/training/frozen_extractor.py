"""The extractor a refiner is trained on: a Stemforge extractor run, or any separator of
the model interface (an imported Demucs model, a bundle).

``stemforge train diffusion|distill --extractor SPEC`` takes either:

- a finished extractor run folder (``RUN/config.json`` + checkpoint): the paper's setting.
  Its EMA network is the frozen extractor, and the refiner is its architecture's refiner
  U-Net (a U-Net extractor's stage activations condition it, :mod:`core.nn.extractors`);
- anything ``--model`` takes (:func:`core.models.registry.find_model`): an installed model id
  (``htdemucs_6s``), a Demucs ``.th`` or bag ``.yaml``, a bundle folder. The authors'
  second version refines a pretrained separator the same way (BS-RoFormer). The model
  runs through the streaming pipeline exactly as ``stemforge separate`` runs it on a
  22 050 Hz mono file (:func:`core.evaluation.imported_tune.pipeline_estimates`: resampled
  to its rate, duplicated into its channels, its own segment plan, its ``draft`` preset,
  back to 22 050 Hz), and its estimate of the crop's label is x_det. Its activations mean
  nothing to a U-Net, so the refiner takes x_det as a second input channel (as for a
  band-split extractor): the U-Net ``--config`` names, with ``condition_channels = 1``.
  The refiner trains at the loop's rate (22 050 Hz mono) on the stems the model shares
  with the dataset (the crops' labels are drawn among those:
  :class:`core.data.datasets.RandomCropDataset` ``labels``).

A run on an imported model records the model (id, family, files and sha256) in
``RUN/extractor.json``; resuming it on other weights is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.errors import ConfigError
from core.fileio import write_text_atomic
from core.instruments import INSTRUMENTS, MODEL_SAMPLE_RATE
from core.model import StemModel
from core.nn.architectures import Architecture, get_architecture, refiner_config
from core.nn.config import UNetConfig
from core.training.runs import CONFIG_FILE

EXTRACTOR_RECORD_FILE = "extractor.json"
"""What a refiner run on an imported model records of that model."""

ALL_LABELS = tuple(range(len(INSTRUMENTS)))


def is_run_folder(spec: str | Path) -> bool:
    """Whether ``spec`` names a training run folder (it holds ``config.json``)."""
    return (Path(spec).expanduser() / CONFIG_FILE).is_file()


class ImportedExtractor(nn.Module):
    """A separator of the model interface as a frozen extractor of the training loop.

    ``forward(mixture (B, 1, L), labels (B,)) -> x_det (B, 1, L)``: each crop, a 22 050 Hz
    mono signal, goes through the pipeline as a file would, and the model's ``draft``
    estimate of ``INSTRUMENTS[label]`` comes back at 22 050 Hz, same length. No gradient
    flows (the model is not a parameter of this module).

    Args:
        model: a loaded :class:`~core.models.interface.StemModel`.
    """

    def __init__(self, model: StemModel) -> None:
        super().__init__()
        self.model = model
        self.labels = tuple(i for i, name in enumerate(INSTRUMENTS) if name in model.instruments)
        if not self.labels:
            raise ConfigError(f"model {model.model_id} has none of the dataset's stems "
                              f"({', '.join(INSTRUMENTS)}): there is nothing to refine")
        if "draft" not in model.presets:
            raise ConfigError(f"model {model.model_id} has no draft preset to refine")
        self.preset = model.presets["draft"]

    def to(self, device: torch.device | str) -> ImportedExtractor:
        """Move the model (it holds no parameter of this module); returns self."""
        self.model.to(device)
        return self

    @torch.no_grad()
    def forward(self, mixture: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        from core.evaluation.imported_tune import pipeline_estimates

        crops = mixture.detach().float().cpu().numpy()
        estimates = np.zeros_like(crops)
        for item, label in enumerate(labels.tolist()):
            if label not in self.labels:
                raise ConfigError(f"model {self.model.model_id} has no {INSTRUMENTS[label]} stem")
            estimates[item, 0] = pipeline_estimates(self.model, crops[item, 0], MODEL_SAMPLE_RATE, self.preset,
                                                    [INSTRUMENTS[label]], seed=0)[0]
        return torch.from_numpy(estimates).to(device=mixture.device, dtype=mixture.dtype)


@dataclass(frozen=True)
class FrozenExtractor:
    """What a refiner stage is built on.

    Attributes:
        network: ``(mixture (B, 1, L), labels (B,)) -> x_det (B, 1, L)`` (a run's EMA network,
            or an :class:`ImportedExtractor`).
        architecture: the run's ``resolved.net``: the extractor run's architecture, or for an
            imported model the refiner U-Net (``condition_channels = 1``).
        net: the architecture's name (the run configuration's ``net``).
        labels: the instrument indices the extractor estimates.
        record: for an imported model, what a recipe records of it (id, family, sha256,
            files); None for a run.
    """

    network: nn.Module
    architecture: Architecture
    net: str
    labels: tuple[int, ...] = ALL_LABELS
    record: dict | None = None


def conditioned_refiner(net: str) -> UNetConfig:
    """The refiner U-Net of architecture ``net`` taking x_det as a second input channel."""
    return replace(refiner_config(get_architecture(net)), condition_channels=1)


def open_extractor(spec: str | Path, net: str) -> FrozenExtractor:
    """The frozen extractor ``spec`` names (module docstring), on the CPU (the stage moves it).

    Args:
        spec: an extractor run folder, or a model id, file or bundle folder.
        net: for an imported model, the architecture of the refiner U-Net.

    Raises:
        ConfigError: a run of another stage, or a model without the dataset's stems.
        UnknownModelError, ModelLoadError: not a run and not a model.
    """
    if is_run_folder(spec):
        from core.training.runs import open_run

        run = open_run(spec, "extractor")
        return FrozenExtractor(run.unet(), run.resolved.net, run.resolved.config.net)
    from core.models.interface import model_record
    from core.models.registry import load_model

    model = load_model(str(spec), device="cpu")
    imported = ImportedExtractor(model)
    return FrozenExtractor(imported, conditioned_refiner(net), net, imported.labels, model_record(model))


def check_same_weights(run_dir: Path, extractor: FrozenExtractor) -> None:
    """Refuse an imported extractor whose sha256 is not the one ``run_dir`` recorded (a run
    that recorded none, or a run folder as extractor, passes)."""
    path = Path(run_dir) / EXTRACTOR_RECORD_FILE
    if extractor.record is None or not path.is_file():
        return
    stored = json.loads(path.read_text())
    if stored.get("sha256") != extractor.record["sha256"]:
        raise ConfigError(f"{run_dir} was trained on {stored.get('id')} (sha256 {stored.get('sha256')}); "
                          f"{extractor.record['id']} now has sha256 {extractor.record['sha256']}: "
                          "resume it on the same model, or start a new run")


def record_extractor(run_dir: Path, extractor: FrozenExtractor, resume: bool) -> None:
    """Write an imported extractor's record into ``run_dir``; a resumed run's record is
    checked instead (:func:`check_same_weights`)."""
    path = Path(run_dir) / EXTRACTOR_RECORD_FILE
    if extractor.record is None:
        return
    if resume and path.is_file():
        check_same_weights(run_dir, extractor)
        return
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(extractor.record, indent=2) + "\n")


__all__ = ["EXTRACTOR_RECORD_FILE", "FrozenExtractor", "ImportedExtractor", "check_same_weights",
           "conditioned_refiner", "is_run_folder", "open_extractor", "record_extractor"]
