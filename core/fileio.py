"""Files written whole or not at all, their checksums, and the leftovers of killed runs.

Every file Stemforge writes goes to a temporary name in the destination folder first,
``.<name>.<pid>-<random>.partial``, and is renamed into place only when complete, so
a crash never leaves a half-written file under a real name. The process id in the
temporary name lets a later run tell the leftovers of a killed process (whose id is no
longer running) from the files a concurrent run is still writing.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

PARTIAL_SUFFIX = ".partial"
"""Suffix of files being written (hidden, in the destination folder)."""

PREVIOUS_SUFFIX = ".previous"
"""Suffix of files moved aside while an output set is being replaced."""

_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?:(?P<pid>\d+)-)?[0-9a-f]{8}(?P<kind>\.partial|\.previous)$")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def temporary_name(path: str | Path, suffix: str = PARTIAL_SUFFIX) -> Path:
    """``<folder>/.<name>.<pid>-<8 hex>.partial``: a fresh hidden name next to ``path``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")


def temporary_name_overhead() -> int:
    """Bytes a temporary name (:func:`temporary_name`, the longer suffix) adds to a file's name."""
    return len(os.fsencode(temporary_name("x", PREVIOUS_SUFFIX).name)) - 1


def longest_name(folder: str | Path) -> int:
    """The most bytes a file name may have in ``folder`` (or its nearest existing parent)."""
    for candidate in (Path(folder), *Path(folder).parents):
        try:
            return int(os.pathconf(candidate, "PC_NAME_MAX"))
        except (OSError, ValueError, AttributeError):
            if candidate.exists():
                break
    return 255


def resolved(path: str | Path) -> Path:
    """``path`` made absolute with symbolic links followed, as far as they lead; a loop
    of links (which :meth:`Path.resolve` raises on) is left unresolved, never an error."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError):
        return Path(os.path.abspath(path))


def place(temporary: str | Path, path: str | Path, overwrite: bool = True) -> Path:
    """Move a finished temporary file onto ``path`` (same folder), atomically.

    Without ``overwrite`` the move never replaces a file, even one another process
    created a moment ago: a hard link claims the name or fails, then the temporary
    name is removed. Filesystems without hard links fall back to check-then-rename.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        OSError: the rename failed (the temporary file is left for the caller).
    """
    temporary, path = Path(temporary), Path(path)
    if overwrite:
        os.replace(temporary, path)
        return path
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EACCES, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        if path.exists():
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(temporary, path)
        return path
    temporary.unlink()
    return path


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb", overwrite: bool = True,
                fsync: bool = False) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on a clean exit move it onto ``path``.

    On any exception (including KeyboardInterrupt) the temporary file is removed and
    ``path`` is left as it was. ``mode`` is ``"wb"`` or ``"w"`` (UTF-8 text).
    """
    path = Path(path)
    temporary = temporary_name(path)
    try:
        with open(temporary, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        place(temporary, path, overwrite)
    finally:
        remove_quietly(temporary)


def write_text_atomic(path: str | Path, text: str, overwrite: bool = True) -> Path:
    """Write a text file (UTF-8) whole or not at all; returns ``path``."""
    with atomic_file(path, "w", overwrite) as handle:
        handle.write(text)
    return Path(path)


def write_bytes_atomic(path: str | Path, data: bytes, overwrite: bool = True) -> Path:
    """Write a binary file whole or not at all; returns ``path``."""
    with atomic_file(path, "wb", overwrite) as handle:
        handle.write(data)
    return Path(path)


def save_atomic(path: str | Path, save: Callable[[Path], None], overwrite: bool = True) -> Path:
    """Let ``save(temporary_path)`` write a file by name (safetensors, npy), then move it
    onto ``path``; the temporary file is removed on failure."""
    path = Path(path)
    temporary = temporary_name(path)
    try:
        save(temporary)
        place(temporary, path, overwrite)
    finally:
        remove_quietly(temporary)
    return path


def remove_quietly(path: str | Path) -> None:
    """Delete a file if it exists."""
    with contextlib.suppress(FileNotFoundError):
        Path(path).unlink()


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (another user's) or we cannot tell: leave its files alone
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files a killed run left in ``folder`` (not recursive).

    A ``.partial`` file is stale when the process named in it no longer runs (or when
    it names none: older versions). A ``.previous`` file (a file moved aside while its
    output set was being replaced) is put back when its original name is free, and
    removed when a newer file took the name. Files of running processes are left alone.

    Returns:
        The stale files handled.
    """
    folder = Path(folder)
    handled: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return handled
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if not match or not entry.is_file():
            continue
        pid = match.group("pid")
        if pid is not None and _running(int(pid)):
            continue
        original = folder / match.group("name")
        try:
            if match.group("kind") == PREVIOUS_SUFFIX and not original.exists():
                os.replace(entry, original)
            else:
                entry.unlink()
        except OSError:
            continue
        handled.append(entry)
    return handled
