import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import core.cli
from core.cli import main, run_command
from core.errors import ConfigError, Outcome
from tests.conftest import FifoWatchdog
from tests.fakes import FilterBankModel, ThreadCountingModel


@pytest.fixture(autouse=True)
def torch_threads_restored():
    """`separate` sets torch's thread count in this (the main) thread: put it back after each test."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fake_model(monkeypatch):
    monkeypatch.setattr(core.cli, "load_model", lambda spec, device: FilterBankModel())


def test_mixed_batch_exit_code_and_one_line_errors(fake_model, make_audio, tmp_path, capsys):
    good = make_audio("in/good.wav", seconds=0.3, samplerate=48000, subtype="PCM_24")
    make_audio("in/mono.flac", seconds=0.3, channels=1, subtype="PCM_16")
    (tmp_path / "in" / "broken.wav").write_bytes(b"RIFF nonsense")
    out = tmp_path / "out"
    code = main(["separate", str(tmp_path / "in"), "--out", str(out), "--stems", "bass,drums"])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert len(errors) == 1 and "broken.wav" in errors[0] and "Traceback" not in captured.err
    assert sorted(p.name for p in (out / "good").iterdir()) == ["bass.wav", "drums.wav", "other.wav", "stemforge.json"]
    assert sf.info(str(out / "good" / "bass.wav")).frames == sf.info(str(good)).frames
    assert "2 done, 1 failed" in captured.out


def test_a_folder_without_audio_beside_other_inputs_is_one_line_and_the_batch_goes_on(
        fake_model, make_audio, tmp_path, capsys):
    good = make_audio("in/good.wav", seconds=0.2)
    empty = tmp_path / "notes.wav"  # a folder, named like a file, holding no audio
    empty.mkdir()
    (empty / "readme.txt").write_text("no audio here")
    code = main(["separate", str(empty), str(good), "--out", str(tmp_path / "out"), "--stems", "bass"])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert len(errors) == 1 and "notes.wav" in errors[0] and "no audio files" in errors[0]
    assert (tmp_path / "out" / "good" / "bass.wav").is_file()
    assert "1 done, 1 failed" in captured.out


def test_all_good_exits_zero_and_existing_outputs_are_skipped(fake_model, make_audio, tmp_path, capsys):
    path = make_audio(seconds=0.2)
    args = ["separate", str(path), "--out", str(tmp_path / "o"), "--preset", "draft"]
    assert main(args) == 0
    assert main(args) == 0
    assert "--overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite", "--format", "flac", "--subtype", "pcm_16"]) == 0
    assert sf.info(str(tmp_path / "o" / "track" / "bass.flac")).subtype == "PCM_16"


def test_usage_errors_exit_two(fake_model, make_audio, tmp_path, capsys):
    path = make_audio(seconds=0.2)
    assert main(["separate", str(path), "--out", str(tmp_path / "o"), "--stems", "vocals"]) == 2  # not its stem
    assert capsys.readouterr().err == "stemforge: error: unknown stem(s) vocals; choose from bass,drums,guitar,piano\n"
    assert not (tmp_path / "o").exists()
    assert main(["separate", str(path), "--out", str(tmp_path), "--format", "flac", "--subtype", "FLOAT"]) == 2
    assert main(["separate", str(path), "--out", str(tmp_path), "--template", "{track}.{ext}"]) == 2


def test_same_seed_same_stems(fake_model, make_audio, tmp_path):
    path = make_audio(seconds=0.3, subtype="FLOAT")
    for name in ("a", "b"):
        assert main(["separate", str(path), "--out", str(tmp_path / name), "--preset", "best", "--seed", "5", "--quiet"]) == 0
    a, _ = sf.read(str(tmp_path / "a" / "track" / "piano.wav"))
    b, _ = sf.read(str(tmp_path / "b" / "track" / "piano.wav"))
    np.testing.assert_array_equal(a, b)


def test_help_explains_every_option():
    result = subprocess.run([sys.executable, "-m", "core.cli", "separate", "--help"],
                            capture_output=True, text=True, check=True)
    for option in ("--out", "--stems", "--preset", "--model", "--device", "--format", "--subtype",
                   "--template", "--no-residual", "--overwrite", "--seed", "--threads", "--quiet"):
        assert option in result.stdout


def test_no_model_installed_is_one_clear_line(monkeypatch, make_audio, tmp_path, capsys):
    import core.bundle

    monkeypatch.setattr(core.bundle, "model_search_paths", lambda: [tmp_path / "no-models"])
    path = make_audio(seconds=0.2)
    assert main(["separate", str(path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model installed" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_models_lists_installed_bundles(monkeypatch, tmp_path, capsys):
    import json

    import core.bundle
    from tests.packaging.test_frozen_app import tiny_bundle

    tiny_bundle(tmp_path / "models" / "smoke-tiny")
    monkeypatch.setattr(core.bundle, "model_search_paths", lambda: [tmp_path / "models"])
    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [entry["id"] for entry in listed] == ["smoke-tiny"]
    assert listed[0]["presets"]["best"]["steps"] == 4 and listed[0]["parameters"] > 0
    assert main(["models"]) == 0
    assert "preset best" in capsys.readouterr().out


def test_models_shows_each_presets_measured_gain_and_what_is_not_offered(monkeypatch, tmp_path, capsys):
    import json

    import core.bundle
    from core.evaluation.tune import write_manifest
    from tests.packaging.test_frozen_app import tiny_bundle

    folder = tmp_path / "models" / "smoke-tiny"
    tiny_bundle(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, gain in {"draft": 0.0, "fast": 0.4, "balanced": 0.45, "best": 0.8}.items():
        manifest["presets"][name]["gain_db"] = gain
    write_manifest(folder, manifest)
    monkeypatch.setattr(core.bundle, "model_search_paths", lambda: [tmp_path / "models"])
    assert main(["models"]) == 0
    lines = {line.split()[1]: line for line in capsys.readouterr().out.splitlines() if "preset " in line}
    assert "+0.40 dB over draft" in lines["fast"] and "not offered" not in lines["fast"]
    assert "+0.45 dB over draft" in lines["balanced"] and "not offered" in lines["balanced"]
    assert "not offered" not in lines["best"]


def test_absent_device_is_a_usage_error(monkeypatch, make_audio, tmp_path, capsys):
    import core.devices

    monkeypatch.setattr(core.devices, "available_devices",
                        lambda: {"auto": True, "cpu": True, "cuda": False, "mps": False})
    monkeypatch.setattr(core.cli, "load_model",
                        lambda spec, device: core.devices.resolve_device(device) and FilterBankModel())
    assert main(["separate", str(make_audio(seconds=0.1)), "--out", str(tmp_path), "--device", "cuda"]) == 2
    assert "not available" in capsys.readouterr().err


# -- issue 16 case 5: a killed or terminated run ----------------------------------------------

SLOW_RUN = """
import sys, time
import core.cli
from tests.fakes import FilterBankModel

