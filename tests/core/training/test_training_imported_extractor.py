"""The refiners train on an imported separator: ``stemforge train diffusion|distill
--extractor MODEL_ID`` with a tiny HTDemucs (random weights, saved as demucs saves it)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from test_training_end_to_end import tiny_slakh, train  # noqa: F401  (fixture)

from core.cli import main
from core.data.datasets import RandomCropDataset
from core.errors import ConfigError
from core.instruments import INSTRUMENTS
from core.models.registry import add_model, load_model
from core.training.frozen_extractor import EXTRACTOR_RECORD_FILE, ImportedExtractor, open_extractor

demucs_files = pytest.importorskip("tests.core.models.demucs_files")

RATE = 22050


@pytest.fixture(autouse=True)
def own_model_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("STEMFORGE_MODELS", str(tmp_path / "user-models"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def tiny_demucs(tmp_path) -> str:
    """A tiny four-source HTDemucs (drums, bass, other, vocals) installed as ``tinydemucs``."""
    path = demucs_files.save_like_demucs(demucs_files.tiny_htdemucs(3), tmp_path / "files", "tinydemucs")
    return add_model([path], "tinydemucs").id


def test_the_extractor_gives_what_separate_writes_for_the_same_file(tiny_demucs, tmp_path):
    """x_det of a 22.05 kHz mono crop is the stem `stemforge separate` writes for that crop
    as a file (float output): the refiner learns to correct what the product delivers."""
    rng = np.random.default_rng(0)
    t = np.arange(int(0.6 * RATE)) / RATE
    crop = (0.3 * np.sin(2 * np.pi * 70 * t) + 0.1 * rng.standard_normal(t.size)).astype(np.float32)
    path = tmp_path / "crop.wav"
    sf.write(str(path), crop, RATE, subtype="FLOAT")
    assert main(["separate", str(path), "--model", tiny_demucs, "--out", str(tmp_path / "out"),
                 "--subtype", "FLOAT", "--preset", "draft", "--device", "cpu", "--quiet"]) == 0
    extractor = ImportedExtractor(load_model(tiny_demucs, device="cpu"))
    assert extractor.labels == (INSTRUMENTS.index("bass"), INSTRUMENTS.index("drums"))
    mixture = torch.from_numpy(crop)[None, None].repeat(2, 1, 1)
    labels = torch.tensor([INSTRUMENTS.index("bass"), INSTRUMENTS.index("drums")])
    x_det = extractor(mixture, labels)
    assert x_det.shape == mixture.shape
    for row, name in enumerate(("bass", "drums")):
        written = sf.read(str(tmp_path / "out" / "crop" / f"{name}.wav"), dtype="float32")[0]
        assert np.abs(written).max() > 1e-4
        np.testing.assert_allclose(x_det[row, 0].numpy(), written, atol=1e-5)
    with pytest.raises(ConfigError, match="no guitar stem"):
        extractor(mixture[:1], torch.tensor([INSTRUMENTS.index("guitar")]))


def test_crops_target_only_the_labels_given(tiny_slakh):  # noqa: F811
    everything = RandomCropDataset(tiny_slakh, "train", 256, seed=5)
    same = RandomCropDataset(tiny_slakh, "train", 256, seed=5, labels=range(4))
    assert [everything.crop(i) for i in range(40)] == [same.crop(i) for i in range(40)]
    restricted = RandomCropDataset(tiny_slakh, "train", 256, seed=5, labels=(0, 1))
    assert {restricted.crop(i)[2] for i in range(40)} == {0, 1}
    with pytest.raises(ValueError, match="labels"):
        RandomCropDataset(tiny_slakh, "train", 256, labels=(4,))


def test_teacher_and_student_train_on_an_imported_model(tiny_demucs, tiny_slakh, tmp_path):  # noqa: F811
    runs = tmp_path / "runs"
    assert train("diffusion", tiny_slakh, runs / "teacher", "--extractor", tiny_demucs, "--config", "tiny") == 0
    assert train("distill", tiny_slakh, runs / "student", "--extractor", tiny_demucs,
                 "--teacher", runs / "teacher", "--k-max", 2) == 0
    for run in ("teacher", "student"):
        stored = json.loads((runs / run / "config.json").read_text())
        assert stored["config"]["extractor"] == tiny_demucs and stored["config"]["net"] == "tiny"
        assert stored["net"]["condition_channels"] == 1  # x_det is the refiner's second input
        record = json.loads((runs / run / EXTRACTOR_RECORD_FILE).read_text())
        assert record["id"] == tiny_demucs and record["family"] == "demucs" and len(record["sha256"]) == 64
        log = [json.loads(line) for line in (runs / run / "log.jsonl").read_text().splitlines()]
        validation = [r for r in log if "val_si_sdri" in r]
        assert validation and np.isfinite(validation[-1]["val_extractor_si_sdri"])
        assert not any(f"val_si_sdri_{name}" in validation[-1] for name in ("guitar", "piano"))


def test_a_run_resumes_only_on_the_same_weights(tiny_demucs, tiny_slakh, tmp_path, capsys):  # noqa: F811
    run = tmp_path / "runs" / "teacher"
    assert train("diffusion", tiny_slakh, run, "--extractor", tiny_demucs, "--config", "tiny") == 0
    record = json.loads((run / EXTRACTOR_RECORD_FILE).read_text())
    (run / EXTRACTOR_RECORD_FILE).write_text(json.dumps({**record, "sha256": "0" * 64}))
    capsys.readouterr()
    assert train("diffusion", tiny_slakh, run, "--extractor", tiny_demucs, "--steps", 4) != 0
    assert "resume it on the same model" in capsys.readouterr().err


def test_models_without_the_datasets_stems_are_refused(tmp_path):
    path = demucs_files.save_like_demucs(demucs_files.tiny_htdemucs(0, sources=["vocals", "other"]),
                                         tmp_path / "files", "voiceonly")
    with pytest.raises(ConfigError, match="none of the dataset's stems"):
        open_extractor(path, "tiny")
