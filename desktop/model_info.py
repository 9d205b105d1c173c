"""What the app shows about the model: presets with their figures, and the model card (no Qt).

Every installed model (:func:`list_models`, through :mod:`core.models.registry`) or one
bundle (:func:`describe`, through :mod:`core.bundle`), imported lazily, so the window opens
even when those modules or any model are missing. A model brings its own stems (the
instrument buttons follow them), its residual's name and, for imported models, a licence
note and where it came from. A bundle manifest's
``presets[name]`` may hold ``steps``, ``sigma_max`` and, once measured, ``rtf``
(wall seconds per audio second), ``si_sdri`` (dB) and ``gain_db`` (SI-SDRi gain over
``draft`` on validation, from ``stemforge tune``); ``metrics`` may hold more.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from core.instruments import INSTRUMENTS, residual_stem
from core.model import PRESET_ORDER, withheld_presets

log = logging.getLogger(__name__)

PRESET_DESCRIPTIONS = {
    "draft": "deterministic extractor only",
    "fast": "consistency refiner, 1 step",
    "balanced": "consistency refiner, 2 steps",
    "best": "consistency refiner, 4 steps",
}
CARD_NAMES = ("MODEL_CARD.md", "model_card.md", "README.md")


@dataclass
class ModelInfo:
    """The model a run will use, or why there is none.

    Attributes:
        spec: what to pass to the model loader (bundle path), or None for the default.
        presets: name -> figures (``steps``, ``sigma_max``, optional ``views``, ``gain_db``,
            ``rtf``, ``si_sdri``).
        card: model card text (markdown) when the bundle ships one.
        missing: a readable reason when no model is installed.
        stems: the model's stems, its own names, in its order.
        family, licence, origin, source: as :class:`core.models.interface.ModelDescription`
            (``source == "installed"``: the user may remove it).
    """

    model_id: str | None = None
    spec: str | None = None
    presets: dict[str, dict] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    card: str = ""
    details: dict = field(default_factory=dict)
    missing: str | None = None
    stems: tuple[str, ...] = INSTRUMENTS
    family: str = "stemforge"
    licence: str = ""
    origin: str = ""
    source: str = ""

    @property
    def installed(self) -> bool:
        return self.missing is None

    @property
    def residual(self) -> str:
        """The residual stem's name for this model (``other``, or ``residual`` beside its own ``other``)."""
        return residual_stem(self.stems)

    @property
    def removable(self) -> bool:
        return self.source == "installed"

    def stems_note(self) -> str:
        """One or two sentences for the model selector: stems, rate, licence."""
        note = (f"Stems: {', '.join(self.stems)}, plus {self.residual} (the rest). "
                + (f"{self.details['sample_rate']} Hz. " if self.details.get("sample_rate") else ""))
        return note + (f"Licence: {self.licence}" if self.licence else "")

    @classmethod
    def from_description(cls, description) -> ModelInfo:
        """From a :class:`core.models.interface.ModelDescription`."""
        details = {"family": description.family, "path": str(description.path), "sample_rate": description.sample_rate,
                   "channels": description.channels}
        if description.parameters:
            details["parameters"] = description.parameters
        details.update({f"sha256 {name}": digest for name, digest in description.files.items()})
        return cls(model_id=description.id, spec=str(description.path),
                   presets={name: dict(row) for name, row in description.presets.items()},
                   metrics=dict(description.details.get("metrics") or {}),
                   card=find_model_card(description.path) if description.family == "stemforge" else "",
                   details=details, stems=tuple(description.stems), family=description.family,
                   licence=description.licence, origin=description.origin, source=description.source)

    @classmethod
    def from_model(cls, model) -> ModelInfo:
        """Describe an already-loaded :class:`core.model.StemModel` (tests, custom loaders)."""
        presets = {name: {"steps": p.steps, "sigma_max": p.sigma_max, "gain_db": p.gain_db, "views": p.views,
                          "mask": p.mask, "shifts": p.shifts, "measure_first": p.measure_first}
                   for name, p in model.presets.items()}
        return cls(model_id=model.model_id, presets=presets, stems=tuple(model.instruments),
                   family=str(getattr(model, "family", "stemforge")),
                   details={"sha256": model.sha256, "sample_rate": model.sample_rate})

    def preset_summary(self, name: str) -> str:
        """One line for the preset selector, e.g. ``2 steps · σmax 0.25 · 0.31× realtime · +9.2 dB SI-SDRi``."""
        figures = self.presets.get(name, {})
        steps = figures.get("steps")
        views = int(figures.get("views") or 1)
        parts = []
        if steps is not None:
            plain = views == 1 and not figures.get("mask") and not figures.get("shifts")
            if self.family != "stemforge" and steps == 0:
                parts.append("the model as its authors run it" if plain else "the model")
            else:
                parts.append(("extractor only" if plain else "extractor") if steps == 0
                             else f"{steps} step{'s' if steps != 1 else ''}")
            if views > 1:
                parts.append(f"{views} views (the mix and its polarity inverse)")
            if figures.get("shifts"):
                parts.append(f"{figures['shifts']} shifted renders averaged")
            if figures.get("mask"):
                parts.append("ratio mask")
        elif name in PRESET_DESCRIPTIONS:
            parts.append(PRESET_DESCRIPTIONS[name])
        if figures.get("sigma_max"):
            parts.append(f"σmax {figures['sigma_max']:g}")
        if figures.get("rtf") is not None:
            parts.append(f"{float(figures['rtf']):.2g}× realtime")
        if figures.get("si_sdri") is not None:
            parts.append(f"{float(figures['si_sdri']):+.1f} dB SI-SDRi")
        if figures.get("gain_db") is not None and (figures.get("steps") or views > 1):
            parts.append(f"{float(figures['gain_db']):+.2f} dB over draft")
        return " · ".join(parts)

    def withheld_presets(self) -> dict[str, str]:
        """Presets not offered as a separate choice, with the reason
        (:func:`core.model.withheld_presets` on the measured gains)."""
        return withheld_presets({name: figures.get("gain_db") for name, figures in self.presets.items()},
                                [name for name, figures in self.presets.items() if figures.get("measure_first")])

    def preset_names(self) -> list[str]:
        known = [name for name in PRESET_ORDER if not self.presets or name in self.presets]
        return known or list(PRESET_ORDER)

    def card_markdown(self) -> str:
        """The model card, or a card assembled from the manifest's figures."""
        if self.card:
            return self.card
        if not self.installed:
            return f"**No model installed.**\n\n{self.missing}"
        lines = [f"## Model `{self.model_id}`", ""]
        for key, value in self.details.items():
            lines.append(f"- {key}: `{value}`")
        if self.presets:
            lines += ["", "| preset | figures |", "|---|---|"]
            lines += [f"| {name} | {self.preset_summary(name)} |" for name in self.preset_names()]
        if self.metrics:
            lines += ["", "### Metrics", ""]
            lines += [f"- {key}: {value}" for key, value in self.metrics.items()]
        return "\n".join(lines)


