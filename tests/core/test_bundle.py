"""Model bundles: round trip, fp16 storage, discovery, and every way a bundle can be broken."""

import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import core
import core.bundle as bundle
from core.bundle import (
    describe_bundle,
    installed_bundles,
    load_model,
    model_search_paths,
    read_manifest,
    save_bundle,
    sha256_file,
)
from core.errors import ModelLoadError, OutputExistsError
from core.manifest_checks import seal
from core.model import Preset
from core.nn.config import get_config
from core.nn.unet import UNet, count_parameters
from core.progress import CancelToken

pytestmark = pytest.mark.usefixtures("single_thread")

PRESETS = {
    "draft": Preset("draft", 0, 0.0),
    "fast": Preset("fast", 1, 0.0124),
    "balanced": Preset("balanced", 2, 0.25),
    "best": Preset("best", 4, 0.25),
}


@pytest.fixture(autouse=True)
def no_installed_models(tmp_path, monkeypatch):
    """Search only a temporary folder, whatever is installed on the machine."""
    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setattr(bundle, "model_search_paths", lambda: [root])
    return root


def networks(seed: int = 0):
    config = get_config("tiny")
    generator = torch.Generator().manual_seed(seed)
    nets = [UNet(config), UNet(config, noise_conditioned=True), UNet(config, noise_conditioned=True)]
    with torch.no_grad():
        for net in nets:
            for p in net.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=generator))
    return config, nets


def make_bundle(folder, dtype=torch.float32, teacher=False, bundle_id="tiny-test"):
    config, (extractor, student, teach) = networks()
    save_bundle(
        folder, bundle_id=bundle_id, config=config, config_name="tiny", extractor=extractor,
        student=student, teacher=teach if teacher else None, presets=PRESETS, dtype=dtype,
        metrics={"si_sdri_db": {"all": 1.5}}, training_data={"name": "synthetic", "songs": 3},
    )
    return folder, (extractor, student, teach)


def separate(model, preset="best", seed=3):
    mix = 0.3 * torch.randn(2, 512, generator=torch.Generator().manual_seed(0))
    return model.separate(mix, ["bass", "guitar"], model.presets[preset],
                          torch.Generator().manual_seed(seed), CancelToken())


def test_round_trip_gives_the_same_outputs(tmp_path):
    folder, (extractor, student, _) = make_bundle(tmp_path / "b")
    model = load_model(folder, device="cpu")
    assert model.model_id == "tiny-test"
    assert model.sha256 == sha256_file(folder / "weights.safetensors")
    assert model.presets == PRESETS
    assert model.teacher is None
    from core.hybrid import HybridModel

    original = HybridModel(extractor, student, PRESETS)
    for preset in ("draft", "best"):
        assert torch.equal(separate(model, preset), separate(original, preset))


def test_fp16_storage_halves_the_file_and_loads_as_float32(tmp_path):
    full, _ = make_bundle(tmp_path / "fp32", dtype=torch.float32)
    half, (extractor, _, _) = make_bundle(tmp_path / "fp16", dtype=torch.float16, teacher=True)
    with safe_open(str(half / "weights.safetensors"), framework="pt") as handle:
        assert handle.get_tensor("extractor.patcher.block.conv1.weight").dtype == torch.float16
        assert {key.split(".")[0] for key in handle.keys()} == {"extractor", "student", "teacher"}
    # 3 networks in fp16 vs 2 in fp32: 3/2 * 1/2 = 3/4 of the size (plus headers)
    ratio = (half / "weights.safetensors").stat().st_size / (full / "weights.safetensors").stat().st_size
    assert 0.7 < ratio < 0.8
    model = load_model(half, device="cpu")
    weight = model.extractor.patcher.block.conv1.weight
    assert weight.dtype == torch.float32
    assert torch.equal(weight, extractor.patcher.block.conv1.weight.detach().half().float())
    assert model.teacher is not None
    assert separate(model, "best").shape == (2, 2, 512)


