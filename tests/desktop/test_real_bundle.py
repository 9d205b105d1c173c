"""The window with the real model code path: a tiny bundle on disk, core.bundle.load_model in the worker."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from core.jobs import FileStatus
from desktop.model_info import describe


@pytest.fixture
def tiny_bundle(tmp_path, monkeypatch):
    bundle = pytest.importorskip("core.bundle")
    from core.model import Preset
    from core.nn.config import get_config
    from core.nn.unet import UNet

    monkeypatch.setattr(bundle, "model_search_paths", lambda: [tmp_path / "installed"])
    # an installation ships the learned high-band mask (the default) next to its models
    shipped_mask = Path(bundle.__file__).resolve().parents[1] / "resources" / "models" / "high-band.safetensors"
    (tmp_path / "installed").mkdir()
    shutil.copyfile(shipped_mask, tmp_path / "installed" / "high-band.safetensors")
    torch.manual_seed(0)
    config = get_config("tiny")
    presets = {"draft": Preset("draft", 0, 0.0), "fast": Preset("fast", 1, 0.0124),
               "balanced": Preset("balanced", 2, 0.25), "best": Preset("best", 4, 0.25)}
    return bundle.save_bundle(tmp_path / "installed" / "tiny-desktop", bundle_id="tiny-desktop", config=config,
                              extractor=UNet(config), student=UNet(config, noise_conditioned=True),
                              presets=presets, metrics={"si_sdri_db": {"all": 1.5}})


def test_the_default_bundle_is_found_described_and_run(tiny_bundle, make_window, make_audio, tmp_path, qtbot):
    info = describe()  # the installed default, as the app finds it
    assert info.installed and info.model_id == "tiny-desktop"
    assert info.preset_summary("fast") == "1 step · σmax 0.0124"
    assert "si_sdri_db" in info.card_markdown()

    window = make_window(model=None, model_info=info)  # no injected loader: core.bundle.load_model
    assert window.model_available and not window.banner.isVisible()
    window.options_panel.set_options(replace(window.current_options(), preset="draft", device="cpu"))
    window.add_paths([make_audio("real.wav", seconds=0.4)])
    with qtbot.waitSignal(window.run_control.run_finished, timeout=30000):
        assert window.run_control.start()
    assert [item.status for item in window.queue] == [FileStatus.DONE], window.queue.items[0].message
    assert (tmp_path / "stems" / "real" / "bass.wav").is_file()
