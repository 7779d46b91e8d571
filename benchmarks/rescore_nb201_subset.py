"""Rescore proxies on the first N cells of the recorded NB201 benchmark with the current code.

For a proxy whose definition changed (a new ``version``), this compares, on the same cells, the
recorded score's and the current score's Spearman rho with the 200-epoch CIFAR-10 accuracy, and
how the two scores rank the cells against each other. Settings are those of
``benchmarks/proxies_nb201.py`` (one class-balanced batch of 64 CIFAR-10 images, seed 0, each
cell initialised from its own seed).

For a proxy the recorded table does not have yet (a new one), ``--append`` scores it on the
first N cells (all 1,000 with ``--cells 1000``) and adds it to the table as a new column, so
``benchmarks/select_aggregate.py`` can consider it; the report then gives its rho alone.

Usage: OMP_NUM_THREADS=1 python benchmarks/rescore_nb201_subset.py --proxies fisher,zico [--cells 200]
       python benchmarks/rescore_nb201_subset.py --proxies az_trainability --cells 1000 --append
Writes benchmarks/results/nb201_proxies/rescored_subset.json (``--append``: ``appended.json``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import pandas as pd
import torch
from scipy import stats

from diswot.data import load_dataset
from diswot.proxies import PROXIES, ProxyScorer
from diswot.proxies.scorer import scoring_batches
from diswot.search_spaces import get_space

HERE = Path(__file__).resolve().parent
TRUTH = "CIFAR10TestAccuracy200Epochs"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxies", default="fisher,zico")
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--recorded", default=str(HERE / "results" / "nb201_proxies" / "scores.csv"))
    parser.add_argument("--out", default=None, help="the report (default: next to the recorded table)")
    parser.add_argument("--append", action="store_true", help="add new proxies to the table as columns")
    args = parser.parse_args()
    names = args.proxies.split(",")
    table = pd.read_csv(args.recorded)
    present = [n for n in names if n in table.columns]
    if args.append and present:
        parser.error(f"--append adds new columns; the table already has {', '.join(present)}")
    if not args.append and len(present) < len(names):
        parser.error("the table lacks " + ", ".join(sorted(set(names) - set(present))) + "; use --append")
    recorded = table.head(args.cells)
    batch = scoring_batches(load_dataset("cifar10", args.data), 64, 1, 0)[0]
    space = get_space("nb201")
    scorer = ProxyScorer(names, batch, seed=0)
    now: dict[str, list[float]] = {n: [] for n in names}
    ms: dict[str, list[float]] = {n: [] for n in names}
    for i, key in enumerate(recorded["arch"]):
        scores = scorer.score_arch(space, space.decode(key), 10)
        for n in names:
            now[n].append(scores[n].value)
            ms[n].append(scores[n].ms)
        if (i + 1) % 25 == 0:
            print(f"{i + 1}/{len(recorded)}", flush=True)
    report: dict[str, object] = {
        "cells": len(recorded),
        "torch_threads": torch.get_num_threads(),
        "proxies": {},
    }
    default_out = "appended.json" if args.append else "rescored_subset.json"
    out = Path(args.out or Path(args.recorded).with_name(default_out))
    if args.append:
        for n in names:
            table.loc[: len(recorded) - 1, n] = now[n]
            report["proxies"][n] = {  # type: ignore[index]
                "current": PROXIES.get(n).cache_key,
                "spearman": float(stats.spearmanr(now[n], recorded[TRUTH]).statistic),
                # what the proxy costs alone (a pass several proxies share is charged to each)
                "ms_per_arch": statistics.median(ms[n]),
            }
        # keep the table's own line endings (the recording script writes csv's \r\n), so the
        # diff shows only the new columns
        ending = "\r\n" if Path(args.recorded).read_bytes().split(b"\n", 1)[0].endswith(b"\r") else "\n"
        table.to_csv(args.recorded, index=False, lineterminator=ending)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        return
    for n in names:
        report["proxies"][n] = {  # type: ignore[index]
            "current": PROXIES.get(n).cache_key,
            "recorded_spearman": float(stats.spearmanr(recorded[n], recorded[TRUTH]).statistic),
            "current_spearman": float(stats.spearmanr(now[n], recorded[TRUTH]).statistic),
            "recorded_vs_current_spearman": float(stats.spearmanr(recorded[n], now[n]).statistic),
        }
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
