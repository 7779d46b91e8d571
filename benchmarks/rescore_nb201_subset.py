"""Rescore proxies on the first N cells of the recorded NB201 benchmark with the current code.

For a proxy whose definition changed (a new ``version``), this compares, on the same cells, the
recorded score's and the current score's Spearman rho with the 200-epoch CIFAR-10 accuracy, and
how the two scores rank the cells against each other. Settings are those of
``benchmarks/proxies_nb201.py`` (one class-balanced batch of 64 CIFAR-10 images, seed 0, each
cell initialised from its own seed).

Usage: OMP_NUM_THREADS=1 python benchmarks/rescore_nb201_subset.py --proxies fisher,zico [--cells 200]
Writes benchmarks/results/nb201_proxies/rescored_subset.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import torch
from scipy import stats

from diswot.data import load_dataset
from diswot.proxies import PROXIES, ProxyScorer
from diswot.proxies.scoring import scoring_batches
from diswot.search_spaces import get_space

HERE = Path(__file__).resolve().parent
TRUTH = "CIFAR10TestAccuracy200Epochs"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxies", default="fisher,zico")
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--recorded", default=str(HERE / "results" / "nb201_proxies" / "scores.csv"))
    parser.add_argument("--out", default=str(HERE / "results" / "nb201_proxies" / "rescored_subset.json"))
    args = parser.parse_args()
    names = args.proxies.split(",")
    recorded = pd.read_csv(args.recorded).head(args.cells)
    batch = scoring_batches(load_dataset("cifar10", args.data), 64, 1, 0)[0]
    space = get_space("nb201")
    scorer = ProxyScorer(names, batch, seed=0)
    now: dict[str, list[float]] = {n: [] for n in names}
    for i, key in enumerate(recorded["arch"]):
        scores = scorer.score_arch(space, space.decode(key), 10)
        for n in names:
            now[n].append(scores[n].value)
        if (i + 1) % 25 == 0:
            print(f"{i + 1}/{len(recorded)}", flush=True)
    report: dict[str, object] = {
        "cells": len(recorded),
        "torch_threads": torch.get_num_threads(),
        "proxies": {},
    }
    for n in names:
        report["proxies"][n] = {  # type: ignore[index]
            "current": PROXIES.get(n).cache_key,
            "recorded_spearman": float(stats.spearmanr(recorded[n], recorded[TRUTH]).statistic),
            "current_spearman": float(stats.spearmanr(now[n], recorded[TRUTH]).statistic),
            "recorded_vs_current_spearman": float(stats.spearmanr(recorded[n], now[n]).statistic),
        }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
