"""Which model the measuring commands (eval, sweep, bench) run.

``--model`` takes what ``stemforge separate`` takes (an installed model id, a model
folder or file, or nothing for the default, :mod:`core.models.registry`) plus ``random:CONFIG[:SEGMENT]``: a model
of a named :data:`core.nn.architectures.ARCHITECTURES` entry (``tiny``, ``lite``, ``paper``,
``bandsplit-tiny``, ``bandsplit-lite``)
with random weights, extractor + student + teacher, optionally with another segment
length (a multiple of the configuration's hop). Its quality is meaningless; it exists so
speed and memory can be measured and the commands exercised (CI) without a trained
bundle.
"""

from __future__ import annotations

import torch

from core.devices import resolve_device
from core.errors import ConfigError
from core.model import Preset, StemModel

RANDOM_PREFIX = "random:"

PAPER_PRESETS: dict[str, Preset] = {
    "draft": Preset("draft", 0, 0.0),
    "fast": Preset("fast", 1, 0.0124),
    "balanced": Preset("balanced", 2, 0.25),
    "best": Preset("best", 4, 0.25),
}
"""The paper's operating points (core/METHOD.md section 5), used by random-weight models."""


def random_model(config_name: str, seed: int = 0, segment_samples: int | None = None) -> StemModel:
    """A :class:`core.hybrid.HybridModel` of a named architecture with random weights.

    Args:
        config_name: key of :data:`core.nn.architectures.ARCHITECTURES`.
        seed: seeds the weight initialisation, so two calls build the same model.
        segment_samples: segment length (default: the configuration's).
    """
    from core.hybrid import HybridModel
    from core.nn.architectures import get_architecture
    from core.nn.extractors import build_extractor, build_refiner

    config = get_architecture(config_name)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        extractor = build_extractor(config)
        student = build_refiner(config)
        teacher = build_refiner(config)
    finally:
        torch.random.set_rng_state(state)
    return HybridModel(extractor, student, dict(PAPER_PRESETS), teacher=teacher,
                       model_id=f"random-{config_name}", sha256="random-weights-seed-%d" % seed,
                       segment_samples=segment_samples)


def resolve_model(spec: str | None, device: str = "auto") -> StemModel:
    """Load ``spec``: ``random:CONFIG[:SEGMENT]``, a bundle folder, an installed id, or None."""
    if spec is not None and str(spec).startswith(RANDOM_PREFIX):
        name, _, segment = str(spec)[len(RANDOM_PREFIX):].partition(":")
        if segment and not segment.isdigit():
            raise ConfigError(f"bad model {spec!r}: write random:CONFIG or random:CONFIG:SEGMENT_SAMPLES")
        model = random_model(name, segment_samples=int(segment) if segment else None)
        return model.to(resolve_device(device))
    from core.models.registry import load_model

    return load_model(spec, device)
