"""Equivalence: an HTDemucs file through `stemforge separate` gives the stems of the demucs
package's own ``apply_model(model, mix, shifts=0, split=True, overlap=0.25)`` on the same
file, to 1e-4, and stems + residual null.

Random weights (fixed seeds, shrunk channels), saved exactly as ``demucs.states`` saves them;
the reference model is loaded by the demucs package itself (``demucs.pretrained.get_model``
on the folder), so the test also checks that Stemforge reads the files as demucs does.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from core.cli import main
from tests.conftest import synthetic_music
from tests.core.models.demucs_files import SOURCES, save_like_demucs, tiny_htdemucs, write_bag

apply = pytest.importorskip("demucs.apply")
pretrained = pytest.importorskip("demucs.pretrained")

RATE = 44100
TOLERANCE = 1e-4
BAG_WEIGHTS = [[1.0, 0.5, 2.0, 1.0], [0.5, 1.0, 1.0, 3.0]]


@pytest.fixture(scope="module")
def demucs_folder(tmp_path_factory):
    """One single model (``tiny``), a bag of two with weights (``tinybag``), two stereo
    float files: 20 s (five segments of 4 s) and 3 s (shorter than one segment)."""
    folder = tmp_path_factory.mktemp("demucs")
    single = save_like_demucs(tiny_htdemucs(0), folder / "models", "tiny")
    save_like_demucs(tiny_htdemucs(1), folder / "models", "bagA")
    save_like_demucs(tiny_htdemucs(2), folder / "models", "bagB")
    bag = write_bag(folder / "models", "tinybag", ["bagA", "bagB"], weights=BAG_WEIGHTS)
    audio = {}
    for seconds in (20, 3):
        data = synthetic_music(seconds, RATE, 2, seed=seconds).astype(np.float32)
        path = folder / "audio" / f"song{seconds}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(str(path), data, RATE, subtype="FLOAT")
        audio[seconds] = path
    return {"single": single, "bag": bag, "repo": folder / "models", "audio": audio}


def demucs_reference(repo, name: str, path, shifts: int = 0) -> np.ndarray:
    """``(S, C, n)``: what the demucs package gives for the file."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = pretrained.get_model(name, repo=repo)
        mix, _ = sf.read(str(path), dtype="float32", always_2d=True)
        with torch.no_grad():
            return apply.apply_model(model, torch.from_numpy(mix.T.copy())[None], shifts=shifts, split=True,
                                     overlap=0.25)[0].numpy()
    finally:
        torch.set_num_threads(threads)


def separate(path, model: str, out, *extra: str) -> dict[str, np.ndarray]:
    """Run `stemforge separate` (float output); returns stem -> ``(n, C)``."""
    assert main(["separate", str(path), "--model", model, "--out", str(out), "--subtype", "FLOAT",
                 "--preset", "draft", "--device", "cpu", "--quiet", *extra]) == 0
    folder = out / path.stem
    return {file.stem: sf.read(str(file), dtype="float64", always_2d=True)[0] for file in folder.glob("*.wav")}


def check_stems_and_null(stems: dict[str, np.ndarray], expected: np.ndarray, path) -> None:
    mix, _ = sf.read(str(path), dtype="float64", always_2d=True)
    assert set(stems) == {*SOURCES, "residual"}  # the model's own "other" and the residual, apart
    for index, name in enumerate(SOURCES):
        assert stems[name].shape == mix.shape
        assert np.abs(stems[name].T - expected[index]).max() < TOLERANCE, name
    assert np.abs(expected).max() > 1e-3  # the comparison is not between silences
    total = sum(stems.values())
    assert np.abs(total - mix).max() < 1e-6  # stems + residual null against the input


@pytest.mark.parametrize("seconds", [20, 3])
def test_a_single_th_file_gives_apply_models_stems(demucs_folder, tmp_path, seconds):
    path = demucs_folder["audio"][seconds]
    expected = demucs_reference(demucs_folder["repo"], "tiny", path)
    stems = separate(path, str(demucs_folder["single"]), tmp_path / "out")
    check_stems_and_null(stems, expected, path)


