import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import core.jobs
from core.errors import ConfigError
from core.jobs import (
    SeparationOptions,
    find_audio_files,
    run_batch,
    separate_file,
)
from core.progress import CancelToken
from tests.conftest import synthetic_music
from tests.fakes import FilterBankModel


def read(path):
    return sf.read(str(path), dtype="float64", always_2d=True)[0]


def null_error(result, original):
    total = sum(read(p) for p in result.outputs.values())
    return np.abs(total - original).max()


@pytest.mark.parametrize("rate,channels,subtype,lsb,high_band", [
    (48000, 2, "PCM_24", 0.0, "assign"), (44100, 1, "PCM_16", 0.0, "assign"), (44100, 2, "FLOAT", 1e-6, "assign"),
    (48000, 2, "PCM_24", 0.0, "learned"), (44100, 2, "FLOAT", 1e-6, "learned")])
def test_stems_keep_format_and_null_against_the_input(make_audio, tmp_path, rate, channels, subtype, lsb, high_band):
    path = make_audio(seconds=0.8, samplerate=rate, channels=channels, subtype=subtype)
    result = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path / "out", high_band=high_band))
    assert result.status == "done", result.message
    assert set(result.outputs) == {"bass", "drums", "guitar", "piano", "other"}
    original = read(path)
    for output in result.outputs.values():
        info = sf.info(str(output))
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (rate, channels, original.shape[0], subtype)
    assert null_error(result, original) <= lsb
    assert result.null_db == -math.inf if lsb == 0 else result.null_db < -100


def test_lossy_input_becomes_pcm24_and_flac_works(make_audio, tmp_path):
    path = make_audio("song.ogg", seconds=0.5)
    options = SeparationOptions(out_dir=tmp_path / "out", format="flac", stems=("bass", "drums"))
    result = separate_file(path, FilterBankModel(), options)
    assert result.status == "done", result.message
    assert sorted(p.name for p in result.outputs.values()) == ["bass.flac", "drums.flac", "other.flac"]
    assert all(sf.info(str(p)).subtype == "PCM_24" for p in result.outputs.values())
    assert null_error(result, read(path)) <= 2.0**-23


def test_recipe_records_what_repeats_the_render(make_audio, tmp_path):
    path = make_audio(seconds=0.3)
    result = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path, preset="best", seed=7))
    recipe = json.loads(result.recipe.read_text())
    assert result.recipe == tmp_path / "track" / "stemforge.json"
    assert recipe["preset"] == "best" and recipe["steps"] == 4 and recipe["seed"] == 7
    assert recipe["views"] == 1 and recipe["mask"] is False  # how the preset combines and ends
    assert recipe["model"]["id"] == "filterbank-test" and len(recipe["input"]["sha256"]) == 64
    assert recipe["output"]["files"]["bass"] == "bass.wav"
    assert recipe["input"]["frames"] == sf.info(str(path)).frames


def test_residual_can_be_turned_off_and_template_applies(make_audio, tmp_path):
    path = make_audio(seconds=0.3)
    options = SeparationOptions(out_dir=tmp_path, residual=False, stems=("piano",),
                                template="{track}_{stem}_{preset}.{ext}")
    result = separate_file(path, FilterBankModel(), options)
    assert [p.name for p in result.outputs.values()] == ["track_piano_balanced.wav"]
    assert result.recipe.name == "track_stemforge_balanced.json" and result.null_db is None


def test_existing_outputs_are_skipped_unless_overwrite(make_audio, tmp_path):
    path = make_audio(seconds=0.3)
    options = SeparationOptions(out_dir=tmp_path / "out")
    assert separate_file(path, FilterBankModel(), options).status == "done"
    bass = tmp_path / "out" / "track" / "bass.wav"
    bass.write_bytes(b"user's file")
    skipped = separate_file(path, FilterBankModel(), options)
    assert skipped.status == "skipped" and "--overwrite" in skipped.message
    assert bass.read_bytes() == b"user's file"
    replaced = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path / "out", overwrite=True))
    assert replaced.status == "done" and sf.info(str(bass)).frames > 0


def test_input_is_never_modified_nor_overwritten(make_audio, tmp_path):
    path = make_audio("bass.wav", seconds=0.3)
    before = path.read_bytes()
    options = SeparationOptions(out_dir=tmp_path, template="{stem}.{ext}", overwrite=True)
    result = separate_file(path, FilterBankModel(), options)
    assert result.status == "failed" and "overwrite the input" in result.message
    assert path.read_bytes() == before


