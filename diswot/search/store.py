"""The search's SQLite store: proxy scores, costs, latencies and each run's history.

The store holds a :class:`~diswot.scoring.store.ScoreStore` (``scores``), the cache ``diswot
bench proxies`` keeps too (keyed by space, arch, proxy, data, teacher), so a search reuses a
benchmark's scores and vice versa; costs, latencies and run histories are tables beside it in
the same file. Every evaluation is one committed transaction: a killed run loses at most the
batch in flight, and several runs (or processes) may share one file, because SQLite serialises
the writers.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from diswot.scoring.store import ScoreStore, open_store, writing

SCHEMA = """
CREATE TABLE IF NOT EXISTS costs (
    space TEXT NOT NULL, arch TEXT NOT NULL, params REAL NOT NULL, flops REAL NOT NULL,
    PRIMARY KEY (space, arch)
);
CREATE TABLE IF NOT EXISTS latencies (
    space TEXT NOT NULL, arch TEXT NOT NULL, device TEXT NOT NULL, ms REAL NOT NULL,
    PRIMARY KEY (space, arch, device)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL,
    started REAL NOT NULL, finished REAL
);
CREATE TABLE IF NOT EXISTS history (
    run_id TEXT NOT NULL, eval_index INTEGER NOT NULL, arch TEXT NOT NULL,
    score REAL NOT NULL, proxies TEXT NOT NULL, params REAL NOT NULL, flops REAL NOT NULL,
    latency_ms REAL, generation INTEGER NOT NULL, wall_s REAL NOT NULL, cached INTEGER NOT NULL,
    PRIMARY KEY (run_id, eval_index)
);
"""


@dataclass(frozen=True)
class EvaluationRecord:
    """One architecture scored by a run: the rows of ``history.csv``."""

    eval_index: int
    arch: str
    score: float
    proxies: dict[str, float]
    params: float
    flops: float
    latency_ms: float | None
    generation: int
    wall_s: float  # seconds since the run started when this evaluation finished
    cached: bool  # served from the store instead of computed


class RunStore:
    """The proxy scores (``scores``, a :class:`ScoreStore`) plus costs, latencies and run
    histories, in one SQLite file."""

    def __init__(self, path: str | Path, space: str, data_key: str, teacher_key: str) -> None:
        self.scores = ScoreStore(path, space, data_key, teacher_key)
        self.space = space
        # one connection: the run's tables live in the cache's file
        self.conn = open_store(self.scores.path, SCHEMA, self.scores.conn)

    def close(self) -> None:
        self.scores.close()

    # costs ------------------------------------------------------------------------------------
    def get_cost(self, arch: str) -> tuple[float, float] | None:
        row = self.conn.execute(
            "SELECT params, flops FROM costs WHERE space=? AND arch=?", (self.space, arch)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def put_cost(self, arch: str, params: float, flops: float) -> None:
        with writing(self.conn, self.scores.path):
            self.conn.execute(
                "INSERT OR REPLACE INTO costs VALUES (?, ?, ?, ?)", (self.space, arch, params, flops)
            )

    def get_latency(self, arch: str, device: str) -> float | None:
        row = self.conn.execute(
            "SELECT ms FROM latencies WHERE space=? AND arch=? AND device=?", (self.space, arch, device)
        ).fetchone()
        return None if row is None else row[0]

    def put_latency(self, arch: str, device: str, ms: float) -> None:
        with writing(self.conn, self.scores.path):
            self.conn.execute(
                "INSERT OR REPLACE INTO latencies VALUES (?, ?, ?, ?)", (self.space, arch, device, ms)
            )

    # runs -------------------------------------------------------------------------------------
    def start_run(self, run_id: str, config: dict[str, object]) -> None:
        with writing(self.conn, self.scores.path):
            self.conn.execute(
                "INSERT OR IGNORE INTO runs VALUES (?, ?, 'running', ?, NULL)",
                (run_id, json.dumps(config, sort_keys=True), time.time()),
            )
            self.conn.execute("UPDATE runs SET status='running' WHERE run_id=?", (run_id,))

    def finish_run(self, run_id: str) -> None:
        with writing(self.conn, self.scores.path):
            self.conn.execute(
                "UPDATE runs SET status='finished', finished=? WHERE run_id=?", (time.time(), run_id)
            )

    def recorded(self, run_id: str) -> dict[int, EvaluationRecord]:
        """The evaluations a (possibly killed) run already committed, by index."""
        rows = self.conn.execute(
            "SELECT eval_index, arch, score, proxies, params, flops, latency_ms, generation, wall_s, cached "
            "FROM history WHERE run_id=? ORDER BY eval_index",
            (run_id,),
        ).fetchall()
        return {
            r[0]: EvaluationRecord(
                r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7], r[8], bool(r[9])
            )
            for r in rows
        }

    def record(self, run_id: str, evaluation: EvaluationRecord) -> None:
        e = evaluation
        with writing(self.conn, self.scores.path):
            self.conn.execute(
                "INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id, e.eval_index, e.arch, e.score, json.dumps(e.proxies), e.params, e.flops,
                    e.latency_ms, e.generation, e.wall_s, int(e.cached),
                ),
            )  # fmt: skip
