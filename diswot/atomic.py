"""Atomic file writes: every JSON, CSV, checkpoint and figure diswot leaves goes through here.

A file is written under a temporary name in its own folder, flushed to disk (``fsync``) and
renamed over the final name (``os.replace``, atomic on POSIX and Windows), so a reader, a kill
or a full disk never leaves half a file behind: the final name holds the old content or the new
one. A write the file system refuses (read-only folder, no space, a name too long) is an
:class:`~diswot.errors.OutputError`, one line naming the file, and the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from diswot.errors import OutputError


def os_reason(exc: OSError) -> str:
    """The file system's reason in a few words ("Read-only file system"), without errno noise."""
    return exc.strerror or type(exc).__name__


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit the file written there replaces
    ``path`` (after ``fsync``), on an error it is removed.

    Use it for writers that take a path (``torch.save``, ``DataFrame.to_csv``, ``savefig``);
    the temporary name keeps ``path``'s suffix so format inference still works.
    """
    path = Path(path)
    # hidden, per-process: two writers never share a temporary file, and ``ls`` stays clean
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise OutputError(
            f"cannot write {path} ({os_reason(exc)}); make its folder writable or choose another output path"
        ) from exc
    except BaseException:
        _remove(tmp)
        raise


def write_with(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """``write(tmp)`` then rename ``tmp`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, obj: Any, indent: int = 2, newline: bool = False) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (``newline``: end with one; the run files
    keep the bytes they always had, without)."""
    return write_text(path, json.dumps(obj, indent=indent) + ("\n" if newline else ""))


def save_torch(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj, path)`` atomically: a crash mid-write never leaves a truncated checkpoint."""
    import torch

    return write_with(path, lambda tmp: torch.save(obj, tmp))


def save_figure(fig: Any, path: str | Path) -> Path:
    """``fig.savefig(path)`` atomically (the format from ``path``'s suffix)."""
    fmt = Path(path).suffix.lstrip(".") or None
    return write_with(path, lambda tmp: fig.savefig(tmp, format=fmt))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    # a read-only folder: nothing more we can do, and the final name is untouched
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