@pytest.mark.parametrize("seconds", [20, 3])
def test_an_installed_bag_with_weights_gives_apply_models_stems(demucs_folder, tmp_path, seconds, capsys):
    assert main(["models", "add", str(demucs_folder["bag"])]) == 0
    assert "added tinybag (demucs)" in capsys.readouterr().out
    path = demucs_folder["audio"][seconds]
    expected = demucs_reference(demucs_folder["repo"], "tinybag", path)
    stems = separate(path, "tinybag", tmp_path / "out")
    check_stems_and_null(stems, expected, path)


def test_mono_input_to_a_stereo_model_is_the_average_of_the_duplicated_channels(demucs_folder, tmp_path):
    stereo, _ = sf.read(str(demucs_folder["audio"][3]), dtype="float32", always_2d=True)
    path = tmp_path / "mono.wav"
    sf.write(str(path), stereo[:, 0], RATE, subtype="FLOAT")
    duplicated = tmp_path / "duplicated.wav"
    sf.write(str(duplicated), np.stack([stereo[:, 0], stereo[:, 0]], axis=1), RATE, subtype="FLOAT")
    expected = demucs_reference(demucs_folder["repo"], "tiny", duplicated).mean(axis=1, keepdims=True)
    stems = separate(path, str(demucs_folder["single"]), tmp_path / "out")
    check_stems_and_null(stems, expected, path)


def test_the_shift_ensemble_is_demucs_shifts_with_the_seeds_delays(demucs_folder, monkeypatch):
    """A ``shifts`` preset averages renders delayed as apply_model(shifts=K) delays them; with
    apply_model's random offsets set to the ones Stemforge draws from the seed, they agree."""
    from core.audio.reader import probe
    from core.audio.shift_ensemble import MAX_SHIFT_SECONDS, shift_delays
    from core.models.demucs_model import load_demucs
    from core.pipeline import separate_stream

    path, seed = demucs_folder["audio"][3], 7
    model = load_demucs(demucs_folder["single"])
    preset = model.presets["balanced"]
    assert preset.shifts == 2
    max_shift = int(MAX_SHIFT_SECONDS * RATE)
    offsets = iter([max_shift - delay for delay in shift_delays(preset.shifts, max_shift, seed)])
    monkeypatch.setattr(apply.random, "randint", lambda low, high: next(offsets))
    expected = demucs_reference(demucs_folder["repo"], "tiny", path, shifts=preset.shifts)
    blocks = []
    separate_stream(probe(path), model, model.instruments, preset, lambda mix, stems: blocks.append(stems), seed)
    got = np.concatenate(blocks).transpose(2, 1, 0)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < TOLERANCE
    assert np.abs(got - demucs_reference(demucs_folder["repo"], "tiny", path)).max() > 1e-3  # shifts change it


def test_a_48_khz_file_gets_exact_length_a_null_and_a_recipe_naming_the_files(demucs_folder, tmp_path):
    """Resampled to the model's 44.1 kHz and back; the band above 22.05 kHz is shared by the
    rule ('learned' serves the default model only); the recipe records family, files, sha256."""
    import json

    from core.fileio import sha256_file

    path = tmp_path / "high.wav"
    sf.write(str(path), synthetic_music(1.5, 48000, 2, seed=4), 48000, subtype="PCM_24")
    assert main(["separate", str(path), "--model", str(demucs_folder["single"]), "--out", str(tmp_path / "out"),
                 "--preset", "draft", "--device", "cpu", "--quiet"]) == 0
    folder = tmp_path / "out" / "high"
    mix, _ = sf.read(str(path), dtype="float64", always_2d=True)
    total = sum(sf.read(str(folder / f"{name}.wav"), dtype="float64", always_2d=True)[0]
                for name in [*SOURCES, "residual"])
    assert total.shape == mix.shape
    assert np.abs(total - mix).max() < 1e-9  # PCM_24 in and out: the residual takes the rounding
    recipe = json.loads((folder / "stemforge.json").read_text())
    single = demucs_folder["single"]
    assert recipe["model"] == {"id": "tiny", "family": "demucs", "sha256": sha256_file(single),
                               "files": {single.name: sha256_file(single)}}
    assert recipe["high_band"]["mode"] == "assign" and recipe["high_band"]["applied"] is True
    assert recipe["high_band"]["edge_hz"] == 22050.0
    assert recipe["output"]["files"]["residual"] == "residual.wav"