def test_mixed_batch_good_files_succeed_bad_fail_alone(make_audio, tmp_path):
    good = [make_audio("in/a.wav", 0.4, 48000, 2, "PCM_24"), make_audio("in/b.flac", 0.4, 44100, 1, "PCM_16"),
            make_audio("in/c.wav", 0.4, 44100, 2, "FLOAT"), make_audio("in/d.ogg", 0.4),
            make_audio("in/one.wav", data=np.array([[0.25]]), subtype="PCM_16")]
    (tmp_path / "in" / "bad.wav").write_bytes(b"\x00garbage" * 50)
    (tmp_path / "in" / "empty.flac").write_bytes(b"")
    nan = np.zeros((1000, 1), np.float32)
    nan[500] = np.inf
    make_audio("in/nan.wav", data=nan, subtype="FLOAT")
    files = find_audio_files([tmp_path / "in", tmp_path / "missing.wav"])
    assert len(files) == 9
    out = tmp_path / "out"
    results = {r.input.name: r for r in run_batch(files, FilterBankModel(), SeparationOptions(out_dir=out))}
    for path in good:
        assert results[path.name].status == "done", results[path.name].message
        assert sf.info(str(out / path.stem / "bass.wav")).frames == sf.info(str(path)).frames
    for name in ("bad.wav", "empty.flac", "nan.wav", "missing.wav"):
        assert results[name].status == "failed" and name in results[name].message
        assert not (out / name.split(".")[0]).exists()
    assert not list(out.rglob("*.partial"))


def test_write_failure_midway_leaves_nothing(make_audio, tmp_path, monkeypatch):
    import core.audio.writer as writer_module

    path = make_audio(seconds=1.0)
    calls = {"n": 0}
    original = writer_module.StemWriter.write

    def fail_on_third(self, block):
        calls["n"] += 1
        if calls["n"] == 3:
            raise writer_module.AudioWriteError(f"{self.path}: disk full while writing")
        return original(self, block)

    monkeypatch.setattr(writer_module.StemWriter, "write", fail_on_third)
    result = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path / "out"))
    assert result.status == "failed" and "disk full" in result.message
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_unwritable_output_folder_fails_each_file_clearly(make_audio, tmp_path):
    path = make_audio(seconds=0.2)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=blocker / "out"))
    assert result.status == "failed" and "blocker" in result.message


def test_cancel_leaves_no_files_and_cancels_the_rest(make_audio, tmp_path):
    paths = [make_audio(f"t{i}.wav", seconds=2.0, samplerate=22050) for i in range(3)]
    token = CancelToken()

    def on_progress(index, fraction, message):
        if index == 1 and fraction > 0.3:
            token.cancel()

    results = run_batch(paths, FilterBankModel(segment_samples=1024), SeparationOptions(out_dir=tmp_path / "out"),
                        on_progress=on_progress, cancel=token)
    assert [r.status for r in results] == ["done", "cancelled", "cancelled"]
    assert not (tmp_path / "out" / "t1").exists()
    assert not list((tmp_path / "out").rglob("*.partial"))


def test_same_track_name_twice_in_a_batch_does_not_clobber(make_audio, tmp_path):
    first = make_audio("a/song.wav", seconds=0.2, seed=1)
    second = make_audio("b/song.wav", seconds=0.2, seed=2)
    results = run_batch([first, second], FilterBankModel(),
                        SeparationOptions(out_dir=tmp_path / "out", overwrite=True))
    assert results[0].status == "done"
    assert results[1].status == "failed" and "collides" in results[1].message


# -- issue 16 case 6: the null holds on loud masters --------------------------------------------


def test_a_hot_clipped_master_still_nulls_and_the_recipe_counts_the_moved_samples(make_audio, tmp_path):
    """Every stem is the whole mix (identity model), so the residual -3 x mix would clip
    wherever |mix| > 1/3: before the fix `other` saturated and the null missed by 0.8."""
    t = np.arange(44100) / 44100
    hot = np.clip(1.6 * np.sin(2 * np.pi * 110 * t), -1, 1)[:, None] * np.array([[1.0, -0.9]])
    path = make_audio("hot.wav", data=hot, subtype="PCM_16")
    result = separate_file(path, FilterBankModel(identity=True), SeparationOptions(out_dir=tmp_path / "out"))
    assert result.status == "done" and result.null_db == -math.inf
    assert null_error(result, read(path)) == 0.0
    for stem in result.outputs.values():
        assert sf.info(str(stem)).subtype == "PCM_16"
    recipe = json.loads(result.recipe.read_text())
    assert recipe["clipped_samples"]["other"] > 44100 and recipe["null_depth_db"] == "-inf"