class SlowModel(FilterBankModel):
    def separate(self, *args, **kwargs):
        time.sleep(0.05)
        return super().separate(*args, **kwargs)

core.cli.load_model = lambda spec, device: SlowModel(segment_samples=1024)
sys.exit(core.cli.main(sys.argv[1:]))
"""


def _start_slow_run(path, out):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen([sys.executable, "-c", SLOW_RUN, "separate", str(path), "--out", str(out)],
                               cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(out.rglob("*.partial")):  # the run is writing its stems
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return process


def test_sigterm_behaves_like_ctrl_c(make_audio, tmp_path):
    path = make_audio(seconds=6.0, samplerate=22050, channels=1)
    out = tmp_path / "out"
    process = _start_slow_run(path, out)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert err.strip() == "stemforge: error: terminated; unfinished files were removed"
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_partial_files_of_a_killed_run_are_removed_by_the_next_run(fake_model, make_audio, tmp_path):
    path = make_audio(seconds=6.0, samplerate=22050, channels=1)
    out = tmp_path / "out"
    process = _start_slow_run(path, out)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert list(out.rglob("*.partial"))  # what kill -9 leaves
    assert main(["separate", str(path), "--out", str(out), "--quiet"]) == 0
    assert not list(out.rglob("*.partial"))
    assert sorted(p.name for p in (out / "track").iterdir()) == [
        "bass.wav", "drums.wav", "guitar.wav", "other.wav", "piano.wav", "stemforge.json"]


def test_help_imports_no_torch():
    """Issue 17 item 3: commands load lazily, so asking for help is instant."""
    probe = ("import sys, core.cli\n"
             "for argv in (['--help'], ['separate', '--help'], ['models', '--help']):\n"
             "    try:\n"
             "        core.cli.main(argv)\n"
             "    except SystemExit:\n"
             "        pass\n"
             "print('TORCH', 'torch' in sys.modules, file=sys.stderr)\n")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)}, check=True)
    assert "TORCH False" in result.stderr
    assert "train" in result.stdout and "--template" in result.stdout


def test_an_external_commands_options_still_load_when_it_is_chosen():
    result = subprocess.run([sys.executable, "-m", "core.cli", "eval", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--model" in result.stdout


def test_an_os_error_in_any_command_is_one_line(monkeypatch, capsys):
    def unreadable(args):
        raise PermissionError(13, "Permission denied", "/data/locked")

    monkeypatch.setattr(core.cli, "run_models", unreadable)
    assert main(["models"]) == 1
    assert capsys.readouterr().err == "stemforge: error: /data/locked: Permission denied\n"


def test_high_band_choice_reaches_the_stems_and_the_recipe(fake_model, make_audio, tmp_path):
    import json

    path = make_audio(seconds=1.0, samplerate=44100, channels=1, subtype="FLOAT")

    def drums_high_band(mode):
        out = tmp_path / mode
        assert main(["separate", str(path), "--out", str(out), "--preset", "draft", "--high-band", mode]) == 0
        recipe = json.loads((out / "track" / "stemforge.json").read_text())
        recorded = {key: recipe["high_band"].pop(key) for key in ("mask", "mask_sha256") if key in recipe["high_band"]}
        assert recipe["high_band"] == {"mode": mode, "edge_hz": 11025.0, "applied": mode != "residual"}
        assert (recorded["mask"] == "high-band.safetensors" and len(recorded["mask_sha256"]) == 64 if mode == "learned"
                else recorded == {})
        drums = sf.read(str(out / "track" / "drums.wav"))[0]
        spectrum = np.abs(np.fft.rfft(drums)) ** 2
        return spectrum[np.fft.rfftfreq(drums.size, 1 / 44100) > 12000].sum() / spectrum.sum()

    residual, assign, learned = drums_high_band("residual"), drums_high_band("assign"), drums_high_band("learned")
    assert assign > 0.02 > 10 * residual, (assign, residual)
    assert learned > 0.02, (learned, residual)
    with pytest.raises(SystemExit):
        main(["separate", str(path), "--high-band", "mirror"])


@pytest.mark.parametrize("outcome, code", [(None, 0), (Outcome.FAILED, 1), (Outcome.INTERRUPTED, 130)])
def test_a_commands_outcome_is_mapped_to_its_exit_code(outcome, code):
    assert run_command(lambda args: outcome, argparse.Namespace()) == code


def test_a_config_error_in_any_command_is_a_usage_error(capsys):
    def clash(args):
        raise ConfigError("FLOAT samples do not fit in FLAC")

    assert run_command(clash, argparse.Namespace()) == 2
    assert capsys.readouterr().err == "stemforge: error: FLOAT samples do not fit in FLAC\n"


# -- issue 32: hostile inputs through the command line ------------------------------------------


def test_a_seed_beyond_64_bits_is_a_usage_error_before_any_work(monkeypatch, make_audio, tmp_path, capsys):
    """Case 5: `--seed 18446744073709551616` was a 13-line traceback per file, exit 1."""
    monkeypatch.setattr(core.cli, "load_model", lambda spec, device: pytest.fail("no model is loaded"))
    path = make_audio(seconds=0.2)
    for bad in ("18446744073709551616", "-1"):
        with pytest.raises(SystemExit) as caught:
            main(["separate", str(path), "--out", str(tmp_path / "out"), "--seed", bad])
        assert caught.value.code == 2
        error = capsys.readouterr().err.splitlines()[-1]
        assert error.endswith(f"argument --seed: seed {bad} is out of range; choose a whole number "
                              "from 0 to 18446744073709551615 (2^64 - 1)")
    assert not (tmp_path / "out").exists()


def test_the_top_seed_renders(fake_model, make_audio, tmp_path):
    path = make_audio(seconds=0.2)
    assert main(["separate", str(path), "--out", str(tmp_path), "--seed", str(2**64 - 1), "--preset", "best",
                 "--quiet"]) == 0


def test_a_stem_named_twice_and_a_bit_depth_for_ogg_are_usage_errors(fake_model, make_audio, tmp_path, capsys):
    """Cases 2 and 7: `--stems drums,drums` broke the null; `--subtype` was ignored for OGG."""
    path = make_audio(seconds=0.2)
    with pytest.raises(SystemExit) as caught:
        main(["separate", str(path), "--out", str(tmp_path / "out"), "--stems", "drums,drums"])
    assert caught.value.code == 2 and "drums named more than once" in capsys.readouterr().err
    assert main(["separate", str(path), "--out", str(tmp_path / "out"), "--format", "ogg", "--subtype",
                 "PCM_16"]) == 2
    assert capsys.readouterr().err == ("stemforge: error: OGG (Vorbis) is lossy and has no bit depth, so PCM_16 "
                                       "cannot apply; leave out the bit depth, or choose WAV or FLAC\n")
    assert not (tmp_path / "out").exists()


def test_an_absurd_sample_rate_is_one_line_and_the_batch_goes_on(fake_model, make_audio, tmp_path, capsys):
    """Case 4: a 160 KB WAV whose header says 1 GHz drove the process to 24 GB and the OOM
    killer (exit 137, no message, .partial files left)."""
    good = make_audio("good.wav", seconds=0.2)
    ghz = tmp_path / "ghz.wav"
    sf.write(str(ghz), np.zeros((40000, 1)), 1_000_000_000, subtype="PCM_32")
    assert main(["separate", str(ghz), str(good), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    assert capsys.readouterr().err == (f"stemforge: error: {ghz}: sample rate 1000000000 Hz is above the 768000 Hz "
                                       "Stemforge separates (resample it first, or check the file)\n")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_input_is_one_line_and_never_waits_for_a_writer(fake_model, make_audio, tmp_path, capsys):
    """Case 12: `mkfifo f.wav; stemforge separate f.wav` hung in open() waiting for a writer.
    Should it wait again, the watchdog opens the write end after 30 s (the open then
    returns at end of file) and the test fails instead of hanging."""
    fifo = tmp_path / "f.wav"
    os.mkfifo(fifo)
    watchdog = FifoWatchdog(fifo)
    try:
        code = main(["separate", str(fifo), "--out", str(tmp_path / "out")])
    finally:
        watchdog.stop()
    assert not watchdog.fired
    assert code == 1
    assert capsys.readouterr().err == (f"stemforge: error: {fifo}: is a named pipe, not a regular file; "
                                       "Stemforge reads audio files only\n")
    assert not (tmp_path / "out").exists()


def test_a_file_given_twice_or_with_its_folder_is_separated_once(fake_model, make_audio, tmp_path, capsys):
    """Case 13: the same file twice, or a file and its folder, failed with an 'add {folder}'
    hint that cannot help."""
    path = make_audio("in/song.wav", seconds=0.2)
    out = tmp_path / "out"
    assert main(["separate", str(path), str(path), str(tmp_path / "in"), str(tmp_path / "in" / ".." / "in" / "song.wav"),
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out.count("done: song.wav") == 1
    assert sorted(p.name for p in out.iterdir()) == ["song"]


def test_a_file_name_with_a_newline_keeps_its_error_on_one_line(fake_model, tmp_path, capsys):
    """Case 13: a file name with a newline made the error two lines."""
    bad = tmp_path / "two\nlines.wav"
    bad.write_bytes(b"RIFF not audio")
    assert main(["separate", str(bad), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "two\\nlines.wav: not a readable audio file" in err


# -- issue 30: --threads -------------------------------------------------------------------------


def test_threads_reach_torch_in_the_thread_that_runs_the_model(monkeypatch, make_audio, tmp_path):
    import torch

    from core.devices import DEFAULT_SEPARATE_THREADS

    path = make_audio(seconds=0.2)
    for threads, given in ((3, ["--threads", "3"]), (1, ["--threads", "1"]), (DEFAULT_SEPARATE_THREADS, [])):
        torch.set_num_threads(2)  # something else before the run
        model = ThreadCountingModel()
        monkeypatch.setattr(core.cli, "load_model", lambda spec, device, model=model: model)
        out = tmp_path / f"out-{threads}-{len(given)}"
        assert main(["separate", str(path), "--out", str(out), "--quiet", *given]) == 0
        assert model.thread_counts == {threads}


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5"])
def test_threads_below_one_or_not_whole_are_a_usage_error(monkeypatch, make_audio, tmp_path, capsys, bad):
    monkeypatch.setattr(core.cli, "load_model", lambda spec, device: pytest.fail("no model is loaded"))
    path = make_audio(seconds=0.2)
    with pytest.raises(SystemExit) as caught:
        main(["separate", str(path), "--out", str(tmp_path / "out"), f"--threads={bad}"])
    assert caught.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("stemforge separate: error: argument --threads:")
    assert not (tmp_path / "out").exists()


def test_threads_below_one_are_refused_by_the_engine_too(make_audio, tmp_path):
    """A library caller's SeparationOptions(threads=0) fails before any file is touched."""
    from core.jobs import SeparationOptions, run_batch

    path = make_audio(seconds=0.2)
    with pytest.raises(ConfigError, match="threads"):
        run_batch([path], FilterBankModel(), SeparationOptions(out_dir=tmp_path / "out", threads=0))
    assert not (tmp_path / "out").exists()
