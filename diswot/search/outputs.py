"""Files a search run writes: ``result.json``, ``history.csv``, ``topk.csv``, ``pareto.csv`` and plots.

Each file is written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from diswot.atomic import save_figure, write_json, write_with
from diswot.search.result import COST_COLUMNS

if TYPE_CHECKING:
    from diswot.search.result import SearchResult
    from diswot.search.store import EvaluationRecord


def evaluations_frame(rows: list[EvaluationRecord], truth: dict[str, float] | None = None) -> pd.DataFrame:
    """The evaluations as a table: one row each, one column per proxy, the costs, the timing
    and (with ``truth``) the true accuracy; what ``history.csv``, ``topk.csv`` and ``pareto.csv`` hold."""
    proxies = list(rows[0].proxies) if rows else []
    # the params/flops proxies (e.g. members of an aggregate) must not repeat a cost's column name
    named = {p: f"{p}_proxy" if p in COST_COLUMNS else p for p in proxies}
    frame = pd.DataFrame(
        {
            "eval_index": [e.eval_index for e in rows],
            "generation": [e.generation for e in rows],
            "arch": [e.arch for e in rows],
            "score": [e.score for e in rows],
            **{named[p]: [e.proxies[p] for e in rows] for p in proxies},
            "params": pd.array([int(e.params) for e in rows], dtype="Int64"),
            "flops": pd.array([int(e.flops) for e in rows], dtype="Int64"),
            "latency_ms": [e.latency_ms for e in rows],
            "wall_s": [e.wall_s for e in rows],
            "cached": [int(e.cached) for e in rows],
        }
    )
    if truth:
        frame["true_accuracy"] = [truth.get(e.arch) for e in rows]
    return frame


def _write_evaluations(path: Path, rows: list[EvaluationRecord], truth: dict[str, float] | None) -> None:
    frame = evaluations_frame(rows, truth)
    # fixed decimals for the measured columns; proxies and scores keep every digit (repr)
    frame["latency_ms"] = frame["latency_ms"].map(lambda v: "" if v is None else f"{v:.4f}")
    frame["wall_s"] = frame["wall_s"].map(lambda v: f"{v:.3f}")
    write_with(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_outputs(
    result: SearchResult, out: Path, truth: dict[str, float] | None, objective: str, plots: bool = True
) -> None:
    """Everything a finished (or resumed-to-completion) run leaves in ``out``."""
    # result.json last: a folder holding it holds every other output too
    _write_evaluations(out / "history.csv", result.history, truth)
    _write_evaluations(out / "topk.csv", result.top_k, truth)
    _write_evaluations(out / "pareto.csv", result.pareto, truth)
    if plots:
        plot_search(result, out, objective)
    write_json(out / "result.json", result.to_dict())


def plot_search(result: SearchResult, out: Path, objective: str = "flops") -> None:
    """``best_score.png`` (best score over evaluations) and ``score_vs_<objective>.png`` with the front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = result.history
    running, best = [], float("-inf")
    for e in history:
        best = max(best, e.score)
        running.append(best)
    fig, ax = plt.subplots(figsize=(5.5, 4), dpi=110)
    ax.plot(range(1, len(history) + 1), running, color="tab:blue")
    ax.scatter(range(1, len(history) + 1), [e.score for e in history], s=4, alpha=0.3, color="tab:gray")
    ax.set_xlabel("evaluations")
    ax.set_ylabel(f"{result.proxy} (higher is better)")
    ax.set_title(f"{result.strategy} on {result.space}: best so far")
    fig.tight_layout()
    save_figure(fig, out / "best_score.png")
    plt.close(fig)

    def cost(e: EvaluationRecord) -> float:
        return float(getattr(e, objective) or 0.0)

    fig, ax = plt.subplots(figsize=(5.5, 4), dpi=110)
    ax.scatter([cost(e) for e in history], [e.score for e in history], s=6, alpha=0.4, label="evaluated")
    front = sorted(result.pareto, key=cost)
    ax.plot(
        [cost(e) for e in front], [e.score for e in front], "o-", color="tab:red", ms=3, label="Pareto front"
    )
    returned = float(getattr(result, objective) or 0.0)
    ax.scatter([returned], [result.score], marker="*", s=120, color="gold", edgecolor="black", zorder=5,
               label="returned")  # fmt: skip
    ax.set_xlabel("multiply-adds" if objective == "flops" else objective)
    ax.set_ylabel(result.proxy)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / f"score_vs_{objective}.png")
    plt.close(fig)