def test_a_one_sample_file_nulls(make_audio, tmp_path):
    path = make_audio("one.wav", data=np.array([[0.9, -0.95]]), subtype="PCM_16")
    result = separate_file(path, FilterBankModel(identity=True), SeparationOptions(out_dir=tmp_path / "out"))
    assert result.status == "done" and result.null_db == -math.inf
    assert null_error(result, read(path)) == 0.0


# -- issue 16 case 8: a full disk ---------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_named_as_such(make_audio, tmp_path, monkeypatch):
    """/dev/full answers every write with ENOSPC, as a full disk does; libsndfile only
    says "System error."."""
    import core.audio.writer as writer_module

    path = make_audio(seconds=0.2)

    def onto_the_full_device(destination, suffix=".partial"):
        link = tmp_path / "out" / "track" / f".{destination.name}.full"
        link.symlink_to("/dev/full")
        return link

    monkeypatch.setattr(writer_module, "temporary_name", onto_the_full_device)
    (tmp_path / "out" / "track").mkdir(parents=True)
    result = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path / "out"))
    assert result.status == "failed"
    assert "disk full while writing" in result.message and "System error" not in result.message
    assert "track/bass.wav" in result.message


def test_without_a_chosen_preset_the_model_s_default_runs(make_audio, tmp_path):
    from core.model import Preset

    path = make_audio("song.wav", seconds=0.5, channels=1)
    model = FilterBankModel()
    result = separate_file(path, model, SeparationOptions(out_dir=tmp_path / "balanced"))
    assert json.loads(result.recipe.read_text())["preset"] == "balanced"
    model.presets = {"draft": Preset("draft", 0, 0.0)}  # a draft-only model
    results = run_batch([path], model, SeparationOptions(out_dir=tmp_path / "draft"))
    assert results[0].status == "done", results[0].message
    assert json.loads(results[0].recipe.read_text())["preset"] == "draft"


# -- issue 32: hostile inputs ------------------------------------------------------------------


def test_a_symbolic_link_loop_among_the_inputs_fails_alone(make_audio, tmp_path):
    """Case 1: `stemforge separate good.wav self.wav` with `ln -s self.wav self.wav` was a
    traceback (RuntimeError from Path.resolve) and the whole batch stopped."""
    good = make_audio("good.wav", seconds=0.2)
    loop = tmp_path / "self.wav"
    loop.symlink_to("self.wav")
    results = run_batch([good, loop], FilterBankModel(), SeparationOptions(out_dir=tmp_path / "out"))
    assert [r.status for r in results] == ["done", "failed"]
    assert results[1].message == f"{loop}: a loop of symbolic links, not a file"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good"]


def test_a_stem_named_twice_is_refused_before_any_work(make_audio, tmp_path):
    """Case 2: `--stems drums,drums` wrote one drums file for two columns and the null broke."""
    path = make_audio(seconds=0.2)
    with pytest.raises(ConfigError, match="drums named more than once"):
        run_batch([path], FilterBankModel(), SeparationOptions(out_dir=tmp_path / "out", stems=("drums", "drums")))
    result = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path / "out", stems=("drums", "drums")))
    assert result.status == "failed" and "named more than once" in result.message
    assert not (tmp_path / "out").exists()


def test_a_float_file_far_beyond_full_scale_gives_finite_stems_that_null(make_audio, tmp_path):
    """Case 3: at a peak of 7e18 every output was NaN, exit 0, "null nan dB"; with PCM_16
    every file was silent and no sample counted as clipped."""
    data = (synthetic_music(1.0, 44100, 2) * 1.4e19).astype(np.float32)  # peak 7e18
    path = make_audio("huge.wav", data=data, subtype="FLOAT")
    result = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path / "float"))
    assert result.status == "done" and result.null_db < -100, result.message
    assert all(np.isfinite(read(p)).all() for p in result.outputs.values())
    assert np.abs(read(result.outputs["drums"])).max() > 1e17
    pcm = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path / "pcm", subtype="PCM_16"))
    assert pcm.status == "done" and pcm.clipped["other"] > 40000 and "samples clipped" in pcm.message
    assert json.loads(pcm.recipe.read_text())["null_depth_db"] > -1  # all of it clipped, and said so


def test_a_long_name_is_refused_in_one_line_before_any_work(make_audio, tmp_path):
    """Case 6: a legal 250-byte name from a template was a 28-line traceback ("File name
    too long"): the hidden temporary name adds about 25 bytes."""
    path = make_audio(seconds=0.2)
    model = FilterBankModel()
    model.separate = None  # any work would fail differently
    result = separate_file(path, model, SeparationOptions(out_dir=tmp_path / "out", template="a" * 242 + "{stem}.{ext}"))
    assert result.status == "failed"
    assert "is 250 bytes; names up to" in result.message and "shorter template" in result.message
    assert not (tmp_path / "out").exists()
    fits = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path / "fits",
                                                                     template="a" * 200 + "{stem}.{ext}"))
    assert fits.status == "done", fits.message


