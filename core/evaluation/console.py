"""How the measuring commands (eval, sweep, tune) run: gradients off, a progress bar erased at the end."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from core.console import ProgressBar


def run_measurement(body: Callable[[argparse.Namespace, ProgressBar], None], args: argparse.Namespace) -> None:
    """``body(args, bar)`` with gradients off (restored afterwards: callers may train) and a
    progress bar (off with ``--quiet``) that is erased however the body ends."""
    import torch

    bar = ProgressBar(enabled=None if not args.quiet else False)
    try:
        with torch.no_grad():
            body(args, bar)
    finally:
        bar.clear()
