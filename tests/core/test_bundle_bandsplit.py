"""Bundles of a band-split extractor: same files and checks, the architecture under
``architecture.bandsplit``, the same separations after a round trip."""

from __future__ import annotations

import json

import pytest
import torch

from core.bundle import describe_bundle, load_bundle, save_bundle
from core.errors import ConfigError, ModelLoadError
from core.hybrid import HybridModel
from core.manifest_checks import seal
from core.model import Preset
from core.nn.architectures import get_architecture
from core.nn.bandsplit import BandSplitNet
from core.nn.extractors import build_extractor, build_refiner
from core.nn.unet import count_parameters
from core.progress import CancelToken

PRESETS = {"draft": Preset("draft", 0, 0.0), "fast": Preset("fast", 1, 0.0124)}


@pytest.fixture(autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_networks(seed: int = 0):
    architecture = get_architecture("bandsplit-tiny")
    generator = torch.Generator().manual_seed(seed)
    nets = [build_extractor(architecture), build_refiner(architecture)]
    with torch.no_grad():
        for net in nets:
            for parameter in net.parameters():
                parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))
    return architecture, nets


def test_a_band_split_bundle_round_trips_and_separates_the_same(tmp_path):
    architecture, (extractor, student) = random_networks()
    folder = save_bundle(tmp_path / "b", bundle_id="bs", config=architecture, config_name="bandsplit-tiny",
                         extractor=extractor, student=student, presets=PRESETS, dtype=torch.float32)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["architecture"]["name"] == "bandsplit-tiny"
    assert manifest["architecture"]["unet"] == architecture.refiner.to_dict()
    assert manifest["architecture"]["bandsplit"]["n_fft"] == architecture.n_fft
    assert describe_bundle(folder)["parameters"] == count_parameters(extractor) + count_parameters(student)

    loaded = load_bundle(folder, "cpu")
    assert isinstance(loaded.extractor, BandSplitNet)
    original = HybridModel(extractor, student, PRESETS, segment_samples=architecture.segment_samples)
    mixture = torch.randn(2, architecture.segment_samples, generator=torch.Generator().manual_seed(3))
    for preset in PRESETS.values():
        outputs = [model.separate(mixture, ["bass", "piano"], preset, torch.Generator().manual_seed(1),
                                  CancelToken()) for model in (original, loaded)]
        assert outputs[0].shape == (2, 2, architecture.segment_samples)
        assert torch.equal(outputs[0], outputs[1]), preset.name


def test_a_band_split_manifest_that_does_not_match_its_weights_is_refused(tmp_path):
    architecture, (extractor, student) = random_networks()
    folder = save_bundle(tmp_path / "b", bundle_id="bs", config=architecture, extractor=extractor,
                         student=student, presets=PRESETS)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["architecture"]["bandsplit"]["features"] = 8
    (folder / "manifest.json").write_text(json.dumps(seal(manifest)))  # a consistent manifest
    with pytest.raises(ModelLoadError, match="do not match the manifest's architecture|has shape"):
        load_bundle(folder, "cpu")


def test_a_refiner_of_the_wrong_configuration_is_refused():
    architecture, (extractor, _) = random_networks()
    unconditioned = build_refiner(get_architecture("tiny"))  # no x_det input channel
    with pytest.raises(ConfigError, match="refiner configuration"):
        HybridModel(extractor, unconditioned, PRESETS)
