"""Score every distinct NB201 network with a few proxies, exactly as a search scores them.

The 1,000-cell table (``benchmarks/proxies_nb201.py``) is a random sample: it holds about one of
NB201's 13 cells at >= 94.2% CIFAR-10 accuracy, so it cannot tell which fitness puts *those*
first, which is what decides a search's result. This script scores the canonical cell of each
of the 5,259 connected networks (``NB201Space.canonical``; the disconnected class is never
scored by a search) plus the calibration reference (``diswot.scoring.calibration.reference_keys``,
128 cells), through the search's own :class:`~diswot.scoring.executors.ScoringJob`: same batch
(64 class-balanced CIFAR-10 training images, proxy seed 0), same per-cell initialisation. A
cell's values are therefore the ones ``benchmarks/search_nb201.py`` runs saw, and any
``cal:`` aggregate of these proxies can be evaluated on the whole space offline
(``benchmarks/fitness_top_nb201.py``).

Long (about 0.8 s per cell on one thread for the default proxies): run one process per core
with ``--shard I --shards N``; each appends to its own part file as it goes, so a killed run
resumes where it stopped. ``--merge`` joins the parts with the benchmark's true accuracies into
``results/nb201_space/scores.csv`` and writes ``meta.json`` (proxy versions, median ms per cell).

Usage:
  OMP_NUM_THREADS=1 python benchmarks/score_nb201_space.py --shard 0 --shards 2 &
  OMP_NUM_THREADS=1 python benchmarks/score_nb201_space.py --shard 1 --shards 2
  python benchmarks/score_nb201_space.py --merge
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import pandas as pd
import torch

from diswot.bench.ground_truth import read_ground_truth
from diswot.proxies import PROXIES
from diswot.scoring.calibration import DEFAULT_REFERENCE_SIZE, reference_keys
from diswot.scoring.config import ScoringConfig
from diswot.scoring.executors import ScoringJob
from diswot.scoring.setup import scoring_setup
from diswot.search_spaces import get_space
from diswot.search_spaces.base import SearchSpace

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "nb201_space"
DEFAULT_PROXIES = "az_expressivity,az_progressivity,az_trainability,synflow,flops"
TRUTH = ("CIFAR10TestAccuracy200Epochs", "CIFAR100TestAccuracy200Epochs", "ImageNetTestAccuracy200Epochs")


def cells_to_score(space: SearchSpace) -> tuple[list[str], set[str], set[str]]:
    """Every connected network's canonical key, then the reference keys not among them."""
    canonical = sorted({space.canonical(a) for a in space.enumerate() if space.invalid_reason(a) is None})
    reference = reference_keys(space, DEFAULT_REFERENCE_SIZE)
    known = set(canonical)
    return canonical + [k for k in reference if k not in known], set(canonical), set(reference)


def score_shard(args: argparse.Namespace) -> None:
    proxies = args.proxies.split(",")
    space = get_space("nb201")
    keys, _, _ = cells_to_score(space)
    mine = keys[args.shard :: args.shards]
    part = OUT / f"part{args.shard}of{args.shards}.csv"
    done: set[str] = set()
    if part.exists():
        done = set(pd.read_csv(part)["arch"])
    todo = [k for k in mine if k not in done]
    print(f"shard {args.shard}/{args.shards}: {len(mine)} cells, {len(done)} already scored", flush=True)
    setup = scoring_setup(space, ScoringConfig("cifar10", data_root=args.data, proxy_seed=0), proxies)
    job = ScoringJob.of(space, setup, proxies)
    columns = ["arch", *proxies, *(f"{p}_ms" for p in proxies)]
    OUT.mkdir(parents=True, exist_ok=True)
    # the timings' conditions, for meta.json (the merging process's own thread count says nothing)
    part.with_suffix(".json").write_text(json.dumps({"torch_threads": torch.get_num_threads()}))
    new = not part.exists()
    start = time.perf_counter()
    with open(part, "a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(columns)
        for i, key in enumerate(todo, 1):
            scores = job.score([key])[0]
            writer.writerow([key, *(scores[p][0] for p in proxies), *(scores[p][1] for p in proxies)])
            if i % 10 == 0 or i == len(todo):
                f.flush()  # a killed run keeps what it scored
                rate = (time.perf_counter() - start) / i
                print(f"{i}/{len(todo)} cells, {rate:.2f} s per cell", flush=True)


def merge(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    parts = sorted(OUT.glob("part*of*.csv"))
    if not parts:
        parser.error(f"no part files in {OUT}; run --shard I --shards N first")
    scored = pd.concat([pd.read_csv(p) for p in parts]).drop_duplicates("arch")
    threads = sorted({json.loads(p.with_suffix(".json").read_text())["torch_threads"] for p in parts})
    space = get_space("nb201")
    keys, canonical, reference = cells_to_score(space)
    missing = set(keys) - set(scored["arch"])
    if missing:
        parser.error(f"{len(missing)} cells not scored yet; rerun the shards (they resume)")
    truth = read_ground_truth(f"{args.data}/nb201/nats_tss_test_acc_200ep.csv", space, list(TRUTH))
    table = scored.set_index("arch").loc[keys].reset_index()
    table["canonical"] = table["arch"].isin(canonical)
    table["reference"] = table["arch"].isin(reference)
    for column in TRUTH:
        table[column] = table["arch"].map(truth.values[column])
    proxies = [c.removesuffix("_ms") for c in scored.columns if c.endswith("_ms")]
    meta = {
        "cells": len(table),
        "canonical_cells": int(table["canonical"].sum()),
        "reference_cells": int(table["reference"].sum()),
        "proxy_seed": 0,
        "batch": "64 class-balanced CIFAR-10 training images (scoring_batches, seed 0)",
        "shards": len(parts),
        "torch_threads_per_shard": threads,
        "proxies": {
            p: {"version": PROXIES.get(p).cache_key, "ms_per_cell": statistics.median(table[f"{p}_ms"])}
            for p in proxies
        },
    }
    table.drop(columns=[f"{p}_ms" for p in proxies]).to_csv(OUT / "scores.csv", index=False)
    (OUT / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    for p in parts:
        p.unlink()
        p.with_suffix(".json").unlink()
    print(json.dumps(meta, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxies", default=DEFAULT_PROXIES)
    parser.add_argument("--shard", type=int, default=0)
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--merge", action="store_true", help="join the finished parts into scores.csv")
    args = parser.parse_args()
    if not 0 <= args.shard < args.shards:
        parser.error(f"--shard must be in [0, {args.shards}), got {args.shard}")
    if not Path(args.data, "nb201", "nats_tss_test_acc_200ep.csv").is_file():
        parser.error(f"--data {args.data} lacks nb201/nats_tss_test_acc_200ep.csv; pass the data folder")
    merge(args, parser) if args.merge else score_shard(args)


if __name__ == "__main__":
    main()
