"""Milliseconds per architecture: one shared pass for all proxies vs a deep copy per proxy.

zero-cost-nas style implementations deep-copy the network and run a fresh pass for every
proxy. diswot scores all requested proxies from one shared forward/backward (proxies that must
alter weights restore them in place). Both approaches score the same NB201 cells on the same
batch of 64 shared CIFAR-10 images in one process, alternating cell by cell; the ratio is what to
read. Also measures the DisWOT score against one forward+backward of the same student (the
teacher's side is a TeacherContext computed once; building the student is excluded from both).

Usage: python benchmarks/proxy_cost.py [--cells 8] [--data DIR]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

import diswot
from diswot.proxies import Batch, ProxyScorer, TeacherContext
from diswot.proxies.scorer import arch_seed

HERE = Path(__file__).resolve().parent
PROXIES = ["diswot", "kd", "at", "grad_norm", "snip", "fisher", "synflow", "jacob_cov", "nwot", "zen", "zico"]


def timed_ms(work: Callable[[torch.nn.Module], object], model: torch.nn.Module) -> float:
    """Milliseconds ``work(model)`` takes; the model is built before the clock starts."""
    started = time.perf_counter()
    work(model)
    return (time.perf_counter() - started) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    args = parser.parse_args()
    data = diswot.load_dataset("cifar10", args.data)
    batch = Batch(*data.balanced_batch(64, seed=0))
    teacher = TeacherContext(diswot.load_teacher("resnet56").model, batch)
    space = diswot.get_space("nb201")
    rng = random.Random(0)
    shared = ProxyScorer(PROXIES, batch, teacher)
    alone = {p: ProxyScorer([p], batch, teacher) for p in PROXIES}
    diswot_only = ProxyScorer(["diswot"], batch, teacher)
    rows = []
    for _ in range(args.cells):
        arch = space.sample(rng)
        key = space.encode(arch)

        def build(key: str = key, arch=arch) -> torch.nn.Module:
            torch.manual_seed(arch_seed(0, key))
            return space.build(arch)

        shared_ms = timed_ms(lambda model, key=key: shared.score_model(model, key), build())
        copied_ms = timed_ms(
            lambda model, key=key: [s.score_model(copy.deepcopy(model), key) for s in alone.values()], build()
        )
        diswot_ms = timed_ms(lambda model, key=key: diswot_only.score_model(model, key), build())
        step_ms = timed_ms(
            lambda model: F.cross_entropy(model(batch.inputs), batch.labels).backward(), build()
        )
        rows.append({"arch": key, "shared_ms": shared_ms, "deepcopy_ms": copied_ms,
                     "diswot_ms": diswot_ms, "forward_backward_ms": step_ms})  # fmt: skip
    shared_total = sum(r["shared_ms"] for r in rows)
    copied_total = sum(r["deepcopy_ms"] for r in rows)
    result = {
        "proxies": PROXIES, "cells": args.cells, "batch_size": 64, "torch_threads": torch.get_num_threads(),
        "shared_pass_ms_per_arch": statistics.median(r["shared_ms"] for r in rows),
        "deepcopy_per_proxy_ms_per_arch": statistics.median(r["deepcopy_ms"] for r in rows),
        "deepcopy_over_shared": copied_total / shared_total,
        "diswot_over_forward_backward": sum(r["diswot_ms"] for r in rows)
        / sum(r["forward_backward_ms"] for r in rows),
        "rows": rows,
    }  # fmt: skip
    out = HERE / "results" / "proxy_cost.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
