"""Elapsed time and the time-left estimate from measured throughput."""

import pytest

from desktop.eta import ThroughputClock, format_duration


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_estimate_from_throughput_and_it_improves():
    time = FakeClock()
    clock = ThroughputClock(time)
    clock.start(total_audio_seconds=120.0)
    assert clock.remaining is None  # nothing measured yet
    time.now += 0.2
    clock.update(1.0)
    assert clock.remaining is None  # too early to trust
    # first 10 s of wall time: the model loaded caches and went slowly (2 audio s per wall s)
    time.now += 9.8
    clock.update(20.0)
    assert clock.rate == pytest.approx(2.0)
    assert clock.remaining == pytest.approx(50.0)
    # then 4 audio s per wall s: the estimate moves toward the truth as the run goes
    time.now += 10.0
    clock.update(60.0)
    assert clock.rate == pytest.approx(3.0)
    assert clock.remaining == pytest.approx(20.0)
    time.now += 15.0
    clock.update(120.0)
    assert clock.remaining == pytest.approx(0.0)
    assert clock.fraction == pytest.approx(1.0)


def test_failed_files_leave_the_total_and_stop_freezes_elapsed():
    time = FakeClock()
    clock = ThroughputClock(time)
    clock.start(100.0)
    time.now += 10
    clock.update(10.0)
    clock.drop(40.0)  # a 40 s file failed
    assert clock.total_audio == 60.0
    assert clock.remaining == pytest.approx(50.0)
    clock.stop()
    time.now += 30
    assert clock.elapsed == pytest.approx(10.0)
    assert not clock.running


def test_format_duration():
    assert format_duration(None) == "–"
    assert format_duration(0.4) == "0:00"
    assert format_duration(75.3) == "1:15"
    assert format_duration(3725) == "1:02:05"
