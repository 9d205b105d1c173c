"""``stemforge gui``: the CLI's subcommand that opens the desktop app.

The options and the start are :mod:`desktop.app`'s (the ``stemforge-gui`` entry point
uses the same ones); this module only names them for :mod:`core.cli`.
"""

from __future__ import annotations

from desktop.app import add_arguments, run

__all__ = ["add_arguments", "run"]
