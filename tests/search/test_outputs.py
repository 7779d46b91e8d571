"""The run's tables are pandas frames written as CSV: the same bytes the hand-written writer gave."""

from __future__ import annotations

import csv
import io

from diswot import run_search
from diswot.search import StrategyParams
from diswot.search.outputs import _write_evaluations, evaluations_frame
from diswot.search.result import COST_COLUMNS

FAST = {"progress": False, "plots": False, "params": StrategyParams(population=4, tournament=2)}


def reference_csv(rows, truth) -> str:
    """The CSV the writer produced before it used pandas (kept here as the reference)."""
    proxies = list(rows[0].proxies) if rows else []
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    named = [f"{p}_proxy" if p in COST_COLUMNS else p for p in proxies]
    header = ["eval_index", "generation", "arch", "score", *named, *COST_COLUMNS]
    writer.writerow([*header, "wall_s", "cached", *(["true_accuracy"] if truth else [])])
    for e in rows:
        latency = "" if e.latency_ms is None else f"{e.latency_ms:.4f}"
        row = [e.eval_index, e.generation, e.arch, repr(e.score), *(repr(e.proxies[p]) for p in proxies)]
        row += [int(e.params), int(e.flops), latency, f"{e.wall_s:.3f}", int(e.cached)]
        if truth:
            row.append(truth.get(e.arch, ""))
        writer.writerow(row)
    return out.getvalue()


def test_history_topk_and_pareto_equal_the_previous_csv(tmp_path):
    result = run_search("nb201", proxy="synflow", record=["flops", "nwot"], evaluations=6, batch_size=16,
                        seed=2, out=tmp_path / "r", **FAST)  # fmt: skip
    assert result.history[0].latency_ms is None  # the empty-latency branch is exercised
    for name, rows in (("history", result.history), ("topk", result.top_k), ("pareto", result.pareto)):
        written = (tmp_path / "r" / f"{name}.csv").read_text()
        assert written == reference_csv(rows, None), name
    # with a ground truth (one arch known, the others missing)
    truth = {result.history[0].arch: 93.5}
    _write_evaluations(tmp_path / "t.csv", result.history, truth)
    assert (tmp_path / "t.csv").read_text() == reference_csv(result.history, truth)
    frame = evaluations_frame(result.history, truth)
    assert list(frame["arch"]) == [e.arch for e in result.history]
    assert frame["true_accuracy"].notna().sum() == 1 and "flops_proxy" in frame