def test_manifest_records_the_model_card(tmp_path):
    folder, _ = make_bundle(tmp_path / "b")
    manifest = read_manifest(folder)
    assert manifest["format_version"] == bundle.FORMAT_VERSION
    assert manifest["architecture"]["name"] == "tiny"
    assert manifest["architecture"]["unet"] == get_config("tiny").to_dict()
    assert manifest["presets"]["best"] == {"steps": 4, "sigma_max": 0.25, "sampler": "consistency"}
    assert list(manifest["presets"]) == ["draft", "fast", "balanced", "best"]
    assert manifest["networks"] == ["extractor", "student"]
    assert manifest["training_data"]["name"] == "synthetic"
    assert manifest["files"]["weights.safetensors"] == sha256_file(folder / "weights.safetensors")


def test_describe_bundle(tmp_path):
    folder, (extractor, student, _) = make_bundle(tmp_path / "b")
    info = describe_bundle(folder)
    assert info["id"] == "tiny-test" and info["path"] == str(folder)
    assert info["sample_rate"] == 22050
    assert info["instruments"] == ["bass", "drums", "guitar", "piano"]
    assert info["parameters"] == count_parameters(extractor) + count_parameters(student)
    assert info["presets"]["fast"]["steps"] == 1
    assert info["sha256"] == sha256_file(folder / "weights.safetensors")


def test_installed_bundles_and_lookup_by_id(no_installed_models):
    with pytest.raises(ModelLoadError, match="no model installed"):
        load_model(None, device="cpu")
    make_bundle(no_installed_models / "other", bundle_id="other")
    make_bundle(no_installed_models / "lite", bundle_id=bundle.DEFAULT_BUNDLE_ID)
    assert {p.name for p in installed_bundles()} == {"other", "lite"}
    assert load_model(None, device="cpu").model_id == bundle.DEFAULT_BUNDLE_ID
    assert load_model("other", device="cpu").model_id == "other"
    with pytest.raises(ModelLoadError, match="installed: .*other"):
        load_model("nonexistent", device="cpu")


def test_a_broken_installed_bundle_is_reported_as_broken(no_installed_models):
    folder, _ = make_bundle(no_installed_models / "only")
    edit_manifest(folder, lambda m: m.update({"format_version": 2}))
    with pytest.raises(ModelLoadError, match="format version 2"):
        load_model(None, device="cpu")


