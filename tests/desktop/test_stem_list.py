"""Stems leave the app as file URLs; solo/mute buttons follow the mixer."""

from PySide6.QtCore import QUrl

from desktop.mixer import MIXTURE
from desktop.stem_list import StemList, mime_for_files


def test_drag_out_carries_file_urls(qtbot, tmp_path):
    stems = {}
    for name in ("bass", "drums", "other"):
        stems[name] = tmp_path / "song" / f"{name}.wav"
        stems[name].parent.mkdir(exist_ok=True)
        stems[name].write_bytes(b"RIFF")
    mixture = tmp_path / "song.wav"
    mixture.write_bytes(b"RIFF")
    panel = StemList()
    qtbot.addWidget(panel)
    panel.set_tracks({MIXTURE: mixture, **stems})

    mime = panel.rows["drums"].mime_data()
    assert mime.hasUrls()
    assert mime.urls() == [QUrl.fromLocalFile(str(stems["drums"]))]
    assert mime.urls()[0].isLocalFile() and mime.urls()[0].toLocalFile() == str(stems["drums"])
    assert "text/uri-list" in mime.formats()

    everything = panel.all_stems.mime_data()
    assert [url.toLocalFile() for url in everything.urls()] == [str(p) for p in stems.values()]
    assert panel.all_stems.isVisibleTo(panel)


def test_relative_paths_become_absolute_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = mime_for_files(["stems/bass.wav"]).urls()[0]
    assert url.toLocalFile() == str(tmp_path / "stems" / "bass.wav")


def test_buttons_follow_the_mixer_state(qtbot, tmp_path):
    panel = StemList()
    qtbot.addWidget(panel)
    panel.set_tracks({MIXTURE: tmp_path / "m.wav", "bass": tmp_path / "b.wav"})
    toggled = []
    panel.solo_toggled.connect(lambda name, on: toggled.append((name, on)))
    panel.rows["bass"].solo.click()
    assert toggled == [("bass", True)]
    panel.sync(soloed=set(), muted={MIXTURE})
    assert panel.rows[MIXTURE].mute.isChecked() and not panel.rows["bass"].solo.isChecked()
    assert toggled == [("bass", True)]  # syncing does not echo signals back
    panel.set_tracks({MIXTURE: tmp_path / "m.wav"})
    assert not panel.all_stems.isVisibleTo(panel)
