"""A search's run directory: checked before any work, ``run.json`` written when the run starts.

A run directory is never overwritten: without ``resume`` an existing run (or any non-empty
directory) is an error, and ``resume`` with other settings names the ones that differ. A run
that fails before recording anything leaves no half-written directory behind.

The folder's lock (:mod:`diswot.runlock`) is taken before anything else and held until
:meth:`RunDir.close`: a second run, or a ``--resume`` of a run still going, is refused at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from diswot.atomic import write_json
from diswot.errors import RunDirError
from diswot.runlock import RunLock, is_lock_file

RUN_FILE = "run.json"


def run_id_of(config: dict[str, Any]) -> str:
    """The run's id: a hash of its configuration (what the store files its history under)."""
    return hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


class RunDir:
    """The run directory ``path`` (``None``: the run keeps nothing but what it returns)."""

    def __init__(self, path: str | Path | None, resume: bool) -> None:
        self.path = Path(path) if path is not None else None
        self.resume = resume
        self.created = self.made_dir = False
        self._tmp: Path | None = None
        self.lock: RunLock | None = None
        if self.path is not None:
            self._lock_and_check(self.path, resume)

    def _lock_and_check(self, path: Path, resume: bool) -> None:
        """Take the folder's lock (making the folder if need be), then check what it holds: a
        second run on the folder is refused before it reads anything of it."""
        self.lock = RunLock.on(path)
        self.made_dir = self.lock.made_folder
        try:
            check_writable(path)
            check_run_dir(path, resume)
        except BaseException:
            self.close()
            raise

    def start(self, run_id: str, config: dict[str, Any]) -> None:
        """Write ``run.json`` (a fresh run) or check that it holds ``config`` (a resumed one)."""
        if self.path is None:
            return
        if self.resume:
            check_same_config(self.path, config)
            return
        self.created = True  # check_run_dir made sure it was absent or empty
        write_json(self.path / RUN_FILE, {"run_id": run_id, **config})

    def store_path(self, store: str | Path | None) -> Path:
        """The SQLite store: ``store``, else ``store.sqlite`` in the run directory, else a temporary
        file that :meth:`close` removes."""
        if store:
            return Path(store)
        if self.path is not None:
            return self.path / "store.sqlite"
        self._tmp = Path(tempfile.mkdtemp(prefix="diswot-search-"))
        return self._tmp / "store.sqlite"

    def discard(self) -> None:
        """Remove what :meth:`start` created: the run failed before recording anything (the
        lock stays held until :meth:`close`)."""
        if not self.created or self.path is None:
            return
        for child in self.path.iterdir():
            if not is_lock_file(child):
                shutil.rmtree(child) if child.is_dir() else child.unlink()

    def close(self) -> None:
        """Release the lock; a folder this run made and left empty (it failed in setup, or
        :meth:`discard` emptied it) is removed, so a failed run leaves no trace."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def _children(path: Path) -> list[Path]:
    try:
        return list(path.iterdir())
    except OSError:
        return []


def check_writable(path: Path) -> None:
    """Fail now, not after the setup, when the run could not write its files into ``path``."""
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunDirError(f"the output folder {path} is not writable; choose another --out")


def check_run_dir(out_dir: Path, resume: bool) -> None:
    """Fail unless ``out_dir`` holds a run to resume (``resume``) or is absent or empty."""
    has_run = (out_dir / RUN_FILE).is_file()
    others = [c for c in _children(out_dir) if not is_lock_file(c)]
    if resume and not has_run:
        raise RunDirError(f"nothing to resume in {out_dir}: it holds no {RUN_FILE}; drop --resume")
    if not resume and has_run:
        raise RunDirError(
            f"{out_dir} already holds a search run; pass --resume to continue it, or choose another --out"
        )
    if not resume and others:
        raise RunDirError(f"{out_dir} exists and is not empty; choose another --out")


def check_same_config(out_dir: Path, config: dict[str, Any]) -> None:
    """Fail unless the run in ``out_dir`` was started with ``config``, naming what differs."""
    try:
        stored = json.loads((out_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(
            f"{out_dir / RUN_FILE} cannot be read ({type(exc).__name__}), so the run cannot be resumed "
            "consistently; start a new run with another --out"
        ) from exc
    if not isinstance(stored, dict):
        raise RunDirError(
            f"{out_dir / RUN_FILE} is not a diswot run file; start a new run with another --out"
        )
    differing = [k for k in config if stored.get(k) != config[k]]
    # another --proxy (or --record) changes the definitions too: name the setting, not the version
    if "proxy_definitions" in differing and {"proxy", "record"} & set(differing):
        differing.remove("proxy_definitions")
    if "proxy_definitions" in differing and len(differing) == 1:
        raise RunDirError(
            f"{out_dir} was scored by another version of its proxies ({stored.get('proxy_definitions')}, "
            f"now {config['proxy_definitions']}), so it cannot be continued consistently; start a new "
            "run with another --out"
        )
    if differing:
        details = "; ".join(f"{k}: run has {stored.get(k)!r}, now {config[k]!r}" for k in differing)
        raise RunDirError(f"--resume must repeat the original settings of {out_dir}: {details}")
