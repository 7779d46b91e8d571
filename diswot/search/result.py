"""What a search returns and leaves in its run directory, and how it is read back.

``result.json`` holds the summary, the top-k, the Pareto front and the options of the space
searched; ``history.csv``, ``topk.csv`` and ``pareto.csv`` hold every field of those evaluations.
:meth:`SearchResult.load` reads them back, and :meth:`SearchResult.students` hands the best
architectures to ``diswot distill`` as :class:`Student` objects that rebuild the space searched.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from torch import nn

from diswot.errors import DiswotError
from diswot.search.store import EvaluationRecord
from diswot.search_spaces.base import get_space

#: the cost columns of the evaluation tables (a proxy of the same name is ``<name>_proxy`` there)
COST_COLUMNS = ("params", "flops", "latency_ms")


@dataclass(frozen=True)
class Student:
    """An architecture of a registered space, with the space's non-default options."""

    space: str
    arch: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> str:
        """``SPACE:ARCH``: the model spec of the architecture (in the space's default options)."""
        return f"{self.space}:{self.arch}"

    def build(self, num_classes: int = 10) -> nn.Module:
        space = get_space(self.space, **self.options)
        return space.build(space.decode(self.arch), num_classes=num_classes)


@dataclass
class SearchResult:
    """What a search returns (and writes to ``result.json``)."""

    arch: str
    score: float
    params: float
    flops: float
    latency_ms: float | None
    true_accuracy: float | None
    proxy: str
    space: str
    strategy: str
    evaluations: int
    cache_hits: int
    duplicates: int  # proposals of an architecture already proposed, served from the ledger
    isomorphic_duplicates: int  # proposals of a new architecture that is an already-scored network
    wall_s: float
    history: list[EvaluationRecord] = field(repr=False)
    top_k: list[EvaluationRecord] = field(repr=False)
    pareto: list[EvaluationRecord] = field(repr=False)
    out: Path | None = None
    space_options: dict[str, Any] = field(default_factory=dict)  # those differing from the default
    #: the teachers the proxies compared with, each ``{"teacher", "weight"}``; empty when none did
    teachers: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        summary = {k: v for k, v in asdict(self).items() if k not in {"history", "top_k", "pareto", "out"}}
        summary["top_k"] = [{"arch": e.arch, "score": e.score, "flops": e.flops, "params": e.params}
                            for e in self.top_k]  # fmt: skip
        summary["pareto"] = [{"arch": e.arch, "score": e.score, "flops": e.flops, "params": e.params,
                              "latency_ms": e.latency_ms} for e in self.pareto]  # fmt: skip
        return summary

    def students(self, top_k: int = 1) -> list[Student]:
        """The ``top_k`` best architectures (the winner when the top-k is empty)."""
        archs = [e.arch for e in self.top_k][:top_k] or [self.arch]
        return [Student(self.space, a, dict(self.space_options)) for a in archs]

    @classmethod
    def load(cls, path: str | Path) -> SearchResult:
        """A finished run's result from its ``result.json`` (or the run directory holding it).

        The history, top-k and Pareto front come from the CSV files beside it; without them (a
        ``result.json`` copied alone) the top-k and front come from ``result.json`` itself, with
        the fields it holds. Files written before ``space_options`` was recorded load with none.
        """
        path = Path(path)
        path = path / "result.json" if path.is_dir() else path
        if not path.is_file():
            raise DiswotError(f"search result {path} does not exist")
        try:
            saved = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DiswotError(f"{path} is not a search result.json: {exc}") from None
        if not isinstance(saved, dict) or "space" not in saved or "arch" not in saved:
            raise DiswotError(f"{path} is not a search result.json (it lacks 'space' and 'arch')")
        tables = {
            name: _read_evaluations(path.parent / f"{name}.csv") for name in ("history", "topk", "pareto")
        }
        summary = {f.name: saved.get(f.name) for f in fields(cls) if f.init}
        summary.update(
            history=tables["history"] or [],
            top_k=tables["topk"] if tables["topk"] is not None else _summary_rows(saved, "top_k"),
            pareto=tables["pareto"] if tables["pareto"] is not None else _summary_rows(saved, "pareto"),
            out=path.parent,
            space_options=saved.get("space_options") or {},
            teachers=saved.get("teachers") or [],
        )
        return cls(**summary)


def _summary_rows(saved: dict[str, Any], key: str) -> list[EvaluationRecord]:
    """Evaluations from the short rows of ``result.json`` (the fields it does not hold are empty)."""
    return [
        EvaluationRecord(
            -1, e["arch"], e["score"], {}, e["params"], e["flops"], e.get("latency_ms"), 0, 0.0, False
        )
        for e in saved.get(key, [])
    ]


def _read_evaluations(path: Path) -> list[EvaluationRecord] | None:
    """The rows of a ``history.csv``-style table (``None`` if the file is absent)."""
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0]) if rows else []
    proxies = header[header.index("score") + 1 : header.index("params")] if header else []
    names = {c: c[: -len("_proxy")] if c.removesuffix("_proxy") in COST_COLUMNS else c for c in proxies}
    return [_evaluation_row(r, names) for r in rows]


def _evaluation_row(r: dict[str, str], names: dict[str, str]) -> EvaluationRecord:
    return EvaluationRecord(
        int(r["eval_index"]), r["arch"], float(r["score"]), {n: float(r[c]) for c, n in names.items()},
        float(r["params"]), float(r["flops"]), float(r["latency_ms"]) if r["latency_ms"] else None,
        int(r["generation"]), float(r["wall_s"]), bool(int(r["cached"])),
    )  # fmt: skip
