"""Where a track's outputs go, and how a track's output set replaces the previous one.

Naming: a template such as ``{track}/{stem}.{ext}`` is expanded under the output folder
for every stem, the residual and the recipe. Templates must stay inside the output
folder (no absolute path, no ``..``), must contain ``{stem}`` and end in ``.{ext}``;
field values (file and folder names, the model id) are sanitised so they can never
add a path separator or climb out; every expanded path is resolved (symbolic links
included) and must still lie inside the output folder.

Replacing: the new set is written complete under temporary names, then swapped in
while the output folder is locked against concurrent Stemforge runs. With overwrite,
the files being replaced (and those of an earlier run of the same track that the new
set no longer has, e.g. other stems) are first moved aside and only deleted once the
whole new set is in place; any failure puts everything back. A run only ever deletes
files it created itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from core.errors import ConfigError
from core.fileio import (
    PREVIOUS_SUFFIX,
    longest_name,
    remove_quietly,
    resolved,
    temporary_name,
    temporary_name_overhead,
)

DEFAULT_TEMPLATE = "{track}/{stem}.{ext}"
TEMPLATE_FIELDS: dict[str, str] = {
    "track": "the input's file name without extension",
    "folder": "the name of the folder holding the input",
    "stem": "bass, drums, guitar, piano, other (the recipe: stemforge)",
    "ext": "the output format (wav, flac, ogg; json for the recipe)",
    "preset": "the preset name",
    "model": "the model id",
}
COLLISION_HINT = "add {folder} to the template, e.g. --template '{folder}/{track}/{stem}.{ext}'"
_UNSAFE = set('/\\\0') | ({":", "*", "?", '"', "<", ">", "|"} if os.name == "nt" else set())


def sanitise_field(value: str) -> str:
    """A field value safe inside one path component.

    Path separators, NUL and control characters become ``_``; a value made only of
    dots (``.``, ``..``) or empty becomes underscores.
    """
    cleaned = "".join("_" if char in _UNSAFE or ord(char) < 32 else char for char in str(value))
    if not cleaned.strip("."):
        cleaned = "_" * max(1, len(cleaned))
    return cleaned


def check_template(template: str) -> None:
    """Raise :class:`ConfigError` unless ``template`` names files inside the output folder.

    Rules: only the fields of :data:`TEMPLATE_FIELDS`; contains ``{stem}``; ends in
    ``.{ext}``; not absolute (``/x``, ``\\x``, ``C:x``, ``~``); no ``..`` component.
    """
    fields_text = " ".join("{" + name + "}" for name in TEMPLATE_FIELDS)
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        template.format(**{name: "x" for name in TEMPLATE_FIELDS})
    except (KeyError, IndexError) as error:
        raise ConfigError(f"the naming template {template!r} may only use the fields {fields_text} "
                          f"(not {error})") from None
    except ValueError as error:
        raise ConfigError(f"bad naming template {template!r} ({error}); fields: {fields_text}") from None
    unknown = sorted(names - set(TEMPLATE_FIELDS))
    if unknown:
        raise ConfigError(f"the naming template {template!r} may only use the fields {fields_text}")
    if "stem" not in names:
        raise ConfigError("the naming template must contain {stem}")
    if not template.endswith(".{ext}"):
        raise ConfigError(
            f"the naming template {template!r} must end in .{{ext}} so every file gets the "
            "extension of its format (e.g. '{track}/{stem}.{ext}')"
        )
    literal = template.format(**{name: "x" for name in TEMPLATE_FIELDS})
    if (PurePosixPath(literal).is_absolute() or PureWindowsPath(literal).drive
            or literal.startswith(("/", "\\", "~"))):
        raise ConfigError(f"the naming template {template!r} is absolute; it must name files under --out")
    if ".." in literal.replace("\\", "/").split("/"):
        raise ConfigError(f"the naming template {template!r} climbs out of --out with '..'")


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (resolved, symbolic links followed) lies inside ``root`` (resolved)."""
    try:
        resolved(path).relative_to(resolved(root))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class OutputPlan:
    """Destinations of one input: ``files`` (stem -> path, the residual included) and the recipe."""

    files: dict[str, Path]
    recipe: Path

    def all(self) -> list[Path]:
        """Every destination, the recipe last."""
        return [*self.files.values(), self.recipe]


