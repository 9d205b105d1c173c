"""Options round-trip through QSettings (INI file in tmp_path), bad values fall back to defaults."""

from pathlib import Path

from PySide6.QtCore import QSettings

from core.devices import DEFAULT_SEPARATE_THREADS
from desktop.options import AppOptions
from desktop.settings import AppSettings


def test_round_trip(tmp_path):
    path = str(tmp_path / "s.ini")
    chosen = AppOptions(stems=("drums",), residual=False, preset="fast", device="cpu",
                        out_dir=tmp_path / "out dir", format="flac", bit_depth="PCM_24",
                        template="{track}_{stem}.{ext}", overwrite=True, high_band="residual", threads=3)
    AppSettings(QSettings(path, QSettings.Format.IniFormat)).save_options(chosen)
    assert AppSettings(QSettings(path, QSettings.Format.IniFormat)).load_options() == chosen


def test_unknown_values_fall_back(tmp_path):
    path = str(tmp_path / "s.ini")
    raw = QSettings(path, QSettings.Format.IniFormat)
    raw.setValue("options/preset", "ultra")
    raw.setValue("options/device", "tpu")
    raw.setValue("options/stems", "bass,vocals")
    raw.setValue("options/bit_depth", "PCM_8")
    raw.setValue("options/high_band", "mirror")
    raw.setValue("options/threads", "0")
    raw.sync()
    loaded = AppSettings(QSettings(path, QSettings.Format.IniFormat)).load_options()
    defaults = AppOptions()
    assert (loaded.preset, loaded.device, loaded.bit_depth) == (defaults.preset, defaults.device,
                                                                 defaults.bit_depth)
    assert loaded.stems == ("bass",)
    assert loaded.high_band == defaults.high_band == "learned"
    assert loaded.threads == defaults.threads == DEFAULT_SEPARATE_THREADS
    raw.setValue("options/threads", "many")
    raw.sync()
    assert AppSettings(QSettings(path, QSettings.Format.IniFormat)).load_options().threads == defaults.threads


def test_options_become_engine_options(tmp_path):
    options = AppOptions(stems=("piano", "bass"), bit_depth="keep", out_dir=Path("~/x"))
    engine = options.to_separation_options()
    assert engine.stems == ("bass", "piano")  # label order
    assert engine.subtype is None
    assert engine.out_dir == Path.home() / "x"
    assert AppOptions(bit_depth="FLOAT").to_separation_options().subtype == "FLOAT"
    assert engine.high_band == "learned"
    assert AppOptions(high_band="residual").to_separation_options().high_band == "residual"
    assert engine.threads == DEFAULT_SEPARATE_THREADS and AppOptions(threads=2).to_separation_options().threads == 2


def test_problems_are_readable():
    assert AppOptions().problems() == []
    assert AppOptions(stems=()).problems() == ["Choose at least one instrument."]
    assert "{stem}" in AppOptions(template="{track}.{ext}").problems()[0]
    assert "may only use" in AppOptions(template="{stem}{oops}").problems()[0]
    assert "FLAC" in AppOptions(format="flac", bit_depth="FLOAT").problems()[0]
    assert AppOptions(out_dir=Path("")).problems() == ["Choose an output folder."]
