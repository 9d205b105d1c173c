"""`stemforge models get`: official files fetched from a server on 127.0.0.1 serving weights
the test made, resumed, verified against the pinned sha256, installed whole or not at all."""

from __future__ import annotations

import errno
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.errors import Cancelled, ConfigError, ModelLoadError, UnknownModelError
from core.fileio import sha256_bytes
from core.models import download, official, store
from core.models.official import OfficialFile
from core.progress import CancelToken
from tests.core.models.weights_server import WeightsServer, only_local_connections

IDENTITY_BAG = "models: ['a', 'b']\nweights: [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]\n"


@pytest.fixture(autouse=True)
def local_only(monkeypatch):
    only_local_connections(monkeypatch)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, bytes]:
    """Three tiny HTDemucs files saved as demucs.states saves them (``<sig>-<sha8>.th``)."""
    pytest.importorskip("demucs.htdemucs")
    from tests.core.models.demucs_files import save_like_demucs, tiny_htdemucs

    folder = tmp_path_factory.mktemp("made")
    files = [save_like_demucs(tiny_htdemucs(seed), folder, sig) for seed, sig in enumerate(("tiny", "a", "b"))]
    return {file.name: file.read_bytes() for file in files}


@pytest.fixture
def server(weights):
    served = WeightsServer(dict(weights))
    yield served
    served.close()


def names(weights, *signatures) -> list[str]:
    return [next(name for name in weights if name.startswith(f"{sig}-")) for sig in signatures]


@pytest.fixture
def catalogue(server, weights):
    return server.catalogue({"tiny": (names(weights, "tiny"), None),
                             "tiny_bag": (names(weights, "a", "b"), IDENTITY_BAG)})


def nothing_installed(root: Path) -> bool:
    """No model registered and nothing under the models folder but (maybe) the download cache."""
    return store.list_installed()[0] == [] and {p.name for p in root.iterdir()} <= {".downloads"} \
        if root.exists() else True


def test_a_model_and_a_bag_are_downloaded_verified_and_installed(catalogue, server, weights, own_model_folders):
    progress = []
    description = download.get_official("tiny", catalogue, progress=lambda f, m: progress.append((f, m)))
    (name,) = names(weights, "tiny")
    assert description.id == "tiny" and description.stems == ("drums", "bass", "other", "vocals")
    assert description.files == {name: sha256_bytes(weights[name])}
    assert description.origin.startswith(f"downloaded from {server.root_url}")
    assert description.licence == "test weights, no licence"
    assert (own_model_folders / "tiny" / name).read_bytes() == weights[name]
    assert [(s.name, s.range, s.status) for s in server.served] == [(name, None, 200)]
    assert progress[-1][0] == 1.0 and all(0 <= f <= 1 for f, _ in progress)
    assert [f for f, _ in progress] == sorted(f for f, _ in progress)
    assert {p.name for p in own_model_folders.iterdir()} == {"tiny"}  # the download cache is gone

    bag = download.get_official("tiny_bag", catalogue)
    a, b = names(weights, "a", "b")
    assert bag.details["entry"] == "tiny_bag.yaml"
    assert set(bag.files) == {"tiny_bag.yaml", a, b}
    assert bag.files[a] == sha256_bytes(weights[a]) and bag.files[b] == sha256_bytes(weights[b])
    from core.models.registry import load_model

    model = load_model("tiny_bag", device="cpu")
    assert model.weights.tolist() == [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]