def plan_outputs(source: Path, out_dir: Path, template: str, stems: Iterable[str], fmt: str,
                 preset: str, model_id: str, recipe_stem: str) -> OutputPlan:
    """Expand the template for every stem and the recipe of input ``source``.

    Raises:
        ConfigError: a destination would lie outside ``out_dir`` (through a symbolic link).
    """
    fields = {
        "track": sanitise_field(source.stem),
        "folder": sanitise_field(source.absolute().parent.name),
        "preset": sanitise_field(preset),
        "model": sanitise_field(model_id),
    }
    files = {stem: out_dir / template.format(stem=sanitise_field(stem), ext=fmt, **fields) for stem in stems}
    recipe = out_dir / template.format(stem=recipe_stem, ext="json", **fields)
    plan = OutputPlan(files, recipe)
    for destination in plan.all():
        if not inside(destination, out_dir):
            raise ConfigError(f"{source}: output {destination} would lie outside {out_dir}; not written")
        check_name_lengths(source, destination, out_dir)
    return plan


def check_name_lengths(source: Path, destination: Path, out_dir: Path) -> None:
    """Raise :class:`ConfigError` (naming ``source``) unless every name the template made
    for ``destination`` fits the file system, the file's own name with room for its
    temporary name (:func:`core.fileio.temporary_name`, about 25 bytes more)."""
    limit = longest_name(destination.parent)
    overhead = temporary_name_overhead()
    relative = destination.relative_to(out_dir).parts if destination.is_relative_to(out_dir) else destination.parts
    for index, part in enumerate(relative):
        size, last = len(os.fsencode(part)), index == len(relative) - 1
        allowed = limit - overhead if last else limit
        if size > allowed:
            shown = part if len(part) <= 40 else f"{part[:20]}...{part[-12:]}"
            room = f" ({limit} less {overhead} for the name it is written under until complete)" if last else ""
            raise ConfigError(f"{source}: output name {shown!r} is {size} bytes; names up to {allowed} bytes "
                              f"can be written{room}; use a shorter template or file name")


def previous_outputs(recipe: Path, out_dir: Path, name: Callable[[str, str], Path]) -> list[Path]:
    """Files an earlier run of the same track recorded in its recipe at ``recipe``.

    Only files this track's naming would produce are returned: for each recorded
    ``stem -> file``, the file must be ``name(stem, its extension)`` (the current
    template), exist, be no symbolic link and lie inside ``out_dir``. An edited or
    foreign recipe can therefore never point the replacement at another file.
    Nothing when there is no readable Stemforge recipe.
    """
    try:
        data = json.loads(recipe.read_text(encoding="utf-8"))
        listed = data["output"]["files"].items() if data.get("app") == "stemforge" else []
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    found = []
    for stem, relative in listed:
        if not isinstance(stem, str) or not isinstance(relative, str):
            continue
        candidate = recipe.parent / relative
        expected = name(stem, candidate.suffix.lstrip("."))
        if (candidate.is_file() and not candidate.is_symlink() and inside(candidate, out_dir)
                and resolved(candidate) == resolved(expected)):
            found.append(resolved(candidate))
    return found


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``folder`` (no file is created); concurrent
    Stemforge runs swap their output sets one at a time. A no-op where unsupported."""
    try:
        import fcntl
    except ImportError:  # Windows: renames are still checked one by one
        yield
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def replace_set(moves: dict[Path, Path], obsolete: Iterable[Path], overwrite: bool) -> list[Path]:
    """Move finished temporary files onto their destinations, all or nothing.

    Args:
        moves: temporary file -> destination (same folder).
        obsolete: files of an earlier run that the new set replaces without reusing
            their names (removed only with ``overwrite`` and only once all is in place).
        overwrite: replace existing destinations; without it an existing destination
            (even one a concurrent run created a moment ago) fails the whole set.

    Returns:
        The destinations, in place.

    Raises:
        FileExistsError: a destination exists and ``overwrite`` is False.
        OSError: a rename failed. In both cases every file this call placed is removed
            again and every file it moved aside is put back.
    """
    from core.fileio import place

    placed: list[tuple[Path, tuple[int, int] | None]] = []
    aside: list[tuple[Path, Path]] = []  # (moved-aside name, original name)
    targets = {resolved(d) for d in moves.values()}
    try:
        if overwrite:
            existing = [d for d in moves.values() if d.exists()]
            stale = {resolved(p) for p in obsolete if p.exists()} - targets
            for original in [*existing, *sorted(stale)]:
                backup = temporary_name(original, PREVIOUS_SUFFIX)
                os.replace(original, backup)
                aside.append((backup, original))
        for temporary, destination in moves.items():
            place(temporary, destination, overwrite)
            placed.append((destination, _identity(destination)))
    except BaseException:
        for destination, identity in placed:
            if identity is not None and _identity(destination) == identity:
                remove_quietly(destination)
        for backup, original in reversed(aside):
            with contextlib.suppress(OSError):
                os.replace(backup, original)
        raise
    for backup, _ in aside:
        remove_quietly(backup)
    return list(moves.values())
