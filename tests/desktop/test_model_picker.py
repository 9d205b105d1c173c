"""The model selector in the real window: add a Demucs model, its stems become the instrument
buttons, a run uses it (real registry and worker), the choice survives a restart, remove."""

from __future__ import annotations

import pytest
import soundfile as sf

from tests.desktop.test_main_window import RUN_TIMEOUT_MS

pytest.importorskip("demucs.htdemucs")
from tests.core.models.demucs_files import save_like_demucs, tiny_htdemucs  # noqa: E402


@pytest.fixture
def user_models(monkeypatch, tmp_path, single_thread):
    monkeypatch.setenv("STEMFORGE_MODELS", str(tmp_path / "user-models"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path / "user-models"


def chips(window) -> list[str]:
    return list(window.options_panel.stem_chips)


def offered_presets(window) -> list[str]:
    combo = window.options_panel.preset
    return [combo.itemData(i) for i in range(combo.count()) if combo.model().item(i).isEnabled()]


def test_add_choose_run_restart_and_remove_a_demucs_model(make_window, make_audio, qtbot, tmp_path, user_models,
                                                          settings_file):
    window = make_window(model=None)  # every installed model, the real loader
    picker = window.options_panel.model_picker
    default = picker.current()
    assert default is not None and chips(window) == [*default.stems, default.residual]
    th = save_like_demucs(tiny_htdemucs(0), tmp_path / "files", "tiny")

    with qtbot.waitSignal(picker.add_finished, timeout=RUN_TIMEOUT_MS) as added:
        picker.add_files([th])
    assert added.args == [True]
    assert picker.current().model_id == "tiny" and window.model_info.model_id == "tiny"
    assert chips(window) == ["drums", "bass", "other", "vocals", "residual"]
    assert window.options_panel.residual_chip.text() == "Residual"
    assert "drums, bass, other, vocals, plus residual" in picker.note.text() and "Licence: Demucs" in picker.note.text()
    assert picker.remove_button.isEnabled()
    assert offered_presets(window) == ["draft"]  # the others wait for 'stemforge tune'
    assert window.current_options().preset == "draft"

    window.options_panel.stem_chips["vocals"].click()  # not wanted
    window.add_paths([make_audio("song.wav", seconds=1.0)])
    with qtbot.waitSignal(window.run_control.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        assert window.run_control.start()
    assert [r.status for r in finished.args[0]] == ["done"], finished.args[0][0].message
    written = sorted(p.stem for p in (tmp_path / "stems" / "song").glob("*.wav"))
    assert written == ["bass", "drums", "other", "residual"]
    assert sf.info(str(tmp_path / "stems" / "song" / "residual.wav")).frames == 44100
    window.close()

    second = make_window(model=None, keep_options=True)
    assert second.options_panel.model_picker.current().model_id == "tiny"
    assert chips(second) == ["drums", "bass", "other", "vocals", "residual"]
    assert not second.options_panel.stem_chips["vocals"].isChecked()
    assert second.current_options().model == "tiny"

    assert second.options_panel.model_picker.remove_current(confirm=False)
    assert not (user_models / "tiny").exists()
    assert second.options_panel.model_picker.current().model_id == default.model_id
    assert chips(second) == [*default.stems, default.residual]
    assert not second.options_panel.model_picker.remove_button.isEnabled()  # a built-in model stays


def test_a_bad_file_is_one_readable_error_and_nothing_is_added(make_window, qtbot, tmp_path, user_models):
    window = make_window(model=None)
    picker = window.options_panel.model_picker
    before = [info.model_id for info in picker.models]
    bad = tmp_path / "broken.th"
    bad.write_bytes(b"not a torch file")
    errors = []
    picker.error.connect(lambda title, text: errors.append((title, text)))
    with qtbot.waitSignal(picker.add_finished, timeout=RUN_TIMEOUT_MS) as added:
        picker.add_files([bad])
    assert added.args == [False]
    assert errors == [("The model cannot be added",
                       f"{bad}: not a readable Demucs .th file (truncated or corrupted: "
                       + errors[0][1].split("(truncated or corrupted: ", 1)[1])]
    assert [info.model_id for info in picker.models] == before
    assert not user_models.exists() or not any(user_models.iterdir())
