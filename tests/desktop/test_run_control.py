"""The run bar on its own: what Start refuses, and one run from the worker's reports."""

from __future__ import annotations

import pytest

from core.jobs import FileStatus
from desktop.model_info import ModelInfo
from desktop.options import AppOptions
from desktop.queue import JobQueue
from desktop.queue_model import QueueTableModel
from desktop.run_control import PROGRESS_STEPS, RunControl
from tests.fakes import FilterBankModel


@pytest.fixture
def make_control(qtbot, tmp_path):
    controls: list[RunControl] = []

    def make(model_available: bool = True) -> RunControl:
        queue = JobQueue()
        model = FilterBankModel()
        control = RunControl(
            queue, QueueTableModel(queue), lambda: AppOptions(preset="draft", out_dir=tmp_path / "stems"),
            (lambda spec, device: model) if model_available else None,
            ModelInfo.from_model(model) if model_available else ModelInfo(missing="Install a bundle."),
            model_available,
        )
        qtbot.addWidget(control)
        controls.append(control)
        return control

    yield make
    for control in controls:
        control.stop()


def recorder(signal) -> list:
    received = []
    signal.connect(lambda *args: received.append(args))
    return received


def test_start_refuses_without_a_model_or_without_work(make_control, make_audio):
    control = make_control(model_available=False)
    errors = recorder(control.error)
    assert control.start() is False and errors == [("No model installed", "Install a bundle.", "")]
    assert "No model installed" in control.start_button.toolTip()

    control = make_control()
    messages = recorder(control.status_message)
    assert not control.start_button.isEnabled()
    assert control.start() is False and "Nothing to do" in messages[0][0]
    control.queue.add([make_audio("t.wav", seconds=0.5)])
    control.update_controls()
    assert control.start_button.isEnabled() and control.start_action.isEnabled()


def test_a_run_turns_the_workers_reports_into_queue_transitions(make_control, make_audio, qtbot):
    control = make_control()
    control.queue.add([make_audio("a.wav", seconds=0.5), make_audio("b.wav", seconds=0.5, seed=1)])
    running = recorder(control.running_changed)
    started = recorder(control.batch_started)
    finished = recorder(control.item_finished)
    with qtbot.waitSignal(control.run_finished, timeout=60000) as blocker:
        assert control.start()
        assert control.running and not control.start_button.isEnabled() and control.cancel_button.isEnabled()
    ids = [item.id for item in control.queue]
    assert [r.status for r in blocker.args[0]] == [FileStatus.DONE, FileStatus.DONE]
    assert [item.status for item in control.queue] == [FileStatus.DONE, FileStatus.DONE]
    assert started == [(ids,)] and finished == [(ids[0],), (ids[1],)]
    assert running[0] == (True,) and running[-1] == (False,) and not control.running
    assert control.overall.value() == PROGRESS_STEPS and "Finished: 2 done" in control.run_label.text()
    assert not control.start_button.isEnabled()  # everything queued is done
