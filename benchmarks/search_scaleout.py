"""Evaluations per second of one search on serial, process and Ray executors (issue-4 scale-out).

The same NB201 search (regularized evolution, ``diswot`` against a random-init ResNet-56, 8
proposals scored per step) runs once per executor in one process, each with a fresh store so
nothing is reused; the executors' start-up (spawning workers, starting Ray) is outside the
timed part, which is the engine's own wall clock. All three must return the same history; the
ratios to serial are what to read.

Usage: python benchmarks/search_scaleout.py [--evaluations 48] [--workers 2] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import diswot
from diswot.search import StrategyParams

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--evaluations", type=int, default=48)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    args = parser.parse_args()
    data = diswot.load_dataset("cifar10", args.data)
    params = StrategyParams(population=16, tournament=4, proposals_per_step=8)
    runs = {}
    for executor, workers in (("serial", 1), ("processes", args.workers), ("ray", args.workers)):
        with tempfile.TemporaryDirectory() as tmp:
            result = diswot.run_search(
                "nb201", data=data, proxy="diswot", evaluations=args.evaluations, seed=0, params=params,
                executor=executor, workers=workers, out=Path(tmp) / "run", progress=False, plots=False,
            )  # fmt: skip
        runs[executor] = {
            "workers": workers, "wall_s": result.wall_s, "evals_per_s": result.evaluations / result.wall_s,
            "history": [e.arch for e in result.history],
        }  # fmt: skip
    same = all(r["history"] == runs["serial"]["history"] for r in runs.values())
    serial_rate = runs["serial"]["evals_per_s"]
    report: dict[str, object] = {"evaluations": args.evaluations, "same_history": same}
    for name, run in runs.items():
        report[name] = {"workers": run["workers"], "wall_s": run["wall_s"], "evals_per_s": run["evals_per_s"],
                        "speedup_vs_serial": run["evals_per_s"] / serial_rate}  # fmt: skip
    (HERE / "results" / "search_scaleout.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
