"""Choose a rank aggregate on one half of the benchmarked NB201 cells, report it on the other.

Searching thousands of proxy combinations and reporting the best one on the same cells would
overstate it. This script splits the 1,000 cells of ``benchmarks/proxies_nb201.py`` (sampled with
seed 0) into a *selection* half (the first 500 of the sample) and a *held-out* half (the last
500), picks the best mean-rank (``a+b``) or log-rank (``log:a+b``, AZ-NAS style) aggregate of 2 to
5 single proxies on the selection half only, and reports its Spearman rho on the held-out half
beside the best single proxy chosen the same way. Larger sets are too many to enumerate, so a
greedy forward selection (add the member that most raises the selection-half rho of the
log-rank aggregate; stop when none does) also runs on the selection half; the better of the two
on the selection half is the chosen aggregate.

``--criterion top`` judges an aggregate by its Spearman rho among the selection half's best tenth
of cells by true accuracy instead of over all of them. A search returns the best-scored cell of
a population that is already good, so what decides its result is the order *among good cells*;
the rho over all cells is dominated by telling poor cells from good ones. Its report, with both
criteria for every reported set, goes to ``aggregate_selection_top[_teacher_free].json``.

``--teacher-free`` restricts the members to proxies that need no teacher (what a search fitness
pays for per candidate without a teacher pass) and writes ``aggregate_selection_teacher_free.json``;
every report gives the chosen set's per-cell cost as the sum of its members' median milliseconds
in the benchmark (one thread; members that share a pass cost less, since the sum counts that
pass once per member: by one AZ-NAS pass per extra AZ-NAS member, for instance).

Usage: python benchmarks/select_aggregate.py [--results benchmarks/results/nb201_proxies] [--teacher-free]
       [--criterion all|top]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
from pathlib import Path

import numpy as np
from scipy.stats import rankdata, spearmanr

from diswot.proxies import PROXIES

HERE = Path(__file__).resolve().parent
COLUMN = "CIFAR10TestAccuracy200Epochs"
SKIP = {"params"}  # identical ranking to flops on NB201 (both grow with the convolutions)
TOP_FRACTION = 0.1  # --criterion top: the best tenth of cells by true accuracy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", default=str(HERE / "results" / "nb201_proxies"))
    parser.add_argument("--max-size", type=int, default=5)
    parser.add_argument("--teacher-free", action="store_true", help="only members that need no teacher")
    parser.add_argument("--criterion", choices=("all", "top"), default="all",
                        help="rho over all cells, or among the best tenth by true accuracy")
    args = parser.parse_args()
    with open(Path(args.results) / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    singles = [
        c for c in rows[0] if c not in {"arch"} and ":" not in c and "+" not in c and "Accuracy" not in c
    ]
    singles = [c for c in singles if c not in SKIP]
    if args.teacher_free:
        singles = [c for c in singles if not PROXIES.get(c).needs_teacher]
    ms = json.loads((Path(args.results) / "results.json").read_text())["proxies"]
    appended = Path(args.results) / "appended.json"  # proxies added later by rescore_nb201_subset.py
    if appended.exists():
        ms.update(json.loads(appended.read_text())["proxies"])
    half = len(rows) // 2
    parts = {"selection": rows[:half], "held_out": rows[half:]}
    truth = {k: np.array([float(r[COLUMN]) for r in v]) for k, v in parts.items()}
    ranks = {k: {p: rankdata([float(r[p]) for r in v]) / len(v) for p in singles} for k, v in parts.items()}

    # cells of the best tenth by true accuracy, per half (ranks stay those of the whole half)
    top = {k: v >= np.quantile(v, 1 - TOP_FRACTION) for k, v in truth.items()}
    every = {k: np.ones_like(v) for k, v in top.items()}

    def rho_on(part: str, combo: tuple[str, ...], log: bool, cells: np.ndarray) -> float:
        terms = [np.log(ranks[part][p]) if log else ranks[part][p] for p in combo]
        return float(spearmanr(np.sum(terms, axis=0)[cells], truth[part][cells])[0])

    def rho(part: str, combo: tuple[str, ...], log: bool) -> float:
        """The selection criterion."""
        return rho_on(part, combo, log, (top if args.criterion == "top" else every)[part])

    candidates = [(c, log) for k in range(2, args.max_size + 1) for c in itertools.combinations(singles, k)
                  for log in (False, True)]  # fmt: skip
    exhaustive = max(candidates, key=lambda c: rho("selection", *c))
    greedy: tuple[str, ...] = ()
    while len(greedy) < len(singles):
        unused = [p for p in singles if p not in greedy]
        step = max(unused, key=lambda p: rho("selection", (*greedy, p), True))
        if greedy and rho("selection", (*greedy, step), True) <= rho("selection", greedy, True):
            break
        greedy = (*greedy, step)
    best_combo, best_log = max([exhaustive, (greedy, True)], key=lambda c: rho("selection", *c))
    best_single = max(singles, key=lambda p: rho("selection", (p,), False))
    name = ("log:" if best_log else "") + "+".join(best_combo)

    def described(combo: tuple[str, ...], log: bool) -> dict[str, object]:
        label = ("log:" if log else "") + "+".join(combo)
        return {
            "aggregate": label,
            "spearman": {k: rho_on(k, combo, log, every[k]) for k in parts},
            "spearman_top_tenth": {k: rho_on(k, combo, log, top[k]) for k in parts},
            "ms_per_cell": sum(ms[p]["ms_per_arch"] for p in combo),
        }

    report = {
        "criterion": args.criterion,
        "members_from": singles,
        "cells": {k: len(v) for k, v in parts.items()},
        "combinations_tried": len(candidates),
        "exhaustive_up_to_max_size": described(*exhaustive),
        "greedy_forward": described(greedy, True),
        "aggregate": name,
        "aggregate_spearman": {k: rho(k, best_combo, best_log) for k in parts},
        "aggregate_ms_per_cell": sum(ms[p]["ms_per_arch"] for p in best_combo),
        "best_single": best_single,
        "best_single_spearman": {k: rho(k, (best_single,), False) for k in parts},
        "chosen": described(best_combo, best_log),
    }
    out_name = "aggregate_selection" + ("_top" if args.criterion == "top" else "")
    out_name += "_teacher_free.json" if args.teacher_free else ".json"
    (Path(args.results) / out_name).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
