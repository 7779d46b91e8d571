"""One run per output folder: an OS file lock held for the run's whole life.

``diswot search`` (also ``--resume``), ``diswot bench proxies`` and ``diswot distill`` take the
lock of their ``--out`` folder before any setup, so two runs can never write into one folder
(nor a ``--resume`` attach to a run still going): the second is refused at once with one line
naming the holder's PID. The lock is the operating system's (``flock`` via :mod:`filelock`), so
the kernel frees it when its process dies: a lock left by a killed run never blocks the next one.

The lock lives in the folder as :data:`LOCK_FILE`, with the holder's PID in :data:`PID_FILE`
beside it (the lock file itself is opened, and may be truncated, by every contender). Both are
hidden names that run-folder checks and exports ignore (:func:`is_lock_file`), and both are
removed when the lock is released, so a finished run's folder holds its results only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from diswot.errors import RunDirError, RunInUseError
from diswot.paths import make_dir

LOCK_FILE = ".diswot.lock"
PID_FILE = ".diswot.lock.pid"
LOCK_FILES = frozenset({LOCK_FILE, PID_FILE})


def is_lock_file(path: str | Path) -> bool:
    """Whether ``path`` is one of the lock's files (not part of a run's results)."""
    return Path(path).name in LOCK_FILES


class RunLock:
    """The lock of run folder ``folder`` (which must exist). Use as a context manager, or call
    :meth:`acquire` and :meth:`release`; acquiring never waits.

    ``flag`` names the option the folder came from, for the message (``--out``).
    """

    def __init__(self, folder: str | Path, flag: str = "--out") -> None:
        self.folder = Path(folder)
        self.flag = flag
        self.made_folder = False
        self._lock: FileLock | None = None

    @classmethod
    def on(cls, folder: str | Path, flag: str = "--out") -> RunLock:
        """Make ``folder`` if need be (a file there is an error) and take its lock; a folder made
        here and left empty is removed again by :meth:`release`."""
        folder = Path(folder)
        try:  # a name the file system refuses (too long, say) fails here, not in the setup
            exists, is_dir = folder.exists(), folder.is_dir()
        except OSError as exc:
            raise RunDirError(
                f"cannot use {flag} {str(folder)[:80]}... ({exc.strerror or exc}); choose a shorter or "
                f"other {flag}"
            ) from None
        if exists and not is_dir:
            raise RunDirError(f"{flag} {folder} is a file, not a folder; choose another {flag}")
        lock = cls(folder, flag)
        lock.made_folder = not exists
        make_dir(folder)  # a refused leaf (too long, say) takes back the parents made for it
        try:
            return lock.acquire()
        except BaseException:
            lock.tidy()
            raise

    @property
    def held(self) -> bool:
        return self._lock is not None

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`RunInUseError` naming the holder; returns ``self``."""
        lock = FileLock(self.folder / LOCK_FILE, timeout=0, fallback_to_soft=False)
        try:
            lock.acquire()
        except Timeout:
            raise RunInUseError(
                f"{self.folder} is in use by another diswot run (PID {self._holder()}); wait for it to "
                f"finish (or stop it), or choose another {self.flag}"
            ) from None
        except (OSError, NotImplementedError) as exc:
            # a file system without OS locks (some network mounts): run unlocked rather than not at all
            warning = f"diswot: warning: cannot lock {self.folder} ({exc}); running without a lock"
            print(warning, file=sys.stderr)
            return self
        self._lock = lock
        with contextlib.suppress(OSError):  # the PID is for the message only
            (self.folder / PID_FILE).write_text(f"{os.getpid()}\n")
        return self

    def release(self) -> None:
        """Free the lock and remove its files; then :meth:`tidy` (a no-op when not held)."""
        if self._lock is None:
            return
        with contextlib.suppress(OSError):
            (self.folder / PID_FILE).unlink(missing_ok=True)
            # while still held, so results never carry it; a contender that opened it just now
            # fails its non-blocking flock and is refused (only a flock landing in the microseconds
            # after the release below could hold the unlinked inode)
            (self.folder / LOCK_FILE).unlink(missing_ok=True)
        self._lock.release()
        self._lock = None
        self.tidy()

    def tidy(self) -> None:
        """Remove the folder if :meth:`on` made it and the run left nothing in it."""
        if self._made_and_empty():
            shutil.rmtree(self.folder, ignore_errors=True)

    def _made_and_empty(self) -> bool:
        if not self.made_folder:
            return False
        try:
            return all(is_lock_file(c) for c in self.folder.iterdir())
        except OSError:
            return False

    def _holder(self) -> str:
        try:
            return (self.folder / PID_FILE).read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def __enter__(self) -> RunLock:
        return self if self.held else self.acquire()  # ``with RunLock.on(folder):`` holds it already

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def locked_folder(folder: str | Path, flag: str = "--out") -> Iterator[RunLock]:
    """``with locked_folder(out):`` the run's life, holding ``out``'s lock (see :meth:`RunLock.on`)."""
    lock = RunLock.on(folder, flag)
    try:
        yield lock
    finally:
        lock.release()
