"""A search's run directory: checked before any work, ``run.json`` written when the run starts.

A run directory is never overwritten: without ``resume`` an existing run (or any non-empty
directory) is an error, and ``resume`` with other settings names the ones that differ. A run
that fails before recording anything leaves no half-written directory behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from diswot.errors import RunDirError
from diswot.paths import make_dir

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
        if self.path is not None:
            check_run_dir(self.path, resume)

    def start(self, run_id: str, config: dict[str, Any]) -> None:
        """Write ``run.json`` (a fresh run) or check that it holds ``config`` (a resumed one)."""
        if self.path is None:
            return
        if self.resume:
            check_same_config(self.path, config)
            return
        self.created = True  # check_run_dir made sure it is absent or empty
        self.made_dir = not self.path.exists()
        make_dir(self.path)
        (self.path / RUN_FILE).write_text(json.dumps({"run_id": run_id, **config}, indent=2))

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
        """Remove what :meth:`start` created: the run failed before recording anything."""
        if not self.created or self.path is None:
            return
        for child in [self.path] if self.made_dir else list(self.path.iterdir()):
            shutil.rmtree(child) if child.is_dir() else child.unlink()

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def check_run_dir(out_dir: Path, resume: bool) -> None:
    """Fail unless ``out_dir`` holds a run to resume (``resume``) or is absent or empty."""
    has_run = (out_dir / RUN_FILE).is_file()
    if resume and not has_run:
        raise RunDirError(f"nothing to resume in {out_dir}: it holds no {RUN_FILE}; drop --resume")
    if not resume and has_run:
        raise RunDirError(
            f"{out_dir} already holds a search run; pass --resume to continue it, or choose another --out"
        )
    if not resume and out_dir.exists() and any(out_dir.iterdir()):
        raise RunDirError(f"{out_dir} exists and is not empty; choose another --out")


def check_same_config(out_dir: Path, config: dict[str, Any]) -> None:
    """Fail unless the run in ``out_dir`` was started with ``config``, naming what differs."""
    stored = json.loads((out_dir / RUN_FILE).read_text())
    differing = [k for k in config if stored.get(k) != config[k]]
    if "proxy_definitions" in differing:
        raise RunDirError(
            f"{out_dir} was scored by another version of its proxies ({stored.get('proxy_definitions')}, "
            f"now {config['proxy_definitions']}), so it cannot be continued consistently; start a new "
            "run with another --out"
        )
    if differing:
        details = "; ".join(f"{k}: run has {stored.get(k)!r}, now {config[k]!r}" for k in differing)
        raise RunDirError(f"--resume must repeat the original settings of {out_dir}: {details}")
