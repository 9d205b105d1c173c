"""The queue's plain state: probing, de-duplication, status texts."""

from pathlib import Path

from core.jobs import FileResult, FileStatus
from desktop.queue import JobQueue, QueueItem, QueueState, short_reason


def test_add_probes_and_deduplicates(make_audio, tmp_path):
    queue = JobQueue()
    track = make_audio("t.flac", seconds=1.5, samplerate=22050, channels=1)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"garbage")
    added = queue.add([track, bad, tmp_path / ".." / tmp_path.name / "t.flac"])
    assert [item.name for item in added] == ["t.flac", "bad.wav"]
    assert added[0].duration == 1.5 and added[0].format_label == "FLAC PCM_16 · 22.05 kHz · mono"
    assert added[1].duration is None and added[1].format_label == "unreadable"
    assert "bad.wav" in added[1].probe_error
    assert queue.add([track]) == []


def test_status_texts_and_runnable():
    item = QueueItem(Path("/music/song.wav"))
    assert item.status_text == "waiting"
    item.status, item.fraction = QueueState.RUNNING, 0.426
    assert item.status_text == "running 43%"
    item.status, item.message = FileStatus.FAILED, "/music/song.wav: truncated (header promises 10 bytes)"
    assert item.status_text == "failed: truncated (header promises 10 bytes)"
    queue = JobQueue()
    queue.items = [item, QueueItem(Path("a.wav"), status=FileStatus.DONE), QueueItem(Path("b.wav"))]
    assert [i.name for i in queue.runnable()] == ["song.wav", "b.wav"]
    assert queue.counts()[FileStatus.DONE] == 1


def test_short_reason_keeps_messages_without_the_path():
    assert short_reason("something else", Path("x.wav")) == "something else"
    assert short_reason("x.wav: cancelled", Path("x.wav")) == "cancelled"


def finished_queue() -> JobQueue:
    """Three items: done (with outputs), failed, waiting."""
    queue = JobQueue()
    done = QueueItem(Path("done.wav"), status=FileStatus.DONE, fraction=1.0, message="ok",
                     outputs={"bass": Path("done/bass.wav")}, recipe=Path("done/stemforge.json"), null_db=-140.0)
    failed = QueueItem(Path("failed.wav"), status=FileStatus.FAILED, message="failed.wav: truncated")
    queue.items = [done, failed, QueueItem(Path("new.wav"))]
    return queue


def test_begin_resets_what_a_run_will_do_and_returns_the_batch():
    queue = finished_queue()
    done, failed, new = queue.items
    assert queue.begin() == [failed.id, new.id]
    assert (failed.status, failed.message, failed.fraction) == (QueueState.WAITING, "", 0.0)
    assert done.status is FileStatus.DONE and done.outputs  # done items are not run again


def test_advance_and_apply_follow_the_engine():
    queue = finished_queue()
    _, _, new = queue.items
    assert queue.advance(new.id, 0.25) == [new.id]
    assert (new.status, new.fraction, new.finished) == (QueueState.RUNNING, 0.25, False)
    result = FileResult(new.path, "done", "new.wav: 4 stems", outputs={"drums": Path("new/drums.wav")},
                        recipe=Path("new/stemforge.json"), null_db=-120.0)
    assert result.status is FileStatus.DONE  # a value is turned into the member
    assert queue.apply(new.id, result) == [new.id]
    assert (new.status, new.fraction, new.message, new.finished) == (FileStatus.DONE, 1.0, "new.wav: 4 stems", True)
    assert (new.outputs, new.recipe, new.null_db) == (result.outputs, result.recipe, -120.0)
    assert queue.apply(new.id, FileResult(new.path, FileStatus.CANCELLED, "cancelled")) == [new.id]
    assert (new.status, new.fraction) == (FileStatus.CANCELLED, 0.0)
    assert queue.advance(10**9, 0.5) == [] and queue.apply(10**9, result) == []


def test_reset_forgets_outcomes_and_abandon_only_touches_unfinished_items():
    queue = finished_queue()
    done, failed, new = queue.items
    queue.advance(new.id, 0.5)
    assert queue.abandon([done.id, failed.id, new.id]) == [new.id]
    assert (new.status, new.fraction) == (QueueState.WAITING, 0.0) and failed.status is FileStatus.FAILED
    assert queue.reset([done.id, 10**9]) == [done.id]
    assert (done.status, done.fraction, done.message) == (QueueState.WAITING, 0.0, "")
    assert (done.outputs, done.recipe, done.null_db) == ({}, None, None)
