"""Source palettes, held-out timbres, and a tiny generated set with recorded
instruments and its data card (what CI runs of the real set)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import soundfile as sf
import yaml

from core.data.synth.generate import build_palette, generate_dataset
from core.data.synth.others import HELDOUT_FAMILIES
from core.data.synth.sources import HELDOUT, draw_source
from core.data.synth.voice import HELDOUT_VOICE
from tests.core.data.sample_fixtures import write_library


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return write_library(tmp_path_factory.mktemp("samples"))


def test_training_never_draws_a_heldout_source_and_validation_draws_only_those(library):
    palette = build_palette(samples=library)
    rng = random.Random(0)
    train, held = palette.training(), palette.heldout()
    for instrument in ("bass", "guitar", "piano", "drums"):
        train_names = {draw_source(rng, instrument, 0, train).name.split(":")[0] for _ in range(200)}
        held_names = {draw_source(rng, instrument, 0, held).name.split(":")[0] for _ in range(50)}
        assert HELDOUT[instrument] not in train_names
        kinds = {draw_source(rng, instrument, 0, train).kind for _ in range(200)}
        assert "gm" in kinds and kinds - {"gm"}, (instrument, kinds)  # both stay in the mix
        if instrument != "drums" or any(k.stem == HELDOUT["drums"] for k in palette.kits):
            assert held_names == {HELDOUT[instrument]}


def test_without_hold_out_every_split_uses_every_source(library):
    palette = build_palette(samples=library, hold_out=False)
    assert palette.training() == palette.heldout() == palette


def test_a_tiny_set_with_recorded_instruments_its_metadata_and_data_card(library, tmp_path):
    out = tmp_path / "set"
    fluid = [str(build_palette().fonts[0])]
    report = generate_dataset(out, songs=10, seconds=2.0, seed=3, jobs=1, fonts=fluid,
                              samples=library, recorded_share=0.7)
    assert report.written == 10
    kinds = set()
    for metadata_path in out.glob("*/Track*/metadata.yaml"):
        split = metadata_path.parent.parent.name
        metadata = yaml.safe_load(metadata_path.read_text())
        stems = []
        for stem_id, info in metadata["stems"].items():
            kinds.add(info["source_kind"])
            name = info["source"].split(":")[0]
            if info["inst_class"] not in ("Bass", "Drums", "Guitar", "Piano"):
                heldout = info["family"] in HELDOUT_FAMILIES or info.get("voice") == HELDOUT_VOICE.name
                if info["source_kind"] != "noise":
                    assert heldout == (split == "validation"), info
            elif split == "validation":
                assert name in HELDOUT.values() or info["source_kind"] == "gm", info
            else:
                assert name not in HELDOUT.values(), info
            assert isinstance(info["chain"], list) and info["licence"]
            audio, rate = sf.read(metadata_path.parent / "stems" / f"{stem_id}.flac", dtype="int16")
            assert rate == 22050
            stems.append(audio.astype(np.int32))
        mix, _ = sf.read(metadata_path.parent / "mix.flac", dtype="int16")
        assert np.array_equal(np.sum(stems, axis=0), mix)
        assert set(metadata["stemforge"]["loudness"]) == {"rms_dbfs", "peak_dbfs", "crest_db"}
    assert "recorded" in kinds and "gm" in kinds
    card = json.loads((out / "data_card.json").read_text())
    assert sum(card["songs"].values()) == 10
    recorded = [n for n, e in card["sources"].items() if e["kind"] == "recorded"]
    assert recorded and all(card["sources"][n]["licence"] for n in recorded)
    markdown = (out / "DATA_CARD.md").read_text()
    assert "Held-out timbres" in markdown and "Loudness" in markdown
    assert "Test Author" in markdown or "Kit Author" in markdown  # CC BY attributions


def test_a_44_1_khz_render_keeps_its_rate(library, tmp_path):
    out = tmp_path / "fb"
    fluid = [str(build_palette().fonts[0])]
    generate_dataset(out, songs=1, seconds=1.0, seed=1, jobs=1, fonts=fluid, samples=library,
                     sample_rate=44100)
    (track,) = out.glob("train/Track*")
    info = sf.info(str(track / "mix.flac"))
    assert info.samplerate == 44100 and info.frames == 44100
