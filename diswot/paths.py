"""Output folders: created on demand, with a one-line error when the file system says no."""

from __future__ import annotations

from pathlib import Path

from diswot.errors import DiswotError, RunDirError


def make_dir(path: Path) -> None:
    """``mkdir -p path``; a path through a file, no permission or a read-only disk is a
    :class:`RunDirError` naming the folder, not a traceback."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise RunDirError(f"cannot create the output folder {path} ({reason}); choose another --out") from exc


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
        name = str(path) if len(str(path)) <= 80 else str(path)[:80] + "..."
        message = f"{what} {name!r} cannot be a path here ({reason}); give a shorter or valid path"
        raise DiswotError(message) from None
