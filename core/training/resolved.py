"""One training run's resolved configuration: a stage's fields plus what was derived
from them (the architecture, the crop length in samples, the number of processes).

A run writes it to ``RUN/config.json`` before its first step, and a resumed run checks
that the fields that shape the weights are unchanged
(:func:`core.training.runs.check_resumable`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError
from core.instruments import MODEL_SAMPLE_RATE
from core.nn.architectures import Architecture, architecture_from_dict, get_architecture
from core.training.config import STAGES, ExtractorConfig, TrainingConfig
from core.training.refiner_config import DiffusionConfig, DistillConfig, MixerConfig

CONFIG_CLASSES: dict[str, type[TrainingConfig]] = {
    "extractor": ExtractorConfig,
    "diffusion": DiffusionConfig,
    "distill": DistillConfig,
    "mixer": MixerConfig,
}


def config_class(stage: str) -> type[TrainingConfig]:
    """The configuration class of a stage name."""
    try:
        return CONFIG_CLASSES[stage]
    except KeyError:
        raise ConfigError(f"unknown training stage {stage!r}; choose from {', '.join(STAGES)}") from None


def segment_samples(seconds: float, hop: int, sample_rate: int = MODEL_SAMPLE_RATE) -> int:
    """Crop length in samples: ``seconds * sample_rate`` rounded to the nearest multiple of
    ``hop`` (at least one hop), so the U-Net can take it."""
    return max(1, round(seconds * sample_rate / hop)) * hop


@dataclass(frozen=True)
class ResolvedConfig:
    """A stage configuration plus what was derived from it for one run.

    Attributes:
        config: the stage's fields.
        net: the architecture actually trained (the extractor run's for the refiners, who
            train its refiner U-Net).
        segment_samples: the crop length L in samples (a multiple of ``net.hop``).
        world_size: number of distributed processes.
    """

    config: TrainingConfig
    net: Architecture
    segment_samples: int
    world_size: int = 1

    @property
    def stage(self) -> str:
        return self.config.stage

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "config": self.config.to_dict(),
            "net": self.net.to_dict(),
            "segment_samples": self.segment_samples,
            "world_size": self.world_size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResolvedConfig:
        try:
            return cls(
                config=config_class(data["stage"]).from_dict(data["config"]),
                net=architecture_from_dict(data["net"]),
                segment_samples=int(data["segment_samples"]),
                world_size=int(data.get("world_size", 1)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"malformed run configuration ({error})") from None


def resolve(config: TrainingConfig, net: Architecture | None = None, world_size: int = 1) -> ResolvedConfig:
    """Derive the architecture and crop length of a run.

    Args:
        config: the stage configuration.
        net: the architecture to use instead of the one named ``config.net`` (the refiners pass
            the extractor run's).
        world_size: distributed processes; ``config.batch`` must be a multiple of it.
    """
    net = net if net is not None else get_architecture(config.net)
    if config.batch % world_size:
        raise ConfigError(
            f"batch {config.batch} must be a multiple of the number of processes {world_size}"
        )
    return ResolvedConfig(config, net, segment_samples(config.crop_seconds, net.hop), world_size)


def mean_teacher_steps(k_max: int) -> float:
    """E[k] for P(k) ~ k on 1..k_max: ``sum k^2 / sum k = (2 k_max + 1) / 3``."""
    return (2 * k_max + 1) / 3


__all__ = [
    "CONFIG_CLASSES",
    "ResolvedConfig",
    "config_class",
    "mean_teacher_steps",
    "resolve",
    "segment_samples",
]
