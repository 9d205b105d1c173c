"""The default model shipped in resources/models: present, small, tuned, documented, usable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from core.bundle import DEFAULT_BUNDLE_ID, describe_bundle, find_bundle, load_bundle, sha256_file
from core.model import PRESET_ORDER
from core.progress import CancelToken

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "resources" / "models" / DEFAULT_BUNDLE_ID
MAX_BYTES = 30 * 1024 * 1024


def test_the_default_model_is_shipped_small_and_found_by_default():
    info = describe_bundle(SHIPPED)
    assert info["id"] == DEFAULT_BUNDLE_ID
    assert find_bundle(None).resolve() == SHIPPED.resolve()
    total = sum(f.stat().st_size for f in SHIPPED.iterdir() if f.is_file())
    assert total <= MAX_BYTES, f"{total / 1e6:.1f} MB"
    assert sha256_file(SHIPPED / "weights.safetensors") == info["sha256"]


def has_refiner(info: dict) -> bool:
    return "student" in info["networks"]


def test_its_presets_are_the_product_presets_tuned_on_validation():
    """With a student: the four presets, each refining one tuned on validation with its
    measured gain over draft. Without one: draft, and fast as two views of the extractor,
    measured against draft on validation (so the app offers it only if it beats draft)."""
    info = describe_bundle(SHIPPED)
    presets = info["presets"]
    if not has_refiner(info):
        assert list(presets) == ["draft", "fast"] and presets["draft"]["steps"] == 0
        assert presets["fast"]["steps"] == 0 and presets["fast"]["views"] == 2
        assert presets["fast"]["tuned"] is True and presets["fast"]["gain_db"] is not None
        assert info["metrics"]["sigma_max_tuning"]["split"] == "validation"
        return
    assert list(presets)[:4] == list(PRESET_ORDER)
    assert [presets[name]["steps"] for name in PRESET_ORDER] == [0, 1, 2, 4]
    for name in ("fast", "balanced", "best"):
        assert presets[name].get("tuned") is True, name
    assert info["metrics"]["sigma_max_tuning"]["split"] == "validation"


def test_the_model_card_and_its_figures_sit_next_to_the_weights():
    card = (SHIPPED / "MODEL_CARD.md").read_text(encoding="utf-8")
    refined = has_refiner(describe_bundle(SHIPPED))
    headings = ["## Training", "## Quality", "Goals (active stems)", "## Speed and memory", "## Limitations",
                "## Regenerate"] + (["## sigma_max sweep"] if refined else [])
    for heading in headings:
        assert heading in card, heading
    for figure in ["training-curves.png"] + (["sweep.png"] if refined else []):
        assert (SHIPPED / figure).read_bytes().startswith(b"\x89PNG"), figure


def test_the_shipped_model_extracts_a_stem_that_correlates_with_the_truth():
    """A bass line plus a noise burst: draft's bass estimate must follow the bass, not the noise."""
    torch.set_num_threads(1)
    model = load_bundle(SHIPPED, "cpu")
    rate, seconds = model.sample_rate, 3.0
    t = np.arange(int(rate * seconds)) / rate
    bass = 0.3 * np.sin(2 * np.pi * 55 * t) * (1 + np.sin(2 * np.pi * 2 * t)) / 2
    generator = np.random.default_rng(0)
    hats = np.zeros_like(t)
    for start in np.arange(0, seconds, 0.25):
        index = int(start * rate)
        hats[index:index + 2000] += 0.2 * generator.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    mixture = torch.tensor(bass + hats, dtype=torch.float32).reshape(1, 1, -1)
    segment = model.segment_samples
    padded = torch.nn.functional.pad(mixture.reshape(-1), (0, segment - mixture.shape[-1] % segment))
    with torch.no_grad():
        stems = model.separate(padded.reshape(-1, segment), ["bass"], model.presets["draft"],
                               torch.Generator().manual_seed(0), CancelToken())
    estimate = stems.reshape(-1)[: mixture.shape[-1]].numpy()
    correlation_bass = np.corrcoef(estimate, bass)[0, 1]
    correlation_hats = np.corrcoef(estimate, hats)[0, 1]
    assert correlation_bass > 0.5 and correlation_bass > 3 * abs(correlation_hats), (correlation_bass, correlation_hats)


def test_digital_silence_comes_back_as_silence(tmp_path):
    """Issue 16 case 7: the shipped model answered silence with a 345 Hz tone (peaks 0.18)."""
    import soundfile as sf

    from core.jobs import SeparationOptions, separate_file

    torch.set_num_threads(1)
    model = load_bundle(SHIPPED, "cpu")
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros((44100, 2)), 44100, subtype="PCM_16")
    for preset in [name for name in ("draft", "balanced") if name in model.presets]:
        result = separate_file(path, model, SeparationOptions(out_dir=tmp_path / preset, preset=preset))
        assert result.status == "done", result.message
        for stem, file in result.outputs.items():
            peak = np.abs(sf.read(str(file))[0]).max()
            assert peak < 10 ** (-90 / 20), (preset, stem, peak)
