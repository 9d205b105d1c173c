"""The engine's error hierarchy (every message names what failed and what to do about
it), and the :class:`Outcome` a command returns when it ends without an error.

Commands raise these errors and return ``None`` or an :class:`Outcome`; only
:func:`core.cli.run_command` turns them into one line on stderr and an exit code.
"""

from enum import Enum


class Outcome(Enum):
    """How a command ended when it did not simply succeed (``None`` means it did)."""

    FAILED = "failed"
    """Some of the work failed; each failure was already reported on its own line."""

    INTERRUPTED = "interrupted"
    """The user stopped the work and what was done is kept (a training run resumes)."""


class StemforgeError(Exception):
    """Base class of every error the engine raises on purpose."""


class Cancelled(StemforgeError):
    """The user cancelled the work; nothing partial was left behind."""


class AudioLoadError(StemforgeError):
    """An input file cannot be read or is not usable audio (the message names the file)."""


class AudioWriteError(StemforgeError):
    """An output file cannot be written (folder not writable, disk full, ...)."""


class ModelLoadError(StemforgeError):
    """A model bundle is missing, corrupted, truncated or does not match this version."""


class UnknownModelError(ModelLoadError):
    """No bundle has the id (or folder) the user named: a usage error."""


class OutputExistsError(StemforgeError):
    """An output file already exists and overwriting was not requested."""


class ConfigError(StemforgeError):
    """Options that do not fit together (for example FLOAT samples in a FLAC file)."""
