"""A SQLite cache of proxy scores keyed by (space, arch, proxy, data, teacher).

Proxies that never look at the teacher (nwot, synflow, ...) are stored under the teacher key
``none``, so runs against different teachers share them.

Reruns, and runs with one more proxy, reuse every score already computed. Each write is its
own transaction, so an interrupted run loses at most the architecture in progress, and
several processes may share one file (SQLite serialises the writers).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

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


class ScoreCache:
    def __init__(self, path: str | Path, space: str, data_key: str, teacher_key: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=60)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(SCHEMA)
        self.conn.commit()
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
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        self.conn.close()
