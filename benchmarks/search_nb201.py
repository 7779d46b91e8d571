"""Record search quality and speed on NAS-Bench-201 CIFAR-10 (the issue-4 benchmark).

For each configuration (strategy x proxy) and each search seed, runs ``diswot.run_search`` with the
same number of evaluations on one class-balanced batch of 64 shared CIFAR-10 training images
(proxy seed 0, so every seed optimises the same fitness; a random-init ResNet-56 teacher for
the teacher-based proxies) and reports the true CIFAR-10 200-epoch test accuracy of the
returned cell (mean +- std over seeds) and the wall time. Each run keeps its own store, so wall
times are honest (no scores reused from other runs); a killed benchmark resumes per run.

Usage:
  python benchmarks/search_nb201.py --strategy evolution --proxy diswot --seeds 0 1 2 3 4
  python benchmarks/search_nb201.py --summarize   # table and summary.png of every finished configuration

``--proxy-seed-follows`` sets the proxy seed to the search seed, as ``diswot search --seed S`` does
by default: each seed then optimises a fitness measured on its own batch and initial weights, so
the spread over seeds includes the fitness's own measurement noise, not only the search's. Its
runs go to ``<strategy>_<proxy>_<evaluations>_proxy-seed-follows/``.

A run writes ``results/search_nb201/<configuration>/seed<k>/`` (``:`` of an aggregate's name
written ``-``, so the names are legal on Windows). ``--summarize`` first folds finished run folders
into what git keeps (``benchmarks/regenerate_attic.py --merge``: ``<configuration>.csv``, every
evaluation of every seed, and ``runs.json``, each run's ``result.json`` and ``run.json``), then
summarises from those, so it needs no run folder; ``regenerate_attic.py`` writes them back.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from regenerate_attic import RUNS_FILE, merge, safe_name

import diswot
from diswot.search import StrategyParams

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "search_nb201"
COLUMN = "CIFAR10TestAccuracy200Epochs"
FOLLOWS = "_proxy-seed-follows"  # folder suffix of runs whose proxy seed is the search seed


def run(args: argparse.Namespace) -> None:
    data = diswot.load_dataset("cifar10", args.data)
    table = f"{args.data}/nb201/nats_tss_test_acc_200ep.csv"
    merged = json.loads((RESULTS / RUNS_FILE).read_text()) if (RESULTS / RUNS_FILE).exists() else {}
    for seed in args.seeds:
        out = RESULTS / config_name(args) / f"seed{seed}"
        resume = (out / "run.json").exists()
        if (out / "result.json").exists() or f"{config_name(args)}/seed{seed}" in merged:
            print(f"{out} already finished")
            continue
        result = diswot.run_search(
            "nb201", teacher="resnet56", data=data, proxy=args.proxy, strategy=args.strategy,
            evaluations=args.evaluations, seed=seed, batch_size=64,
            proxy_seed=seed if args.proxy_seed_follows else 0,
            params=StrategyParams(population=args.population, tournament=args.tournament),
            ground_truth=table, gt_column=COLUMN, out=out, resume=resume, store=args.store,
            reference_size=args.reference_size,
        )  # fmt: skip
        print(f"seed {seed}: {result.arch} true accuracy {result.true_accuracy:.2f} in {result.wall_s:.0f} s "
              f"({result.cache_hits} of {result.evaluations} from the store, "
              f"{result.isomorphic_duplicates} equivalent cells reused)")  # fmt: skip


def config_name(args: argparse.Namespace) -> str:
    """The results folder of one configuration (``:`` written ``-``: legal on Windows)."""
    name = f"{args.strategy}_{safe_name(args.proxy)}_{args.evaluations}"
    return name + (FOLLOWS if args.proxy_seed_follows else "")


def config_label(name: str) -> str:
    """``strategy, proxy, evaluations[, proxy seed = seed]`` from a results folder name."""
    follows = name.endswith(FOLLOWS)
    strategy, rest = name.removesuffix(FOLLOWS).split("_", 1)
    proxy, evaluations = rest.rsplit("_", 1)
    proxy = proxy.replace("-", ":")  # proxy names hold no '-': each one was a ':'
    return ", ".join((strategy, proxy, evaluations, *(["proxy seed = seed"] if follows else [])))


def union_of_runs(config: Path) -> dict[str, object]:
    """Every network the runs of one configuration scored, pooled: did a run stop short of the
    fitness's top, or is the top itself not NB201's best? (The fitness is the same in every run.)"""
    import pandas as pd

    pooled = pd.read_csv(config).drop_duplicates("arch").sort_values("score", ascending=False)
    top = pooled.head(10)["true_accuracy"]
    return {
        "networks": len(pooled),
        "best_score": float(pooled["score"].iloc[0]),
        "best_score_arch": str(pooled["arch"].iloc[0]),
        "best_score_true_accuracy": float(pooled["true_accuracy"].iloc[0]),
        "top10_by_score_true_accuracy": [round(float(a), 2) for a in top],
        "best_true_accuracy_seen": float(pooled["true_accuracy"].max()),
    }


def summarize() -> dict[str, dict[str, object]]:
    merge(RESULTS.parent)  # finished run folders into the configurations' CSVs and runs.json
    runs = json.loads((RESULTS / RUNS_FILE).read_text())
    by_config: dict[str, list[tuple[int, dict]]] = {}
    for folder, entry in runs.items():
        name, seed = folder.split("/")
        by_config.setdefault(name, []).append((int(seed.removeprefix("seed")), entry["result.json"]))
    summary = {}
    for name in sorted(by_config):
        results = [result for _, result in sorted(by_config[name], key=lambda item: item[0])]
        config = RESULTS / f"{name}.csv"
        accuracy = [r["true_accuracy"] for r in results]
        wall = [r["wall_s"] for r in results]
        summary[name] = {
            "seeds": len(results),
            "evaluations": results[0]["evaluations"],
            "true_accuracy_mean": statistics.mean(accuracy),
            "true_accuracy_std": statistics.stdev(accuracy) if len(accuracy) > 1 else 0.0,
            "true_accuracies": accuracy,
            "wall_s_mean": statistics.mean(wall),
            "cache_hits": [r.get("cache_hits") for r in results],
            "isomorphic_duplicates": [r.get("isomorphic_duplicates") for r in results],
            "archs": [r["arch"] for r in results],
            # pooling scores needs one fitness; runs whose proxy seed follows the seed each have their own
            "union_of_runs": None if name.endswith(FOLLOWS) else union_of_runs(config),
        }
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2))
    plot_summary(summary, RESULTS / "summary.png")
    print(f"{'configuration':<36}{'seeds':>6}{'evals':>7}{'true acc (mean +- std)':>26}{'wall s':>9}")
    for name, s in summary.items():
        acc = f"{s['true_accuracy_mean']:.2f} +- {s['true_accuracy_std']:.2f}"
        print(f"{name:<36}{s['seeds']:>6}{s['evaluations']:>7}{acc:>26}{s['wall_s_mean']:>9.0f}")
    return summary


def plot_summary(summary: dict[str, dict[str, object]], path: Path, optimum: float = 94.37) -> None:
    """Each configuration's per-seed true accuracy (dots), mean +- std (bar), and NB201's optimum."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(summary, key=lambda n: summary[n]["true_accuracy_mean"])  # best at the top
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(names) + 1.2), dpi=110)
    for row, name in enumerate(names):
        s = summary[name]
        seeds = s["true_accuracies"]
        ax.errorbar(s["true_accuracy_mean"], row, xerr=s["true_accuracy_std"], fmt="o", color="black",
                    capsize=3, zorder=3)  # fmt: skip
        ax.scatter(seeds, [row] * len(seeds), s=12, alpha=0.6, color="tab:blue", zorder=2)
    ax.axvline(optimum, color="tab:green", linestyle="--", label=f"NB201 optimum {optimum}")
    ax.set_yticks(range(len(names)), [config_label(n) for n in names], fontsize=6)
    ax.set_xlabel("true CIFAR-10 accuracy of the returned cell, % (dots: seeds; bar: mean +- std)")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategy", default="evolution")
    parser.add_argument("--proxy", default="diswot")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--evaluations", type=int, default=500)
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--tournament", type=int, default=5)
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--store", default=None,
                        help="one SQLite store for every seed: a calibrated aggregate's reference is "
                        "scored once, and a cell another seed scored is reused (see cache hits)")
    parser.add_argument("--reference-size", type=int, default=128, help="of a cal: aggregate")
    parser.add_argument("--proxy-seed-follows", action="store_true",
                        help="proxy seed = search seed (each seed its own batch and initial weights)")
    parser.add_argument("--summarize", action="store_true")
    args = parser.parse_args()
    if not args.summarize:
        run(args)
    summarize()


if __name__ == "__main__":
    main()
