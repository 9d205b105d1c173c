"""What the user chose in the options panel, as a plain dataclass (no Qt).

:meth:`AppOptions.to_separation_options` turns it into the engine's
:class:`core.jobs.SeparationOptions`, so the app and the CLI share one set of
defaults; :meth:`AppOptions.problems` runs the checks of :mod:`core.option_checks`
that the CLI runs, and words their reasons as sentences.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from core.devices import DEFAULT_SEPARATE_THREADS, DEVICE_NAMES
from core.errors import ConfigError
from core.instruments import DEFAULT_HIGH_BAND, HIGH_BAND_MODES, INSTRUMENTS
from core.jobs import DEFAULT_TEMPLATE, SeparationOptions
from core.model import PRESET_ORDER
from core.option_checks import BIT_DEPTHS as ENGINE_BIT_DEPTHS
from core.option_checks import check_output_format, check_stems, check_template
from core.pipeline import StreamSettings

FORMATS: tuple[str, ...] = ("wav", "flac")
"""The app offers the lossless formats of :data:`core.option_checks.OUTPUT_FORMATS`."""
BIT_DEPTHS: tuple[str, ...] = ("keep", *ENGINE_BIT_DEPTHS)
"""``keep`` = the input's depth (``SeparationOptions.subtype = None``)."""
BIT_DEPTH_LABELS = {"keep": "Keep input", "PCM_16": "16-bit PCM", "PCM_24": "24-bit PCM", "FLOAT": "32-bit float"}
DEVICES = DEVICE_NAMES
DEVICE_LABELS = {"auto": "Auto", "cpu": "CPU", "cuda": "CUDA (NVIDIA)", "mps": "MPS (Apple)"}
HIGH_BAND_LABELS = {"assign": "Share among the stems", "learned": "Share (learned)", "residual": "Leave in Other"}

MAX_THREADS = 256
"""The most CPU threads the app's settings accept (the spin box offers up to the machine's cores)."""

APP_BLOCK_FRAMES = 1 << 14
"""Frames read per block in the app: progress is reported after each block, so a
smaller block than the CLI's gives a smoother progress bar (same output)."""


def bit_depth_problem(fmt: str, bit_depth: str) -> str:
    """Why the format ``fmt`` cannot hold ``bit_depth`` (``keep`` included), or ``""``."""
    try:
        check_output_format(fmt, None if bit_depth == "keep" else bit_depth)
    except ConfigError as error:
        return str(error)
    return ""


def default_output_folder() -> Path:
    return Path.home() / "Music" / "Stemforge"


@dataclass(frozen=True)
class AppOptions:
    """The panel's choices. ``model`` is the chosen model's id (``""``: the default model)
    and ``model_stems`` its stems, which ``stems`` are checked against and ordered by."""

    stems: tuple[str, ...] = INSTRUMENTS
    residual: bool = True
    preset: str = "balanced"
    device: str = "auto"
    out_dir: Path = field(default_factory=default_output_folder)
    format: str = "wav"
    bit_depth: str = "keep"
    template: str = DEFAULT_TEMPLATE
    overwrite: bool = False
    high_band: str = DEFAULT_HIGH_BAND
    threads: int = DEFAULT_SEPARATE_THREADS
    model: str = ""
    model_stems: tuple[str, ...] = INSTRUMENTS

    def problems(self) -> list[str]:
        """Readable reasons why a run cannot start with these options (empty when fine)."""
        found = []
        for check in (lambda: check_stems(self.stems, self.model_stems), lambda: check_template(self.template),
                      lambda: check_output_format(self.format, self._subtype)):
            try:
                check()
            except ConfigError as error:
                found.append(f"{str(error)[0].upper()}{str(error)[1:]}.")
        if str(self.out_dir).strip() in ("", "."):
            found.append("Choose an output folder.")
        return found

    def to_separation_options(self) -> SeparationOptions:
        return SeparationOptions(
            out_dir=Path(self.out_dir).expanduser(),
            stems=tuple(s for s in self.model_stems if s in self.stems),  # the model's order
            preset=self.preset,
            device=self.device,
            format=self.format,
            subtype=self._subtype,
            template=self.template,
            residual=self.residual,
            overwrite=self.overwrite,
            high_band=self.high_band,
            threads=self.threads,
            settings=StreamSettings(block_frames=APP_BLOCK_FRAMES),
        )

    @property
    def _subtype(self) -> str | None:
        """The engine's ``subtype``: None keeps each input's bit depth."""
        return None if self.bit_depth == "keep" else self.bit_depth

    def sanitised(self) -> AppOptions:
        """The same options with unknown values (e.g. from old settings) replaced by defaults."""
        defaults = AppOptions()
        return replace(
            self,
            stems=tuple(s for s in self.model_stems if s in self.stems),
            preset=self.preset if self.preset in PRESET_ORDER else defaults.preset,
            device=self.device if self.device in DEVICES else defaults.device,
            format=self.format if self.format in FORMATS else defaults.format,
            bit_depth=self.bit_depth if self.bit_depth in BIT_DEPTHS else defaults.bit_depth,
            template=self.template or defaults.template,
            high_band=self.high_band if self.high_band in HIGH_BAND_MODES else defaults.high_band,
            threads=self.threads if isinstance(self.threads, int) and 1 <= self.threads <= MAX_THREADS
            else defaults.threads,
            out_dir=Path(self.out_dir) if str(self.out_dir).strip() not in ("", ".") else defaults.out_dir,
        )
