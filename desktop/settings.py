"""Persisting the user's choices between runs (QSettings, organisation and app "Stemforge").

Values are stored as strings so the native backends and INI files (tests) read
them back alike. A :class:`QSettings` can be passed in (tests point it at a
temporary INI file); the default is ``QSettings("Stemforge", "Stemforge")``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from desktop.options import AppOptions

ORGANISATION = "Stemforge"
APPLICATION = "Stemforge"


def _to_bool(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _to_int(value, default: int) -> int:
    try:
        return int(str(value).strip()) if value is not None else default
    except ValueError:
        return default


class AppSettings:
    def __init__(self, settings: QSettings | None = None):
        self.qsettings = settings if settings is not None else QSettings(ORGANISATION, APPLICATION)

    def _get(self, key: str, default: str) -> str:
        value = self.qsettings.value(key)
        return default if value is None else str(value)

    def load_options(self) -> AppOptions:
        defaults = AppOptions()
        s = self.qsettings
        stems_text = self._get("options/stems", ",".join(defaults.stems))
        options = AppOptions(
            stems=tuple(part for part in stems_text.split(",") if part),
            residual=_to_bool(s.value("options/residual"), defaults.residual),
            preset=self._get("options/preset", defaults.preset),
            device=self._get("options/device", defaults.device),
            out_dir=Path(self._get("options/out_dir", str(defaults.out_dir))),
            format=self._get("options/format", defaults.format),
            bit_depth=self._get("options/bit_depth", defaults.bit_depth),
            template=self._get("options/template", defaults.template),
            overwrite=_to_bool(s.value("options/overwrite"), defaults.overwrite),
            high_band=self._get("options/high_band", defaults.high_band),
            threads=_to_int(s.value("options/threads"), defaults.threads),
            model=self._get("options/model", defaults.model),
        )
        if options.model:  # another model's stems: the options panel keeps those the model has
            options = replace(options, model_stems=options.stems)
        return options.sanitised()

    def save_options(self, options: AppOptions) -> None:
        s = self.qsettings
        s.setValue("options/stems", ",".join(options.stems))
        s.setValue("options/residual", "true" if options.residual else "false")
        s.setValue("options/preset", options.preset)
        s.setValue("options/device", options.device)
        s.setValue("options/out_dir", str(options.out_dir))
        s.setValue("options/format", options.format)
        s.setValue("options/bit_depth", options.bit_depth)
        s.setValue("options/template", options.template)
        s.setValue("options/overwrite", "true" if options.overwrite else "false")
        s.setValue("options/high_band", options.high_band)
        s.setValue("options/threads", str(options.threads))
        s.setValue("options/model", options.model)

    def last_folder(self) -> str:
        return self._get("paths/last_input_folder", str(Path.home()))

    def set_last_folder(self, folder: Path) -> None:
        self.qsettings.setValue("paths/last_input_folder", str(folder))

    def window_state(self) -> dict[str, QByteArray]:
        found = {}
        for key in ("geometry", "state", "main_splitter", "right_splitter"):
            value = self.qsettings.value(f"window/{key}")
            if isinstance(value, QByteArray) and not value.isEmpty():
                found[key] = value
        return found

    def save_window_state(self, values: dict[str, QByteArray]) -> None:
        for key, value in values.items():
            self.qsettings.setValue(f"window/{key}", value)

    def sync(self) -> None:
        self.qsettings.sync()
