"""Output folders: created on demand, with a one-line error when the file system says no."""

from __future__ import annotations

from pathlib import Path

from diswot.errors import RunDirError


def make_dir(path: Path) -> None:
    """``mkdir -p path``; a path through a file, no permission or a read-only disk is a
    :class:`RunDirError` naming the folder, not a traceback."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise RunDirError(f"cannot create the output folder {path} ({reason}); choose another --out") from exc
