"""The queue's plain state: probing, de-duplication, status texts."""

from pathlib import Path

from desktop.queue import ItemStatus, JobQueue, QueueItem, short_reason


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
    item.status, item.fraction = ItemStatus.RUNNING, 0.426
    assert item.status_text == "running 43%"
    item.status, item.message = ItemStatus.FAILED, "/music/song.wav: truncated (header promises 10 bytes)"
    assert item.status_text == "failed: truncated (header promises 10 bytes)"
    queue = JobQueue()
    queue.items = [item, QueueItem(Path("a.wav"), status=ItemStatus.DONE), QueueItem(Path("b.wav"))]
    assert [i.name for i in queue.runnable()] == ["song.wav", "b.wav"]
    assert queue.counts()[ItemStatus.DONE] == 1


def test_short_reason_keeps_messages_without_the_path():
    assert short_reason("something else", Path("x.wav")) == "something else"
    assert short_reason("x.wav: cancelled", Path("x.wav")) == "cancelled"
