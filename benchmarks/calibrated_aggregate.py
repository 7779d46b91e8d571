"""How large a reference sample a calibrated aggregate (``cal:log:a+b``) needs, measured offline.

A calibrated aggregate scores one candidate by the quantiles of its member values among a fixed
reference sample of the space, so a search can use it. This script answers, from the 1,000
NB201 cells already scored by ``benchmarks/proxies_nb201.py`` (``scores.csv``: every proxy and the
200-epoch test accuracies; no proxy is run again):

* held-out Spearman rho with CIFAR-10/100 and ImageNet16-120 accuracy of the calibrated aggregate
  when its reference is ``n_ref`` cells drawn from the *first* 500 cells and it scores the *last*
  500 (the split of ``benchmarks/select_aggregate.py``, which chose the members on the first half),
  for n_ref in 32/64/128/256/500, beside the population log-rank aggregate on the held-out cells;
* what a search would exploit: the true accuracy of the held-out cell the aggregate ranks first
  (cells tied at the top: their mean) and of the best of its top 10, and how many cells tie at the
  top (quantiles are capped beyond the reference's range, so a small reference ties the best);
* the same for a teacher-free member set (no ickd, at, diswot_relational), and with the dead
  cells (synflow = 0: no path from input to output) left out of the reference.

Point estimates are medians over ``--draws`` reference draws (seeded); the 95% intervals of rho
come from a joint bootstrap (a random reference draw and held-out cells resampled with
replacement), those of the top-1/top-10 accuracy from the reference draws alone.

Usage: python benchmarks/calibrated_aggregate.py [--draws 200] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from diswot.proxies import Calibration, parse_aggregate

HERE = Path(__file__).resolve().parent
SCORES = HERE / "results" / "nb201_proxies" / "scores.csv"
OUT = HERE / "results" / "calibrated_aggregate"
COLUMNS = ["CIFAR10TestAccuracy200Epochs", "CIFAR100TestAccuracy200Epochs", "ImageNetTestAccuracy200Epochs"]
AGGREGATES = {
    "full": "cal:log:nwot+at+synflow+jacob_cov+diswot_relational+zico+flops+ickd",
    "teacher_free": "cal:log:nwot+synflow+jacob_cov+zico+flops",
}
SIZES = (32, 64, 128, 256, 500)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(rankdata(x), rankdata(y))[0, 1])


def top_quality(score: np.ndarray, accuracy: np.ndarray) -> tuple[float, float, int]:
    """Accuracy of the top-ranked cell (mean over cells tied at the top), best of the top 10,
    and how many cells tie at the top."""
    tied = score == score.max()
    order = np.argsort(-score, kind="stable")
    return float(accuracy[tied].mean()), float(accuracy[order[:10]].max()), int(tied.sum())


def interval(values: list[float] | np.ndarray) -> list[float]:
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def evaluate(
    name: str, selection: pd.DataFrame, held_out: pd.DataFrame, size: int, draws: int, boot: int, seed: int
) -> dict[str, object]:
    aggregate = parse_aggregate(name)
    assert aggregate is not None and aggregate.calibrated
    rng = np.random.default_rng(seed)
    n_draws = 1 if size >= len(selection) else draws
    members = list(aggregate.members)
    scores = np.stack(
        [
            Calibration(aggregate, selection.iloc[rng.choice(len(selection), size, replace=False)][members])
            .score_many(held_out[members])
            for _ in range(n_draws)
        ]
        if n_draws > 1
        else [Calibration(aggregate, selection[members]).score_many(held_out[members])]
    )
    by_column = {}
    for column in COLUMNS:
        accuracy = held_out[column].to_numpy()
        rhos = [spearman(s, accuracy) for s in scores]
        replicate = []
        for _ in range(boot):
            d, cells = rng.integers(n_draws), rng.integers(0, len(held_out), len(held_out))
            replicate.append(spearman(scores[d][cells], accuracy[cells]))
        tops = np.array([top_quality(s, accuracy) for s in scores])
        by_column[column] = {
            "spearman": float(np.median(rhos)),
            "spearman_ci95": interval(replicate),
            "spearman_over_draws95": interval(rhos),  # the reference draw's share of the spread
            "top1_accuracy": float(np.median(tops[:, 0])),
            "top1_accuracy_ci95": interval(tops[:, 0]),
            "best_of_top10_accuracy": float(np.median(tops[:, 1])),
            "best_of_top10_accuracy_ci95": interval(tops[:, 1]),
            "cells_tied_at_top": float(np.median(tops[:, 2])),
        }
    return {"aggregate": name, "n_ref": min(size, len(selection)), "reference_draws": n_draws, **by_column}


def population(name: str, held_out: pd.DataFrame, boot: int, seed: int) -> dict[str, object]:
    """The plain (population) aggregate ranking the 500 held-out cells against each other."""
    aggregate = parse_aggregate(name.removeprefix("cal:"))
    assert aggregate is not None and not aggregate.calibrated
    score = aggregate.combine(held_out[list(aggregate.members)])
    rng = np.random.default_rng(seed)
    by_column = {}
    for column in COLUMNS:
        accuracy = held_out[column].to_numpy()
        replicate = []
        for _ in range(boot):
            cells = rng.integers(0, len(held_out), len(held_out))
            # the population aggregate re-ranks whatever population it is given
            replicate.append(spearman(aggregate.combine(held_out.iloc[cells][list(aggregate.members)]),
                                      accuracy[cells]))  # fmt: skip
        top1, top10, tied = top_quality(score, accuracy)
        by_column[column] = {
            "spearman": spearman(score, accuracy),
            "spearman_ci95": interval(replicate),
            "top1_accuracy": top1,
            "best_of_top10_accuracy": top10,
            "cells_tied_at_top": tied,
        }
    return {"aggregate": aggregate.name, "n_ref": None, **by_column}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scores", default=str(SCORES))
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--draws", type=int, default=200, help="reference draws per size")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    table = pd.read_csv(args.scores)
    half = len(table) // 2
    selection, held_out = table.iloc[:half].reset_index(drop=True), table.iloc[half:].reset_index(drop=True)
    alive = selection[selection["synflow"] > 0].reset_index(drop=True)

    rows: list[dict[str, object]] = []
    report: dict[str, object] = {
        "scores": Path(args.scores).name,
        "cells": {"reference_pool": len(selection), "held_out": len(held_out),
                  "dead_in_pool": half - len(alive)},
        "draws": args.draws, "bootstrap": args.bootstrap, "seed": args.seed,
        "oracle_best_held_out": {c: float(held_out[c].max()) for c in COLUMNS},
        "results": {},
    }  # fmt: skip
    for label, name in AGGREGATES.items():
        entries = {"population": population(name, held_out, args.bootstrap, args.seed)}
        for size in SIZES:
            entries[f"n_ref={size}"] = evaluate(name, selection, held_out, size, args.draws, args.bootstrap,
                                                args.seed)  # fmt: skip
        entries["n_ref=256, dead cells left out"] = evaluate(
            name, alive, held_out, 256, args.draws, args.bootstrap, args.seed
        )
        # sanity: with the held-out cells as their own reference the ordering is the population's
        aggregate = parse_aggregate(name)
        own = Calibration(aggregate, held_out[list(aggregate.members)]).score_many(held_out)
        plain = parse_aggregate(name.removeprefix("cal:")).combine(held_out)
        assert np.allclose(own, plain + len(aggregate.members) * np.log(half / (half + 1)))
        report["results"][label] = entries  # type: ignore[index]
        for setting, entry in entries.items():
            for column in COLUMNS:
                c = entry[column]
                rows.append({
                    "members": label, "aggregate": entry["aggregate"], "setting": setting,
                    "ground_truth": column, "spearman": round(c["spearman"], 4),
                    "spearman_ci_low": round(c["spearman_ci95"][0], 4),
                    "spearman_ci_high": round(c["spearman_ci95"][1], 4),
                    "spearman_draws_low": round(c.get("spearman_over_draws95", [c["spearman"]])[0], 4),
                    "spearman_draws_high": round(c.get("spearman_over_draws95", [c["spearman"]])[-1], 4),
                    "top1_accuracy": round(c["top1_accuracy"], 2),
                    "best_of_top10_accuracy": round(c["best_of_top10_accuracy"], 2),
                    "cells_tied_at_top": c["cells_tied_at_top"],
                })  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2))
    frame = pd.DataFrame(rows)
    frame.to_csv(out / "results.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(frame[frame.ground_truth == COLUMNS[0]].drop(columns=["aggregate", "ground_truth"]).to_string())


if __name__ == "__main__":
    main()
