"""``stemforge models get``: download an official model on request, verify it, install it.

The only module of Stemforge that opens a network connection, and only when a user asked
for a model by name (the CLI after its prompt or ``--yes``, the app after its dialog);
nothing imports it at start-up. Files come from :class:`~core.models.official.Catalogue`
(``root_url + name``, :data:`~core.models.official.OFFICIAL` by default) over HTTP(S) with
the standard library (proxies from the environment, certificates checked).

How a download goes (:func:`get_official`):

1. the id must be in the catalogue, every file's full sha256 pinned, the id not installed,
   the ``demucs`` package importable and the disk roomy enough: otherwise one line, and
   nothing is requested;
2. each file is received into the download cache of the user's model folder::

       <models folder>/.downloads/<id>/<name>.<first 16 hex of its sha256>.part

   appending to what an earlier, interrupted request left there (an HTTP ``Range``
   request; a server that ignores it sends the file again from its start). Once complete,
   its sha256 must equal the pinned one, and it is renamed to ``<name>`` beside it;
3. a bag's YAML is written beside the files, the model is read and checked as
   ``stemforge models add`` checks it (torch's weights-only unpickler), and installed with
   :func:`core.models.store.install` (moved, whole or not at all); the cache folder goes.

What is left when it fails: a cancelled or broken-off transfer (Ctrl-C, the app's Cancel,
a network error, a server error) keeps what was received, in the cache above, so that the
next ``models get`` of the same id resumes; deleting ``.downloads`` is always safe. A
file whose sha256 does not match is deleted; a full disk deletes the model's whole cache
folder. Nothing is ever registered half-way. Two downloads of one id at once are refused
(a lock file, ``.downloads/<id>.lock``, held by the running one).
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import IO

from core import __version__
from core.errors import Cancelled, ConfigError, ModelLoadError, UnknownModelError
from core.fileio import remove_quietly, write_text_atomic
from core.models import store
from core.models.official import (
    OFFICIAL,
    Catalogue,
    OfficialFile,
    OfficialModel,
    megabytes,
    unpinned_files,
)
from core.progress import NEVER_CANCELLED, CancelToken, ProgressCallback, no_progress

DOWNLOADS_FOLDER = ".downloads"
"""The download cache, inside the user's model folder (hidden: never listed as a model)."""
PART_SUFFIX = ".part"
CHUNK_BYTES = 1 << 18
"""Bytes read (and written) at a time; the cancel flag is checked between chunks."""
TIMEOUT_S = 30.0
"""Seconds a connection or a read may stall before the transfer counts as broken off."""
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class DiskFullError(ModelLoadError):
    """The disk filled up while a file was received (its partial file is deleted)."""


def download_folder(model_id: str, root: Path | None = None) -> Path:
    """Where ``model_id``'s files are received: ``<root>/.downloads/<id>`` (module docstring)."""
    return (Path(root) if root is not None else store.models_folder()) / DOWNLOADS_FOLDER / model_id


def partial_path(folder: Path, file: OfficialFile) -> Path:
    """The file being received (its pinned sha256 in the name: a partial of another version
    of the file is never resumed)."""
    return folder / f"{file.name}.{file.sha256[:16]}{PART_SUFFIX}"


def _write_block(handle: IO[bytes], block: bytes) -> None:
    """Write a received block (one place, so that tests can make the disk full here)."""
    handle.write(block)


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        error = error.reason if isinstance(error.reason, BaseException) else error
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text.strip().splitlines()[0][:200] if text.strip() else type(error).__name__