def test_search_paths(monkeypatch, tmp_path):
    monkeypatch.undo()  # the real search path function
    monkeypatch.setenv("STEMFORGE_MODELS", str(tmp_path / "a"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setattr("sys._MEIPASS", str(tmp_path / "frozen"), raising=False)
    repo = Path(core.__file__).resolve().parent.parent
    assert model_search_paths() == [
        tmp_path / "a",
        tmp_path / "home" / ".local" / "share" / "stemforge" / "models",
        repo / "resources" / "models",
        tmp_path / "frozen" / "resources" / "models",
    ]


def test_loading_never_unpickles(tmp_path, monkeypatch):
    folder, _ = make_bundle(tmp_path / "b", teacher=True)

    def refuse(*args, **kwargs):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    assert load_model(folder, device="cpu").model_id == "tiny-test"


# -- broken bundles ------------------------------------------------------------------------


def rewrite_weights(folder, change):
    """Rewrite the weights with ``change(tensors)`` and fix the checksum (a consistent but
    mismatched bundle)."""
    file = folder / "weights.safetensors"
    tensors = load_file(str(file))
    change(tensors)
    save_file(tensors, str(file))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["weights.safetensors"] = sha256_file(file)
    (folder / "manifest.json").write_text(json.dumps(seal(manifest)))


def edit_manifest(folder, change, reseal=True):
    """Change the manifest; with ``reseal`` its checksum is updated (a consistent edit, as
    a hostile one would be), else it is left stale (an accidental edit)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(seal(manifest) if reseal else manifest))


def test_flipped_byte_fails_the_checksum(tmp_path):
    folder, _ = make_bundle(tmp_path / "b")
    file = folder / "weights.safetensors"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x01
    file.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match=r"weights\.safetensors: checksum mismatch"):
        load_model(folder, device="cpu")


def test_truncated_weights(tmp_path):
    folder, _ = make_bundle(tmp_path / "b")
    file = folder / "weights.safetensors"
    file.write_bytes(file.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="weights.safetensors"):
        load_model(folder, device="cpu")
    # even with a matching checksum, a truncated file is refused by the reader
    edit_manifest(folder, lambda m: m["files"].update({"weights.safetensors": sha256_file(file)}))
    with pytest.raises(ModelLoadError, match="not a readable safetensors"):
        load_model(folder, device="cpu")


def test_missing_weights_file(tmp_path):
    folder, _ = make_bundle(tmp_path / "b")
    (folder / "weights.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        load_model(folder, device="cpu")


def test_missing_tensor(tmp_path):
    folder, _ = make_bundle(tmp_path / "b")
    rewrite_weights(folder, lambda t: t.pop("student.bottleneck.block1.conv1.weight"))
    with pytest.raises(ModelLoadError, match=r"student.*missing 1 tensors.*student\.bottleneck\.block1\.conv1\.weight"):
        load_model(folder, device="cpu")


def test_wrong_shape(tmp_path):
    folder, _ = make_bundle(tmp_path / "b")
    rewrite_weights(folder, lambda t: t.update({"extractor.unpatcher.block.conv1.bias": torch.zeros(7)}))
    with pytest.raises(ModelLoadError, match=r"extractor\.unpatcher\.block\.conv1\.bias has shape \(7,\)"):
        load_model(folder, device="cpu")


def test_architecture_mismatch(tmp_path):
    folder, _ = make_bundle(tmp_path / "b")
    edit_manifest(folder, lambda m: m["architecture"]["unet"].update({"channels": 32}))
    with pytest.raises(ModelLoadError, match="weights.safetensors"):
        load_model(folder, device="cpu")


def test_bad_json(tmp_path):
    folder, _ = make_bundle(tmp_path / "b")
    (folder / "manifest.json").write_text('{"format_version": 1, "id": ')
    with pytest.raises(ModelLoadError, match=r"manifest\.json: unreadable manifest"):
        load_model(folder, device="cpu")


def test_wrong_format_version(tmp_path):
    folder, _ = make_bundle(tmp_path / "b")
    edit_manifest(folder, lambda m: m.update({"format_version": 99}))
    with pytest.raises(ModelLoadError, match="format version 99 is not supported"):
        load_model(folder, device="cpu")


def test_manifest_problems(tmp_path):
    folder, _ = make_bundle(tmp_path / "b")
    edit_manifest(folder, lambda m: m.pop("presets"))
    with pytest.raises(ModelLoadError, match="lacks presets"):
        read_manifest(folder)
    folder, _ = make_bundle(tmp_path / "c")
    edit_manifest(folder, lambda m: m.update({"networks": ["extractor"]}))
    with pytest.raises(ModelLoadError, match="needs the student"):
        read_manifest(folder)


def test_save_refuses_a_bundle_it_could_not_load(tmp_path):
    config, (extractor, student, _) = networks()
    with pytest.raises(ModelLoadError, match="needs the student"):
        save_bundle(tmp_path / "b", bundle_id="x", config=config, extractor=extractor,
                    student=None, presets=PRESETS)
    assert not (tmp_path / "b").exists()
    draft_only = save_bundle(tmp_path / "d", bundle_id="x", config=config, extractor=extractor,
                             student=None, presets={"draft": PRESETS["draft"]})
    assert load_model(draft_only, device="cpu").student is None
    with pytest.raises(OutputExistsError):
        save_bundle(draft_only, bundle_id="x", config=config, extractor=extractor,
                    student=student, presets=PRESETS)


def test_not_a_bundle(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="not a model bundle"):
        load_model(tmp_path / "empty", device="cpu")


def test_a_preset_s_ratio_mask_is_saved_read_and_checked(tmp_path):
    from core.model import Preset

    config, (extractor, _, _) = networks()
    presets = {"draft": Preset("draft", 0, 0.0, mask=True), "fast": Preset("fast", 0, 0.0, views=2)}
    folder = save_bundle(tmp_path / "m", bundle_id="x", config=config, extractor=extractor, student=None,
                         presets=presets)
    rows = read_manifest(folder)["presets"]
    assert rows["draft"]["mask"] is True and "mask" not in rows["fast"]  # written only when on
    loaded = load_model(folder, device="cpu")
    assert loaded.presets["draft"].mask and not loaded.presets["fast"].mask
    edit_manifest(folder, lambda m: m["presets"]["draft"].update({"mask": "yes"}))
    with pytest.raises(ModelLoadError, match="mask must be true or false"):
        read_manifest(folder)
