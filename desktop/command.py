"""``stemforge gui``: the CLI's subcommand that opens the desktop app."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="*", type=Path, metavar="FILE_OR_FOLDER",
                        help="tracks or folders (searched recursively) to put in the queue")
    parser.add_argument("--model", metavar="BUNDLE", default=None,
                        help="model bundle folder or installed bundle id (default: the installed default model)")


def run(args: argparse.Namespace) -> int:
    missing = [str(p) for p in args.inputs if not Path(p).exists()]
    if missing:
        print(f"stemforge: error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        from desktop.app import launch
    except ImportError as error:
        print(f"stemforge: error: the desktop app cannot start ({error}); install PySide6 and pyqtgraph",
              file=sys.stderr)
        return 1
    return launch(list(args.inputs), args.model, getattr(args, "qt_args", None))