def test_a_cancelled_download_keeps_its_part_and_the_next_one_resumes_with_a_range(
        catalogue, server, weights, own_model_folders, monkeypatch):
    monkeypatch.setattr(download, "CHUNK_BYTES", 1 << 14)
    token = CancelToken()

    def cancel_after_two_chunks(fraction, message):
        if fraction >= 2 * (1 << 14) / len(weights[name]):
            token.cancel()

    (name,) = names(weights, "tiny")
    with pytest.raises(Cancelled) as cancelled:
        download.get_official("tiny", catalogue, progress=cancel_after_two_chunks, cancel=token)
    folder = download.download_folder("tiny")
    (partial,) = folder.glob("*.part")
    kept = partial.stat().st_size
    assert kept == 2 * (1 << 14)
    assert str(cancelled.value) == (f"{name}: download cancelled (0.0 MB received are kept in {folder}; "
                                    "getting the model again resumes there)")
    assert nothing_installed(own_model_folders)

    download.get_official("tiny", catalogue)
    assert [(s.range, s.status) for s in server.served] == [(None, 200), (f"bytes={kept}-", 206)]
    assert server.served[1].sent == len(weights[name]) - kept
    assert (own_model_folders / "tiny" / name).read_bytes() == weights[name]
    assert not (own_model_folders / ".downloads").exists()


def test_a_transfer_that_breaks_off_resumes_and_a_server_without_ranges_starts_over(server, tmp_path):
    data = random.Random(0).randbytes(300_000)
    server.files["blob.th"] = data
    file = OfficialFile("blob.th", sha256_bytes(data), len(data))
    url = server.root_url + "blob.th"
    server.cut_after["blob.th"] = 120_000
    with pytest.raises(ModelLoadError) as broken:
        download.fetch_file(url, file, tmp_path)
    assert str(broken.value) == (f"{url}: the transfer broke off after 0.1 MB of 0.3 MB; nothing installed "
                                 f"(0.1 MB received are kept in {tmp_path}; getting the model again resumes there)")
    assert download.partial_path(tmp_path, file).stat().st_size == 120_000
    assert download.fetch_file(url, file, tmp_path).read_bytes() == data
    assert [(s.range, s.sent) for s in server.served] == [(None, 120_000), ("bytes=120000-", 180_000)]
    assert list(tmp_path.iterdir()) == [tmp_path / "blob.th"]

    (tmp_path / "blob.th").unlink()
    server.cut_after["blob.th"] = 50_000
    with pytest.raises(ModelLoadError, match="broke off"):
        download.fetch_file(url, file, tmp_path)
    server.ranges = False  # the whole file again, from its start
    assert download.fetch_file(url, file, tmp_path).read_bytes() == data
    assert [(s.range, s.status, s.sent) for s in server.served[2:]] == [(None, 200, 50_000),
                                                                         ("bytes=50000-", 200, 300_000)]


def test_a_sha256_mismatch_deletes_the_download_and_installs_nothing(server, weights, own_model_folders):
    (name,) = names(weights, "tiny")
    catalogue = server.catalogue({"tiny": ([name], None)})
    server.files[name] = bytes(reversed(weights[name]))  # same length, other bytes
    url = server.root_url + name
    with pytest.raises(ModelLoadError) as mismatch:
        download.get_official("tiny", catalogue)
    actual = sha256_bytes(server.files[name])
    assert str(mismatch.value) == (f"{url}: sha256 {actual} does not match the pinned {sha256_bytes(weights[name])}; "
                                   "the download was deleted and nothing installed")
    assert nothing_installed(own_model_folders) and not (own_model_folders / ".downloads").exists()


def test_a_full_disk_during_a_download_deletes_it_and_installs_nothing(catalogue, weights, own_model_folders,
                                                                       monkeypatch):
    monkeypatch.setattr(download, "CHUNK_BYTES", 1 << 14)
    writes = []

    def fills_up(handle, block):
        if len(writes) == 3:
            handle.write(block[:100])  # part of it reached the disk
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        writes.append(len(block))
        handle.write(block)

    monkeypatch.setattr(download, "_write_block", fills_up)
    a, b = names(weights, "a", "b")
    with pytest.raises(download.DiskFullError) as full:
        download.get_official("tiny_bag", catalogue)
    partial = download.partial_path(download.download_folder("tiny_bag"), catalogue.models["tiny_bag"].files[0])
    assert str(full.value) == (f"{partial}: the disk is full (writing {a}, 0.3 MB); the partial download was "
                               "deleted and nothing installed")
    assert nothing_installed(own_model_folders) and not (own_model_folders / ".downloads").exists()


