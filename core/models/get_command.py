"""``stemforge models get [ID] [--yes]``: download an official Demucs model on request.

Without an id it lists what can be downloaded (nothing is requested). With one, it shows
the model's origin, files, sizes, pinned sha256 and licence situation first, asks
"Download ...? [y/N]" (``--yes`` answers for a script; without a terminal and without
``--yes`` it refuses), then downloads with a progress bar, verifies and installs
(:func:`core.models.download.get_official`). Ctrl-C keeps what was received: the same
command resumes it.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit

from core.console import ProgressBar, one_line
from core.errors import Cancelled, ConfigError, Outcome


def add_get_parser(actions) -> None:
    """The ``get`` action under ``stemforge models``."""
    get = actions.add_parser(
        "get", help="download an official Demucs model (htdemucs, htdemucs_ft, htdemucs_6s), after showing "
                    "its origin and licence and asking",
        description="Download an official Demucs v4 model from the server the demucs package lists, verify every "
                    "file against the full sha256 pinned in Stemforge, and install it. Without ID: list them. "
                    "An interrupted download resumes when the command is run again.")
    get.add_argument("model_id", nargs="?", metavar="ID", help="htdemucs, htdemucs_ft or htdemucs_6s")
    get.add_argument("--yes", "-y", action="store_true", help="download without asking for confirmation")


def run_get(args: argparse.Namespace) -> Outcome | None:
    from core.models import official
    from core.models.store import models_folder

    catalogue = official.OFFICIAL
    if args.model_id is None:
        for model in catalogue.models.values():
            pinned = "" if not official.unpinned_files(model) else "  [refused: a full sha256 is not pinned]"
            print(f"{model.id:<12} {official.megabytes(model.total_size):>9}  {', '.join(model.stems)}: "
                  f"{model.about}{pinned}")
        print(f"from {catalogue.root_url}; 'stemforge models get ID' shows the licence situation and asks first")
        return None
    from core.models.download import download_folder, find_official, get_official

    model = find_official(args.model_id, catalogue)
    for line in official.summary_lines(model, catalogue, str(models_folder() / model.id)):
        print(line)
    if not args.yes:
        _confirm(model, catalogue)
    from core.cli import EXIT_TERMINATED, Terminated

    bar = ProgressBar()
    try:
        description = get_official(model.id, catalogue, progress=bar)
    except KeyboardInterrupt:  # what was received is kept: say so, not "removed"
        bar.clear()
        print(f"stemforge: interrupted{_kept(download_folder(model.id))}", file=sys.stderr)
        return Outcome.INTERRUPTED
    except Terminated:
        bar.clear()
        print(f"stemforge: terminated{_kept(download_folder(model.id))}", file=sys.stderr)
        raise SystemExit(EXIT_TERMINATED) from None
    finally:
        bar.clear()
    print(f"installed {description.id} ({description.family}) -> {description.path}")
    print(f"  stems {', '.join(description.stems)} (residual: {description.residual}); every file's sha256 "
          "matched the pinned value")
    print(f"  use it with: stemforge separate --model {description.id} FILES...")
    return None


def _confirm(model, catalogue) -> None:
    from core.models.official import megabytes

    if not sys.stdin.isatty():
        raise ConfigError(f"models get {model.id}: confirm with --yes (no terminal to ask on); nothing downloaded")
    host = urlsplit(catalogue.root_url).netloc or catalogue.root_url
    try:
        answer = input(f"Download {megabytes(model.total_size)} from {host}? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise Cancelled(f"models get {model.id}: not confirmed; nothing downloaded")


def _kept(folder) -> str:
    from core.models.official import megabytes

    received = sum(p.stat().st_size for p in folder.glob("*") if p.is_file()) if folder.is_dir() else 0
    if not received:
        return "; nothing was kept"
    return one_line(f"; {megabytes(received)} received are kept in {folder}: the same command resumes")
