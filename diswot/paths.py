"""Output folders: created on demand, with a one-line error when the file system says no."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from diswot.errors import DiswotError, RunDirError


def make_dir(path: Path) -> None:
    """``mkdir -p path``; a path through a file, no permission, a read-only disk or a name too
    long is a :class:`RunDirError` naming the folder, not a traceback, and the parent folders
    made on the way are taken back, so a refused folder leaves nothing behind."""
    try:
        first_missing = next((p for p in reversed([path, *path.parents]) if not path_exists(p)), None)
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if first_missing is not None and first_missing != path:
            shutil.rmtree(first_missing, ignore_errors=True)
        reason = exc.strerror or exc
        raise RunDirError(
            f"cannot create the output folder {_shown(path)} ({reason}); choose another --out"
        ) from exc


def path_exists(path: str | Path) -> bool:
    """``Path(path).exists()``, but ``False`` for a name the file system cannot hold (too long, a
    bad byte) instead of an ``OSError``: such a name names nothing."""
    try:
        return Path(path).expanduser().exists()
    except (OSError, ValueError):
        return False


def check_path_name(path: str | Path, what: str) -> None:
    """A one-line :class:`~diswot.errors.DiswotError` when the file system cannot even look
    ``path`` up (a name longer than it allows, ...); a missing file is not an error here."""
    try:
        Path(path).expanduser().stat()
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        message = f"{what} {_shown(path)!r} cannot be a path here ({reason}); give a shorter or valid path"
        raise DiswotError(message) from None


def check_out_name(path: str | Path, flag: str = "--out") -> None:
    """A one-line :class:`RunDirError` when a part of ``path`` is longer than the file system
    allows, decided before anything is made or trained (a table written only after the first
    training would otherwise fail hours in)."""
    path = Path(path).expanduser()
    existing = next((p for p in path.parents if path_exists(p)), Path("."))
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows): the common limit
        name_max = 255
    for part in path.parts:
        if len(os.fsencode(part)) > name_max:
            raise RunDirError(
                f"{flag}: the name {_shown(part, 40)!r} is {len(os.fsencode(part))} bytes, longer than "
                f"the file system allows ({name_max}); choose a shorter {flag}"
            )


def _shown(path: str | Path, limit: int = 80) -> str:
    """``path`` for a one-line message: cut after ``limit`` characters (a 300-byte name is noise)."""
    text = str(path)
    return text if len(text) <= limit else text[:limit] + "..."