def test_a_server_error_is_one_line_and_nothing_is_left(catalogue, server, weights, own_model_folders):
    a, b = names(weights, "a", "b")
    server.status[b] = 503
    with pytest.raises(ModelLoadError) as error:
        download.get_official("tiny_bag", catalogue)
    assert str(error.value) == f"{server.root_url}{b}: the server answered 503 Service Unavailable; nothing installed"
    assert nothing_installed(own_model_folders)
    assert [p.name for p in download.download_folder("tiny_bag").iterdir()] == [a]  # verified, kept for next time
    del server.status[b]
    download.get_official("tiny_bag", catalogue)
    assert [s.name for s in server.served] == [a, b, b]  # a was not fetched again


def test_refused_before_any_request(server, weights, catalogue, own_model_folders):
    (name,) = names(weights, "tiny")
    unpinned = server.catalogue({"tiny": ([name], None)}, pins={name: None})
    with pytest.raises(ModelLoadError) as error:
        download.get_official("tiny", unpinned)
    assert str(error.value) == (f"tiny: the full sha256 of {name} is not pinned in this version of Stemforge, so it "
                                "is not downloaded; fetch the files yourself and use 'stemforge models add'")
    with pytest.raises(UnknownModelError, match="no official model 'nope' to download; 'stemforge models get' "
                                                "offers tiny, tiny_bag"):
        download.get_official("nope", catalogue)
    folder = download.download_folder("tiny")
    folder.mkdir(parents=True)
    with download._exclusive(folder.with_name("tiny.lock"), "tiny"):  # as another process would
        with pytest.raises(ConfigError, match="tiny is being downloaded by another Stemforge process"):
            download.get_official("tiny", catalogue)
    assert server.served == []
    download.get_official("tiny", catalogue)
    server.served.clear()
    with pytest.raises(ConfigError, match="a model with the id 'tiny' is already installed"):
        download.get_official("tiny", catalogue)
    assert server.served == []


def test_a_server_offering_another_length_is_refused(server, tmp_path):
    server.files["blob.th"] = b"x" * 1000
    file = OfficialFile("blob.th", sha256_bytes(b"x" * 1000), 999)
    with pytest.raises(ModelLoadError, match=r"blob.th: the server offers 1000 bytes, the pinned file has 999"):
        download.fetch_file(server.root_url + "blob.th", file, tmp_path)
    longer = OfficialFile("blob.th", file.sha256, None)
    assert download.fetch_file(server.root_url + "blob.th", longer, tmp_path).read_bytes() == b"x" * 1000


# -- the command line ------------------------------------------------------------------------