def test_a_lossy_format_reports_the_null_of_the_decoded_files(make_audio, tmp_path):
    """Case 7: `--format ogg` reported -175 dB (of the samples handed to the encoder)
    while the files decoded back nulled at -21.8 dB."""
    path = make_audio(seconds=1.0)
    result = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path / "out", format="ogg"))
    assert result.status == "done", result.message
    original = read(path)
    total = sum(read(p) for p in result.outputs.values())
    decoded = 10 * np.log10(np.sum((original - total) ** 2) / np.sum(original**2))
    assert abs(result.null_db - decoded) < 0.01 and decoded > -60
    assert "(decoded; the format is lossy)" in result.message
    recipe = json.loads(result.recipe.read_text())
    assert recipe["null_depth_db"] == round(result.null_db, 2) and recipe["output"]["lossy"] is True
    assert "decoded" in recipe["null_measured_on"]


def test_an_input_cut_short_while_it_is_separated_fails_with_nothing_written(make_audio, tmp_path, monkeypatch):
    """Case 8: truncated while read: exit 0, "null exact", 262,144 frames written where
    the header said 882,000."""
    path = make_audio(seconds=2.0, subtype="PCM_16")
    original = core.jobs.separate_stream

    def cut_after_the_first_block(info, *args, blocks, **kwargs):
        def blocks_then_cut():
            for index, block in enumerate(blocks):
                if index == 0:
                    os.truncate(path, 44 + 4 * 20000)
                yield block
        return original(info, *args, blocks=blocks_then_cut(), **kwargs)

    monkeypatch.setattr(core.jobs, "separate_stream", cut_after_the_first_block)
    result = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path / "out"))
    assert result.status == "failed"
    assert "changed while it was being read" in result.message and "nothing was written" in result.message
    assert [p for p in (tmp_path / "out").rglob("*")] == []


def test_the_recipe_identifies_the_bytes_that_were_separated(make_audio, tmp_path, monkeypatch):
    """Case 9: changed in place during the run, the recipe carried the original's sha256
    while the stems nulled against the changed file. A change the clock shows fails the
    file; one it hides (mtime put back) is still hashed as read."""
    path = make_audio(seconds=2.0, subtype="PCM_16")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    original = core.jobs.separate_stream

    def rewrite_after_the_first_block(info, *args, blocks, **kwargs):
        def blocks_then_rewrite():
            for index, block in enumerate(blocks):
                if index == 0:
                    status = os.stat(path)
                    with open(path, "r+b") as handle:
                        handle.seek(300_000)
                        handle.write(bytes(range(256)) * 40)
                    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + shift))
                yield block
        return original(info, *args, blocks=blocks_then_rewrite(), **kwargs)

    monkeypatch.setattr(core.jobs, "separate_stream", rewrite_after_the_first_block)
    shift = 1_000_000
    failed = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path / "seen"))
    assert failed.status == "failed" and "changed while it was being read (rewritten in place)" in failed.message
    assert not (tmp_path / "seen").exists()
    shift = 0  # the same change, with the modification time put back
    result = separate_file(path, FilterBankModel(), SeparationOptions(out_dir=tmp_path / "hidden"))
    assert result.status == "done", result.message
    recipe = json.loads(result.recipe.read_text())
    assert recipe["input"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() != before
    assert null_error(result, read(path)) == 0.0  # the stems are of the bytes the recipe names


def test_a_signal_arriving_as_the_swap_ends_is_still_held_for_the_caller(make_audio, tmp_path, monkeypatch):
    """The swap's handlers are put back one by one; a SIGTERM landing just before the first
    is restored is recorded by the swap's handler and must reach the result, not vanish
    (seen once in CI: a terminated run exited 0)."""
    import signal

    import core.interrupts

    real_signal = signal.signal
    fired = []

    def restore_after_a_late_signal(number, handler):
        if not fired and getattr(handler, "__name__", "") != "<lambda>":  # the first restoration
            fired.append(number)
            signal.raise_signal(signal.SIGTERM)  # handled by the swap's recorder, still installed
        return real_signal(number, handler)

    monkeypatch.setattr(core.interrupts.signal, "signal", restore_after_a_late_signal)
    result = separate_file(make_audio(seconds=0.3), FilterBankModel(), SeparationOptions(out_dir=tmp_path / "out"))
    monkeypatch.undo()
    assert fired and result.status == "done", result.message
    assert result.held_signals == (signal.SIGTERM,)
