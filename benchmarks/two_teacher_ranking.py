"""Does a two-teacher DisWOT score rank students differently from each teacher's own, and which
agrees better with the accuracy the students reach when distilled from both? (issue 27)

Reads the students distilled from teachers A and B (``diswot distill --teacher A:0.5 --teacher
B:0.5 --student ... --out RUNS``: one ``result.json`` per student), scores them with the
teacher-aware proxies against A alone, B alone and the set A+B (the scoring layer's weighted
sum), on one batch of 64 shared CIFAR-10 images, 3 proxy seeds, and reports per proxy and
teacher set the Spearman with the distilled accuracy (mean over seeds, and a 95% bootstrap
interval over students) and the Spearman between the single-teacher and two-teacher scores.

Usage:
  OMP_NUM_THREADS=1 python benchmarks/two_teacher_ranking.py --runs RUNS --teacher-a A.pt \\
      --teacher-b B.pt --data ../shared/data --out benchmarks/results/two_teacher_ranking.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

import diswot
from diswot.scoring.config import ScoringConfig
from diswot.scoring.executors import ScoringJob
from diswot.scoring.setup import scoring_setup
from diswot.search_spaces import get_space

PROXIES = ["diswot_map_trained", "diswot_resnet_trained", "diswot_trained", "kd", "ickd", "params"]


def distilled(runs: Path) -> dict[str, float]:
    """Arch key -> test accuracy of every student under ``runs``."""
    table = {}
    for card in sorted(runs.glob("*/result.json")):
        result = json.loads(card.read_text())
        table[result["name"].split(":", 1)[1]] = float(result["test_accuracy"])
    return table


def bootstrap_interval(x: np.ndarray, y: np.ndarray, resamples: int = 1000) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    values = []
    for _ in range(resamples):
        i = rng.integers(0, len(x), len(x))
        if np.ptp(x[i]) > 0 and np.ptp(y[i]) > 0:
            values.append(stats.spearmanr(x[i], y[i]).statistic)
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", required=True)
    parser.add_argument("--teacher-a", required=True)
    parser.add_argument("--teacher-b", required=True)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default="benchmarks/results/two_teacher_ranking.json")
    args = parser.parse_args()
    truth = distilled(Path(args.runs))
    archs = sorted(truth)
    accuracy = np.array([truth[a] for a in archs])
    space, data = get_space("resnet-depth"), diswot.load_dataset("cifar10", args.data)
    sets = {"A": args.teacher_a, "B": args.teacher_b, "A+B": [(args.teacher_a, 0.5), (args.teacher_b, 0.5)]}
    scores: dict[str, dict[str, np.ndarray]] = {name: {} for name in sets}
    for name, teacher in sets.items():
        per_seed = []
        for seed in (int(s) for s in args.seeds.split(",")):
            setup = scoring_setup(space, ScoringConfig(data, teacher=teacher, proxy_seed=seed), PROXIES)
            rows = ScoringJob.of(space, setup, PROXIES).score(archs)
            per_seed.append({p: np.array([r[p][0] for r in rows]) for p in PROXIES})
        scores[name] = {p: np.mean([s[p] for s in per_seed], axis=0) for p in PROXIES}
        scores[name]["_per_seed"] = per_seed  # type: ignore[assignment]
    report: dict[str, object] = {"students": dict(zip(archs, accuracy.tolist(), strict=True)), "proxies": {}}
    for p in PROXIES:
        row = {}
        for name in sets:
            rhos = [stats.spearmanr(s[p], accuracy).statistic for s in scores[name]["_per_seed"]]  # type: ignore[index]
            lo, hi = bootstrap_interval(scores[name][p], accuracy)
            row[name] = {
                "spearman": float(np.mean(rhos)),
                "spearman_sd": float(np.std(rhos)),
                "lo": lo,
                "hi": hi,
            }
        row["A vs A+B"] = float(stats.spearmanr(scores["A"][p], scores["A+B"][p]).statistic)
        row["B vs A+B"] = float(stats.spearmanr(scores["B"][p], scores["A+B"][p]).statistic)
        row["A vs B"] = float(stats.spearmanr(scores["A"][p], scores["B"][p]).statistic)
        report["proxies"][p] = row  # type: ignore[index]
        print(p, json.dumps(row))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