def test_models_get_shows_the_licence_asks_and_installs(catalogue, server, weights, monkeypatch, capsys):
    monkeypatch.setattr(official, "OFFICIAL", catalogue)
    assert main(["models", "get"]) == 0
    listing = capsys.readouterr().out
    assert "tiny_bag" in listing and server.served == []

    assert main(["models", "get", "tiny"]) == 2  # no terminal to ask on, no --yes
    captured = capsys.readouterr()
    assert "licence: test weights, no licence" in captured.out and "origin: made by the test" in captured.out
    assert captured.err == "stemforge: error: models get tiny: confirm with --yes (no terminal to ask on); nothing downloaded\n"
    assert server.served == []

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter(["n", "y"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    assert main(["models", "get", "tiny"]) == 1
    assert capsys.readouterr().err == "stemforge: error: models get tiny: not confirmed; nothing downloaded\n"
    assert server.served == []
    assert main(["models", "get", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "installed tiny (demucs)" in out and "use it with: stemforge separate --model tiny" in out
    assert main(["models", "get", "tiny_bag", "--yes"]) == 0
    assert {m.id for m in store.list_installed()[0]} == {"tiny", "tiny_bag"}


def test_models_get_failures_are_one_line(catalogue, server, weights, monkeypatch, capsys):
    monkeypatch.setattr(official, "OFFICIAL", catalogue)
    (name,) = names(weights, "tiny")
    server.status[name] = 500
    assert main(["models", "get", "tiny", "--yes"]) == 1
    err = capsys.readouterr().err
    assert err == (f"stemforge: error: {server.root_url}{name}: the server answered 500 Internal Server Error; "
                   "nothing installed\n")
    assert main(["models", "get", "htdemucs", "--yes"]) == 2  # not in this catalogue
    assert capsys.readouterr().err.count("\n") == 1


def test_ctrl_c_keeps_what_was_received_and_the_same_command_resumes(catalogue, server, weights, monkeypatch,
                                                                     capsys):
    import core.models.get_command as get_command

    monkeypatch.setattr(official, "OFFICIAL", catalogue)
    monkeypatch.setattr(download, "CHUNK_BYTES", 1 << 14)

    class CtrlC:
        def __init__(self):
            self.calls = 0

        def __call__(self, fraction, message):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt

        def clear(self):
            pass

    class Quiet(CtrlC):
        def __call__(self, fraction, message):
            pass

    monkeypatch.setattr(get_command, "ProgressBar", CtrlC)
    assert main(["models", "get", "tiny", "--yes"]) == 130
    folder = download.download_folder("tiny")
    assert capsys.readouterr().err == (f"stemforge: interrupted; 0.0 MB received are kept in {folder}: "
                                       "the same command resumes\n")
    (partial,) = folder.glob("*.part")
    assert partial.stat().st_size == 3 * (1 << 14) and store.list_installed()[0] == []
    monkeypatch.setattr(get_command, "ProgressBar", Quiet)
    assert main(["models", "get", "tiny", "--yes"]) == 0
    assert server.served[-1].range == f"bytes={3 * (1 << 14)}-"
    assert [m.id for m in store.list_installed()[0]] == ["tiny"]


def test_too_little_room_is_refused_before_any_request(catalogue, server, monkeypatch, own_model_folders):
    monkeypatch.setattr(download.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 1000})())
    with pytest.raises(ModelLoadError) as error:
        download.get_official("tiny", catalogue)
    assert str(error.value) == (f"{download.download_folder('tiny')}: tiny needs 0.3 MB more, the disk has 0.0 MB "
                                "free; nothing downloaded")
    assert server.served == [] and not (own_model_folders / ".downloads").exists()


# -- the official table ----------------------------------------------------------------------


def test_the_official_table_is_the_one_the_demucs_package_lists():
    yaml = pytest.importorskip("yaml")
    pretrained = pytest.importorskip("demucs.pretrained")
    remote = pretrained.REMOTE_ROOT
    listed = pretrained._parse_remote_files(remote / "files.txt")  # signature -> URL
    for model in official.OFFICIAL_MODELS.values():
        bag = yaml.safe_load((remote / f"{model.id}.yaml").read_text())
        signatures = [file.name.split("-")[0] for file in model.files]
        assert bag["models"] == signatures
        for file, signature in zip(model.files, signatures, strict=True):
            assert listed[signature] == official.DEMUCS_ROOT_URL + file.name
            assert len(file.sha256) == 64 and int(file.sha256, 16) >= 0
            assert file.sha256.startswith(file.name.rsplit("-", 1)[1].removesuffix(".th"))
        if model.bag_yaml is None:
            assert "weights" not in bag and model.entry == model.files[0].name
        else:
            assert yaml.safe_load(model.bag_yaml) == bag
    assert official.OFFICIAL.root_url == official.DEMUCS_ROOT_URL


def test_nothing_downloads_or_imports_the_downloader_at_start_up():
    code = ("import sys\nfrom core.cli import build_parser, main\nbuild_parser()\n"
            "for argv in (['models', '--help'], ['models', 'get', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "import desktop.main_window\n"
            "assert 'core.models.download' not in sys.modules, 'the downloader was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    assert "sha256" in result.stdout
