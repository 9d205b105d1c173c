"""The command line's progress bar (core.console)."""

import io

from core.console import ProgressBar, one_line


def test_the_bar_draws_on_one_line_and_clear_erases_it():
    stream = io.StringIO()
    bar = ProgressBar(enabled=True, stream=stream)
    bar(0.5, "[1/2] song.wav")
    drawn = stream.getvalue()
    assert drawn.startswith("\r[" + "#" * 15 + "." * 15 + "]") and " 50.0%" in drawn and "[1/2] song.wav" in drawn
    bar.clear()
    assert stream.getvalue()[len(drawn):].strip() == "" and stream.getvalue().endswith("\r")


def test_a_disabled_bar_writes_nothing():
    stream = io.StringIO()
    bar = ProgressBar(enabled=False, stream=stream)
    bar(1.0, "done")
    bar.clear()
    assert stream.getvalue() == ""


def test_one_line_escapes_what_would_break_a_line():
    """Issue 32 case 13: a file name with a newline made an error two lines."""
    assert one_line("a\nb\r\tc\x1bd\u2028e") == "a\\nb\\r\\tc\\x1bd\\u2028e"
    assert one_line("ünïcode stays") == "ünïcode stays"
