"""Number parsers for command-line options (argparse ``type=`` callables).

Each turns bad text into a one-line ``argparse`` usage error (exit code 2).
"""

import argparse

from core.errors import ConfigError
from core.option_checks import check_seed


def _number(text: str, kind: type) -> float:
    try:
        return kind(text)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def positive_float(text: str) -> float:
    """A number > 0."""
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def non_negative_float(text: str) -> float:
    """A number >= 0."""
    value = _number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def seed(text: str) -> int:
    """A seed of :func:`core.option_checks.check_seed` (0 to 2^64 - 1)."""
    try:
        return check_seed(int(_number(text, int)))
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