def fetch_file(url: str, file: OfficialFile, folder: Path, progress: Callable[[int], None] = lambda done: None,
               cancel: CancelToken = NEVER_CANCELLED) -> Path:
    """Receive ``url`` into ``folder/<file.name>``, resuming a partial one, and verify it.

    Args:
        file: its name, pinned sha256 and (when known) size.
        progress: called with the bytes received so far (resumed ones included).

    Returns:
        ``folder/<file.name>``, whose sha256 is the pinned one.

    Raises:
        Cancelled: ``cancel`` was set (what was received is kept, to resume).
        ModelLoadError: the server answered an error, the transfer broke off (both keep what
            was received), the sha256 or the length differs from the pinned one (the file is
            deleted), or the disk is full (the partial file is deleted; the caller clears
            the rest); one line naming the file and the reason.
    """
    if not file.sha256:
        raise ModelLoadError(f"{file.name}: its full sha256 is not pinned; refusing to download it")
    final = folder / file.name
    if final.is_file():  # verified by an earlier run that stopped before installing
        return final
    partial = partial_path(folder, file)
    offset = partial.stat().st_size if partial.is_file() else 0
    if file.size is not None and offset > file.size:
        remove_quietly(partial)
        offset = 0
    digest = _digest_of(partial, offset)
    headers = {"User-Agent": f"stemforge/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset and offset == file.size:  # the partial is already whole
            return _verified(url, file, partial, final, digest)
        raise ModelLoadError(f"{url}: the server answered {error.code} {error.reason}; nothing installed"
                             + _kept(partial, offset)) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        raise ModelLoadError(f"{url}: cannot be downloaded ({_reason(error)}); nothing installed"
                             + _kept(partial, offset)) from None
    with response:
        if offset and response.status == 206:
            if not (response.headers.get("Content-Range") or "").startswith(f"bytes {offset}-"):
                raise ModelLoadError(f"{url}: the server sent another part of the file than the one asked for "
                                     f"(Content-Range {response.headers.get('Content-Range')!r}); nothing installed"
                                     + _kept(partial, offset))
        elif response.status == 200:
            offset, digest = 0, hashlib.sha256()  # no resume: the whole file again
        else:
            raise ModelLoadError(f"{url}: unexpected answer {response.status} {response.reason}; nothing installed"
                                 + _kept(partial, offset))
        length = response.headers.get("Content-Length")
        offered = offset + int(length) if length and length.isdigit() else None
        if file.size is not None and offered is not None and offered != file.size:
            raise ModelLoadError(f"{url}: the server offers {offered} bytes, the pinned file has {file.size}; "
                                 "nothing installed" + _kept(partial, offset))
        offset = _receive(url, file, response, partial, offset, digest, progress, cancel)
    expected = file.size if file.size is not None else offered
    if expected is not None and offset != expected:  # the connection closed early
        raise ModelLoadError(f"{url}: the transfer broke off after {megabytes(offset)} of {megabytes(expected)}; "
                             "nothing installed" + _kept(partial, offset))
    return _verified(url, file, partial, final, digest)


def _digest_of(partial: Path, length: int):
    """sha256 state over the first ``length`` bytes of ``partial`` (what a resume continues)."""
    digest = hashlib.sha256()
    if length:
        with open(partial, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest


def _receive(url: str, file: OfficialFile, response, partial: Path, offset: int, digest,
             progress: Callable[[int], None], cancel: CancelToken) -> int:
    """Append the response to ``partial`` (from ``offset``; truncated first when 0); returns
    the bytes it then holds."""
    with open(partial, "ab" if offset else "wb") as handle:
        while True:
            if cancel.cancelled:
                handle.close()
                raise Cancelled(f"{file.name}: download cancelled" + _kept(partial, offset))
            try:
                block = response.read(CHUNK_BYTES)
            except (http.client.HTTPException, OSError) as error:
                handle.close()
                raise ModelLoadError(f"{url}: the transfer broke off after {megabytes(offset)} ({_reason(error)}); "
                                     "nothing installed" + _kept(partial, offset)) from None
            if not block:
                return offset
            if file.size is not None and offset + len(block) > file.size:
                handle.close()
                remove_quietly(partial)
                raise ModelLoadError(f"{url}: longer than the pinned file ({file.size} bytes); it was deleted and "
                                     "nothing installed")
            try:
                _write_block(handle, block)
                handle.flush()
            except OSError as error:
                handle.close()
                remove_quietly(partial)
                if error.errno in _DISK_FULL:
                    raise DiskFullError(f"{partial}: the disk is full (writing {file.name}, "
                                         f"{megabytes(file.size)}); the partial download was deleted and "
                                         "nothing installed") from None
                raise ModelLoadError(f"{partial}: cannot be written ({_reason(error)}); the partial download "
                                     "was deleted and nothing installed") from None
            digest.update(block)
            offset += len(block)
            progress(offset)


def _verified(url: str, file: OfficialFile, partial: Path, final: Path, digest) -> Path:
    actual = digest.hexdigest()
    if actual != file.sha256:
        remove_quietly(partial)
        raise ModelLoadError(f"{url}: sha256 {actual} does not match the pinned {file.sha256}; "
                             "the download was deleted and nothing installed")
    os.replace(partial, final)
    return final


def _kept(partial: Path, received: int) -> str:
    if not received or not partial.is_file():
        return ""
    return f" ({megabytes(received)} received are kept in {partial.parent}; getting the model again resumes there)"


# -- a whole model ---------------------------------------------------------------------------


def find_official(model_id: str, catalogue: Catalogue = OFFICIAL) -> OfficialModel:
    """The catalogue's model ``model_id``: :class:`UnknownModelError` listing the others,
    :class:`ModelLoadError` when a file's full sha256 is not pinned."""
    model = catalogue.models.get(model_id)
    if model is None:
        raise UnknownModelError(f"no official model {model_id!r} to download; 'stemforge models get' offers "
                                f"{', '.join(catalogue.models) or 'none'} (files you have: 'stemforge models add')")
    unpinned = unpinned_files(model)
    if unpinned:
        raise ModelLoadError(f"{model_id}: the full sha256 of {', '.join(unpinned)} is not pinned in this version of "
                             "Stemforge, so it is not downloaded; fetch the files yourself and use 'stemforge models add'")
    return model


def get_official(model_id: str, catalogue: Catalogue = OFFICIAL, progress: ProgressCallback = no_progress,
                 cancel: CancelToken = NEVER_CANCELLED, root: Path | None = None):
    """Download, verify and install the official model ``model_id`` (module docstring).

    Call it only once the user agreed (it asks nothing). Returns the installed model's
    :class:`~core.models.interface.ModelDescription`.

    Raises:
        UnknownModelError: not in the catalogue.
        ConfigError: the id is installed already, or being downloaded by another process.
        Cancelled: ``cancel`` was set (what was received is kept to resume).
        ModelLoadError: a hash is not pinned, demucs is missing, a server error, a broken-off
            transfer, a sha256 mismatch, a full disk, a file the Demucs family refuses.
    """
    model = find_official(model_id, catalogue)
    root = Path(root) if root is not None else store.models_folder()
    _refuse_installed(model_id)
    from core.models.demucs_files import demucs_modules

    demucs_modules()  # before anything is downloaded: the model could not be read without it
    folder = download_folder(model_id, root)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with _exclusive(folder.with_name(f"{model_id}.lock"), model_id):
            try:
                _refuse_installed(model_id)  # installed by another process meanwhile
                _check_room(folder, model)
                try:
                    _fetch_all(model, catalogue, folder, progress, cancel)
                except DiskFullError:
                    shutil.rmtree(folder, ignore_errors=True)  # give the space back
                    raise
                installed = _install(model, catalogue, folder, root)
                shutil.rmtree(folder, ignore_errors=True)
            finally:
                _tidy(folder)
    finally:
        _tidy(folder.parent)
    from core.models.demucs_model import description_from_manifest

    return description_from_manifest(installed)


def _install(model: OfficialModel, catalogue: Catalogue, folder: Path, root: Path) -> store.InstalledModel:
    """Read the verified files as ``models add`` would, then install them (moved)."""
    if model.bag_yaml is not None:
        write_text_atomic(folder / model.entry, model.bag_yaml)
    from core.models.demucs_model import describe_demucs

    origin = f"downloaded from {catalogue.root_url} ('stemforge models get {model.id}'): {catalogue.origin}"
    manifest, sources = describe_demucs(folder / model.entry, model.id, origin=origin)
    for file in model.files:  # what is installed is what was verified
        if manifest.files.get(file.name) != file.sha256:
            raise ModelLoadError(f"{folder / file.name}: changed after it was verified; nothing installed")
    return store.install(replace(manifest, licence=catalogue.licence), sources, move=True, root=root)


def _fetch_all(model: OfficialModel, catalogue: Catalogue, folder: Path, progress: ProgressCallback,
               cancel: CancelToken) -> None:
    total = model.total_size
    done_before = 0
    for index, file in enumerate(model.files):
        def report(received: int, file: OfficialFile = file, before: int = done_before, index: int = index) -> None:
            fraction = ((before + received) / total if total
                        else (index + received / max(file.size or received, 1)) / len(model.files))
            progress(min(fraction, 1.0), f"{model.id}: {file.name} {megabytes(received)} of {megabytes(file.size)}")

        fetch_file(catalogue.url(file), file, folder, report, cancel)
        done_before += file.size or 0
    progress(1.0, f"{model.id}: {len(model.files)} file{'s' if len(model.files) > 1 else ''} verified")


def _refuse_installed(model_id: str) -> None:
    from core.models.registry import installed_models

    for model in installed_models()[0]:
        if model.id == model_id:
            raise ConfigError(f"a model with the id {model_id!r} is already installed ({model.path}); "
                              "remove it first ('stemforge models remove') to download it again")


def _check_room(folder: Path, model: OfficialModel) -> None:
    """Refuse at once when the files cannot fit (a full disk midway is handled too)."""
    needed = 0
    for file in model.files:
        if (folder / file.name).is_file() or file.size is None:
            continue
        partial = partial_path(folder, file)
        needed += file.size - (partial.stat().st_size if partial.is_file() else 0)
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise ModelLoadError(f"{folder}: {model.id} needs {megabytes(needed)} more, the disk has {megabytes(free)} "
                             "free; nothing downloaded")


def _tidy(folder: Path) -> None:
    """Remove ``folder`` if nothing is left in it."""
    try:
        folder.rmdir()
    except OSError:
        pass


@contextmanager
def _exclusive(lock_file: Path, model_id: str) -> Iterator[None]:
    """Hold ``lock_file`` (an OS lock, released when the process ends however it ends)."""
    handle = open(lock_file, "a+b")
    try:
        try:
            if sys.platform == "win32":
                import msvcrt

                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(f"{model_id} is being downloaded by another Stemforge process ({lock_file}); "
                              "wait for it to finish") from None
        try:
            yield
        finally:
            with suppress(OSError):  # while held: a process that opened it meanwhile re-checks the id
                lock_file.unlink()
    finally:
        handle.close()
