"""A SQLite cache of proxy scores keyed by (space, arch, proxy, data, teacher), and the
fingerprints that key it.

``diswot search`` (its run store holds one) and ``diswot bench proxies`` share this cache: a
score computed by one is served to the other when space, data, proxy seed and teacher match.

Proxies that never look at the teacher (nwot, synflow, ...) are stored under the teacher key
``none``, so runs against different teachers share them.

Reruns, and runs with one more proxy, reuse every score already computed. Each write is its
own transaction, so an interrupted run loses at most the architecture in progress, and
several processes may share one file (SQLite serialises the writers).
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from torch import nn

from diswot.errors import StoreError
from diswot.proxies.base import PROXIES

NO_TEACHER = "none"

SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    space TEXT NOT NULL, arch TEXT NOT NULL, proxy TEXT NOT NULL,
    data_key TEXT NOT NULL, teacher_key TEXT NOT NULL,
    value REAL NOT NULL, ms REAL NOT NULL,
    PRIMARY KEY (space, arch, proxy, data_key, teacher_key)
)
"""


def open_store(path: Path, schema: str, conn: sqlite3.Connection | None = None) -> sqlite3.Connection:
    """A connection to the SQLite store ``path`` with the tables of ``schema`` (created when
    missing, checked when present); a file that is not such a store is a one-line error."""
    memory = sqlite3.connect(":memory:")
    memory.executescript(schema)
    tables = [t for (t,) in memory.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    wanted = {t: _columns(memory, t) for t in tables}
    memory.close()
    try:
        if conn is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=60)
            conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(schema)
        conn.commit()
        found = {t: _columns(conn, t) for t in wanted}
    except (sqlite3.DatabaseError, OSError) as exc:
        raise StoreError(f"--store {path} is not a diswot store ({exc}); give a new file name") from exc
    for table, columns in wanted.items():
        if found[table] != columns:
            raise StoreError(
                f"--store {path} has a {table!r} table of another layout ({', '.join(found[table])}); "
                "give a new file name"
            )
    return conn


@contextlib.contextmanager
def writing(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """One committed transaction on the store; a write the file system refuses mid-run (the
    folder made read-only, a full disk) is a one-line :class:`StoreError`, not a traceback.
    What was committed before stays, so the run can be resumed once the store is writable."""
    try:
        with conn:
            yield conn
    except sqlite3.OperationalError as exc:
        raise StoreError(
            f"cannot write to the store {path} ({exc}); make its folder writable (or free space) and "
            "continue with --resume"
        ) from None


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


class ScoreStore:
    """Proxy scores (value, milliseconds) of one space, data and teacher, in a SQLite file."""

    def __init__(self, path: str | Path, space: str, data_key: str, teacher_key: str) -> None:
        self.path = Path(path)
        self.conn = open_store(self.path, SCHEMA)
        self.space, self.data_key, self.teacher_key = space, data_key, teacher_key
        self.hits = 0

    def teacher_key_of(self, proxy: str) -> str:
        return self.teacher_key if PROXIES.get(proxy).needs_teacher else NO_TEACHER

    @staticmethod
    def proxy_key(proxy: str) -> str:
        """Scores are stored per proxy *version*, so a changed definition is never served stale."""
        return PROXIES.get(proxy).cache_key

    def get(self, arch: str, proxies: list[str]) -> dict[str, tuple[float, float]]:
        found = {}
        for proxy in proxies:
            row = self.conn.execute(
                "SELECT value, ms FROM scores WHERE space=? AND arch=? AND proxy=? AND data_key=? "
                "AND teacher_key=?",
                (self.space, arch, self.proxy_key(proxy), self.data_key, self.teacher_key_of(proxy)),
            ).fetchone()
            if row is not None:
                found[proxy] = (row[0], row[1])
        self.hits += len(found)
        return found

    def put(self, arch: str, results: dict[str, tuple[float, float]]) -> None:
        rows = [
            (self.space, arch, self.proxy_key(p), self.data_key, self.teacher_key_of(p), value, ms)
            for p, (value, ms) in results.items()
        ]
        with writing(self.conn, self.path):
            self.conn.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        self.conn.close()


def data_fingerprint(data, seed: int, batch_size: int, num_batches: int) -> str:
    """What identifies the scoring batches in score caches (shared by the bench and the search)."""
    return f"{data.name}:{seed}:{batch_size}x{num_batches}"


def teacher_fingerprint(spec: str | nn.Module, seed: int = 0) -> str:
    """What identifies a teacher in score caches: a checkpoint's content hash, else its name
    and initialisation seed."""
    if isinstance(spec, nn.Module):
        digest = hashlib.sha1()
        for name, tensor in spec.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return f"{type(spec).__name__}:{digest.hexdigest()[:16]}"
    path = Path(spec)
    if path.is_file():
        return f"{path.name}:{hashlib.sha1(path.read_bytes()).hexdigest()[:16]}"
    if path.is_dir():  # a Hugging Face folder: its config, weights and tokenizer files
        digest = hashlib.sha1()
        for file in sorted(f for f in path.rglob("*") if f.is_file()):
            digest.update(str(file.relative_to(path)).encode())
            digest.update(file.read_bytes())
        return f"{path.name}/:{digest.hexdigest()[:16]}"
    return f"{spec}:random-init:seed{seed}"
