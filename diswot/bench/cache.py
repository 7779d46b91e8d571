"""A SQLite cache of proxy scores keyed by (space, arch, proxy, data, teacher).

Reruns, and runs with one more proxy, reuse every score already computed. Each write is its
own transaction, so an interrupted run loses at most the architecture in progress, and
several processes may share one file (SQLite serialises the writers).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

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

    def get(self, arch: str, proxies: list[str]) -> dict[str, tuple[float, float]]:
        marks = ",".join("?" * len(proxies))
        rows = self.conn.execute(
            f"SELECT proxy, value, ms FROM scores WHERE space=? AND arch=? AND data_key=? "
            f"AND teacher_key=? AND proxy IN ({marks})",
            (self.space, arch, self.data_key, self.teacher_key, *proxies),
        ).fetchall()
        self.hits += len(rows)
        return {proxy: (value, ms) for proxy, value, ms in rows}

    def put(self, arch: str, results: dict[str, tuple[float, float]]) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (self.space, arch, proxy, self.data_key, self.teacher_key, value, ms)
                    for proxy, (value, ms) in results.items()
                ],
            )

    def close(self) -> None:
        self.conn.close()