def find_model_card(bundle: Path) -> str:
    """Markdown found next to a bundle (a folder or a file), or ``""``."""
    bundle = Path(bundle)
    folder = bundle if bundle.is_dir() else bundle.parent
    candidates = [folder / name for name in CARD_NAMES]
    if bundle.is_file():
        candidates.insert(0, bundle.with_suffix(".md"))
    for candidate in candidates:
        if candidate.is_file():
            try:
                return candidate.read_text(encoding="utf-8")
            except OSError:
                continue
    return ""


def describe_model(spec: str | Path) -> ModelInfo:
    """Any model by id or path (:func:`core.models.registry.find_model`), never raising."""
    try:
        registry = importlib.import_module("core.models.registry")
        return ModelInfo.from_description(registry.find_model(spec))
    except Exception as error:
        log.warning("cannot read model %s: %s", spec, error)
        return ModelInfo(missing=f"The model {spec} cannot be read: {error}")


def describe(spec: str | Path | None = None) -> ModelInfo:
    """Information about a bundle (``spec``) or the default installed one, never raising."""
    try:
        bundle = importlib.import_module("core.bundle")
    except ImportError as error:
        return ModelInfo(missing=f"The model engine is not available ({error}).")
    try:
        if spec is None and not list(bundle.installed_bundles()):
            how = bundle.HOW_TO_GET_ONE
            return ModelInfo(missing=how[0].upper() + how[1:] + ".")
        path = Path(bundle.find_bundle(spec))  # the loader's own choice: a folder, an id, or the default
        described = bundle.describe_bundle(path)
        manifest = bundle.read_manifest(path)
    except Exception as error:  # a broken bundle must not stop the window from opening
        log.warning("cannot read model bundle: %s", error)
        return ModelInfo(missing=f"The model bundle cannot be read: {error}")
    presets = manifest["presets"]  # read_manifest checked it: name -> figures
    details = {key: described[key] for key in ("path", "sample_rate", "parameters", "sha256") if key in described}
    return ModelInfo(
        model_id=str(described.get("id") or manifest.get("id") or path.stem),
        spec=str(path),
        presets={name: dict(figures) for name, figures in presets.items()},
        metrics=dict(manifest.get("metrics") or {}),
        card=find_model_card(path),
        details=details,
    )


def list_models() -> tuple[list[ModelInfo], list[str]]:
    """Every installed model (:func:`core.models.registry.installed_models`, the default
    first) and a readable line per model that cannot be read; never raises."""
    try:
        registry = importlib.import_module("core.models.registry")
        descriptions, problems = registry.installed_models()
    except Exception as error:  # a broken install must not stop the window from opening
        log.warning("cannot list the models: %s", error)
        return [], [f"The models cannot be listed: {error}"]
    try:
        default = registry.find_model(None).id if descriptions else None
    except Exception:
        default = None
    infos = [ModelInfo.from_description(d) for d in descriptions]
    infos.sort(key=lambda info: info.model_id != default)  # stable: the default first
    return infos, [str(problem) for problem in problems]
