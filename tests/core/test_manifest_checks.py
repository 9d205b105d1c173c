"""Issue 16 case 4: a manifest is checked (checksum, bounds, cost) before anything it
describes is allocated, and a bad one is one line naming the bundle, never a traceback."""

from __future__ import annotations

import json
import resource

import pytest
import torch

import core.bundle as bundle
from core.bundle import load_bundle, save_bundle
from core.cli import main
from core.errors import ModelLoadError
from core.manifest_checks import check_cost, seal
from core.model import Preset
from core.nn.config import get_config
from core.nn.unet import UNet

PRESETS = {"draft": Preset("draft", 0, 0.0), "fast": Preset("fast", 1, 0.05)}


@pytest.fixture
def tiny_bundle(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle, "model_search_paths", lambda: [tmp_path / "installed"])
    config = get_config("tiny")
    return save_bundle(tmp_path / "b", bundle_id="tiny-test", config=config, extractor=UNet(config),
                       student=UNet(config, noise_conditioned=True), presets=PRESETS)


def edit(folder, change, reseal=True):
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(seal(manifest) if reseal else manifest))


def test_the_checksum_covers_the_manifest(tiny_bundle):
    assert load_bundle(tiny_bundle).model_id == "tiny-test"
    edit(tiny_bundle, lambda m: m["architecture"]["unet"].update({"channels": 2048}), reseal=False)
    with pytest.raises(ModelLoadError, match=r"manifest\.json: manifest checksum mismatch"):
        load_bundle(tiny_bundle)
    edit(tiny_bundle, lambda m: m.pop("manifest_sha256"), reseal=False)
    with pytest.raises(ModelLoadError, match="has no manifest_sha256"):
        load_bundle(tiny_bundle)


def test_2048_channels_are_refused_before_anything_is_allocated(tiny_bundle):
    """The reproduction: 5.7 GB of RSS and a 50-line traceback before the fix."""
    edit(tiny_bundle, lambda m: m["architecture"]["unet"].update({"channels": 2048}))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with pytest.raises(ModelLoadError) as caught:
        load_bundle(tiny_bundle)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    message = str(caught.value)
    assert "weights.safetensors" in message and "M values" in message and "\n" not in message
    assert grown_mib < 200, grown_mib


def test_16_million_channels_are_out_of_bounds(tiny_bundle):
    edit(tiny_bundle, lambda m: m["architecture"]["unet"].update({"channels": 16_000_000}))
    with pytest.raises(ModelLoadError, match=r"channels = 16000000 is outside the sane range"):
        load_bundle(tiny_bundle)


@pytest.mark.parametrize("change, reason", [
    (lambda m: m.update({"sample_rate": 0}), "sample_rate = 0 is outside"),
    (lambda m: m.update({"sample_rate": 22050.5}), "sample_rate must be a whole number"),
    (lambda m: m.update({"segment_samples": "4096"}), "segment_samples must be a whole number"),
    (lambda m: m.update({"instruments": ["bass", "drums", "../../x", "piano"]}), "not usable as a file name"),
    (lambda m: m.update({"instruments": ["bass", "bass", "guitar", "piano"]}), "labels repeat"),
    (lambda m: m["architecture"]["unet"].update({"factors": [2] * 40}), "factors must be a list of 1 to 12"),
    (lambda m: m["architecture"]["unet"].update({"blocks_per_level": True}), "must be a whole number"),
    (lambda m: m["presets"]["fast"].update({"steps": 10**9}), "bad steps"),
    (lambda m: m.update({"diffusion": {"sigma_data": -1}}), "sigma_data must be > 0"),
    (lambda m: m.update({"networks": "extractor"}), "networks must be a list"),
    (lambda m: m["files"].update({"../weights": "0" * 64}), "does not list"),
])
def test_invalid_values_are_one_line_naming_the_bundle(tiny_bundle, change, reason):
    edit(tiny_bundle, change)
    with pytest.raises(ModelLoadError, match="manifest.json") as caught:
        load_bundle(tiny_bundle)
    assert reason in str(caught.value) and "\n" not in str(caught.value)


def test_sample_rate_zero_through_the_command_line(tiny_bundle, make_audio, tmp_path, capsys):
    """Before the fix the model loaded and every input then failed with "internal error"."""
    edit(tiny_bundle, lambda m: m.update({"sample_rate": 0}))
    path = make_audio(seconds=0.2)
    assert main(["separate", str(path), "--model", str(tiny_bundle), "--out", str(tmp_path / "o")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "manifest.json" in error and "sample_rate" in error
    assert "Traceback" not in error and "internal error" not in error
    assert not (tmp_path / "o").exists()


def test_an_unknown_model_id_is_a_usage_error(tiny_bundle, make_audio, tmp_path, capsys):
    path = make_audio(seconds=0.2)
    assert main(["separate", str(path), "--model", "no-such-model", "--out", str(tmp_path / "o")]) == 2
    assert "no model 'no-such-model': not a model file or folder and not an installed model id" in capsys.readouterr().err


def test_the_memory_estimate_refuses_what_would_not_fit(tmp_path):
    file = tmp_path / "weights.safetensors"
    with pytest.raises(ModelLoadError, match="loading needs about 6.0 GB of memory; this machine has 4.0 GB"):
        check_cost(values=1_000_000_000, networks=2, weights_bytes=2_000_000_000, file=file, memory=4_000_000_000)
    check_cost(values=1_000_000, networks=2, weights_bytes=2_000_000, file=file, memory=4_000_000_000)


def test_counting_allocates_nothing():
    values = bundle.count_values(get_config("paper"), ["extractor", "student"])
    with torch.device("meta"):
        expected = 2 * sum(p.numel() for p in UNet(get_config("paper")).parameters())
    assert values >= expected > 800e6
