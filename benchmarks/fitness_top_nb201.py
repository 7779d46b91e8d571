"""Which fitness puts NB201's best networks first? Judged on the whole space, chosen on half of it.

Reads ``results/nb201_space/scores.csv`` (``benchmarks/score_nb201_space.py``: every connected
network's canonical cell scored as a search scores it) and evaluates every fitness a search could
use from those proxies: each proxy alone, and every calibrated aggregate (``cal:a+b``,
``cal:log:a+b``) of two or more of them, calibrated on the search's own 128-cell reference. A
search that climbs well returns the fitness's best cell, so the question is what the *top* of
each fitness holds.

The networks are split at random (``--split-seed``) into a selection half and a held-out half.
A fitness is judged by the mean true CIFAR-10 accuracy of its ``--top`` best-scored networks
in a half (5 of about 2,630: the top 0.2%, the share of NB201's networks at >= 94.2%). The
choice is made on the selection half only and reported on the held-out half; the report also
gives, for the chosen fitness, AZ-NAS's aggregate (the recommended fitness) and every single
proxy, what the whole space's top holds: the best-scored network's accuracy, the accuracies of
the top 10, and how many of NB201's networks at >= 94.2% the top 50 holds. Since the split is
one draw, ``--splits`` further random splits say how often each fitness would have been chosen.

The held-out difference between the chosen fitness and the recommended one comes with a paired
bootstrap interval (``--resamples`` resamples of the held-out networks). Writes
``results/nb201_space/fitness_top.json`` and ``fitness_top.png`` (true accuracy against
rank by fitness, top 100, for the reported fitnesses).

Usage: python benchmarks/fitness_top_nb201.py [--top 5] [--split-seed 0] [--splits 200] [--resamples 2000]
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from diswot.proxies.aggregate import Calibration, parse_aggregate

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "nb201_space"
TRUTH = "CIFAR10TestAccuracy200Epochs"
RECOMMENDED = "cal:log:az_expressivity+az_progressivity+az_trainability+flops"
GOOD = 94.2  # the goal


def fitness_values(table: pd.DataFrame, reference: pd.DataFrame, name: str) -> np.ndarray:
    """``name``'s value on every row of ``table``: a proxy's own value, or a calibrated aggregate
    computed exactly as a search computes it (quantiles among the reference's values)."""
    aggregate = parse_aggregate(name)
    if aggregate is None:
        return table[name].to_numpy(dtype=float)
    calibration = Calibration(aggregate, {m: reference[m].to_numpy() for m in aggregate.members})
    return calibration.score_many({m: table[m].to_numpy() for m in aggregate.members})


def candidates(proxies: list[str]) -> list[str]:
    """Every proxy alone and every calibrated mean- and log-quantile aggregate of two or more."""
    names = list(proxies)
    for size in range(2, len(proxies) + 1):
        for combo in itertools.combinations(proxies, size):
            names += [f"cal:{'+'.join(combo)}", f"cal:log:{'+'.join(combo)}"]
    return names


def top_mean(values: np.ndarray, truth: np.ndarray, cells: np.ndarray, k: int) -> float:
    """Mean true accuracy of the ``k`` best-scored cells among ``cells`` (a boolean mask)."""
    order = np.argsort(-values[cells], kind="stable")[:k]
    return float(truth[cells][order].mean())


def paired_bootstrap(a: np.ndarray, b: np.ndarray, truth: np.ndarray, cells: np.ndarray, k: int,
                     resamples: int, seed: int) -> list[float]:
    """95% interval of top_mean(a) - top_mean(b) over the ``cells``, resampled with replacement
    (the same resample for both fitnesses)."""
    rng = np.random.default_rng(seed)
    index = np.flatnonzero(cells)
    differences = []
    for _ in range(resamples):
        drawn = rng.choice(index, size=len(index), replace=True)
        # a cell drawn twice counts twice among the top k: score ties broken by draw order
        top_a = drawn[np.argsort(-a[drawn], kind="stable")[:k]]
        top_b = drawn[np.argsort(-b[drawn], kind="stable")[:k]]
        differences.append(truth[top_a].mean() - truth[top_b].mean())
    return [float(np.percentile(differences, 2.5)), float(np.percentile(differences, 97.5))]


def whole_space(values: np.ndarray, truth: np.ndarray, archs: np.ndarray) -> dict[str, object]:
    order = np.argsort(-values, kind="stable")
    ties_at_top = int((values == values[order[0]]).sum())
    return {
        "best_scored": str(archs[order[0]]),
        "best_scored_accuracy": float(truth[order[0]]),
        "networks_better_than_best_scored": int((truth > truth[order[0]]).sum()),
        "networks_tied_at_top_score": ties_at_top,
        "top10_accuracies": [round(float(a), 2) for a in truth[order[:10]]],
        f"top50_networks_at_{GOOD}": int((truth[order[:50]] >= GOOD).sum()),
        "rank_of_best_network": int(np.flatnonzero(order == np.argmax(truth))[0]) + 1,
    }


def plot(curves: dict[str, np.ndarray], path: Path, optimum: float, networks: int) -> None:
    """Per fitness: the mean true accuracy of its top r networks (line) and each of its top 20 (dots)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for name, accuracy in curves.items():
        ranks = np.arange(1, len(accuracy) + 1)
        (line,) = ax.plot(ranks, np.cumsum(accuracy) / ranks, linewidth=1.2, label=name)
        ax.scatter(ranks[:20], accuracy[:20], s=9, color=line.get_color(), alpha=0.6)
    ax.axhline(GOOD, color="grey", linestyle=":", label=f"the issue's goal, {GOOD}%")
    ax.axhline(optimum, color="tab:green", linestyle="--", label=f"NB201's best network, {optimum:.2f}%")
    ax.set_xscale("log")
    ax.set_xlabel(f"rank by fitness among all {networks:,} connected NB201 networks (log scale)")
    ax.set_ylabel("true CIFAR-10 accuracy, %")
    ax.set_title("line: mean of a fitness's top r networks; dots: its network at rank r", fontsize=8)
    ax.set_ylim(92.0, optimum + 0.2)
    ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--top", type=int, default=5, help="best-scored networks per half judged")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--splits", type=int, default=200, help="further random splits, for stability")
    parser.add_argument("--resamples", type=int, default=2000, help="of the held-out bootstrap")
    args = parser.parse_args()
    results = Path(args.results)
    if not (results / "scores.csv").is_file() or not (results / "meta.json").is_file():
        parser.error(f"{results} lacks scores.csv or meta.json; run benchmarks/score_nb201_space.py first")
    scores = pd.read_csv(results / "scores.csv")
    meta = json.loads((results / "meta.json").read_text())
    proxies = list(meta["proxies"])
    reference = scores[scores["reference"]]
    space = scores[scores["canonical"]].reset_index(drop=True)
    truth = space[TRUTH].to_numpy(dtype=float)
    archs = space["arch"].to_numpy()
    names = candidates(proxies)
    values = {n: fitness_values(space, reference, n) for n in names}

    def choose(selection: np.ndarray) -> str:
        return max(names, key=lambda n: top_mean(values[n], truth, selection, args.top))

    rng = np.random.default_rng(args.split_seed)
    selection = np.zeros(len(space), dtype=bool)
    selection[rng.permutation(len(space))[: len(space) // 2]] = True
    on_selection = {n: top_mean(values[n], truth, selection, args.top) for n in names}
    chosen = max(names, key=on_selection.__getitem__)
    stability = Counter(
        choose(np.isin(np.arange(len(space)), rng.permutation(len(space))[: len(space) // 2]))
        for _ in range(args.splits)
    )
    reported = list(dict.fromkeys([chosen, RECOMMENDED, *proxies]))
    report = {
        "networks": len(space),
        f"networks_at_{GOOD}": int((truth >= GOOD).sum()),
        "best_network_accuracy": float(truth.max()),
        "criterion": f"mean true CIFAR-10 accuracy of the {args.top} best-scored networks of a half",
        "fitnesses_tried": len(names),
        "split_seed": args.split_seed,
        "chosen": chosen,
        "fitnesses": {
            n: {
                "selection_half": on_selection[n],
                "held_out_half": top_mean(values[n], truth, ~selection, args.top),
                "whole_space": whole_space(values[n], truth, archs),
            }
            for n in reported
        },
        "held_out_chosen_minus_recommended": {
            "difference": top_mean(values[chosen], truth, ~selection, args.top)
            - top_mean(values[RECOMMENDED], truth, ~selection, args.top),
            "bootstrap_95": paired_bootstrap(values[chosen], values[RECOMMENDED], truth, ~selection, args.top,
                                             args.resamples, args.split_seed),
            "resamples": args.resamples,
        },
        f"chosen_in_{args.splits}_other_splits": dict(stability.most_common(10)),
        "all_fitnesses_on_the_selection_half": {
            n: round(v, 3) for n, v in sorted(on_selection.items(), key=lambda item: -item[1])
        },
    }
    (results / "fitness_top.json").write_text(json.dumps(report, indent=2) + "\n")
    curves = {n: truth[np.argsort(-values[n], kind="stable")[:100]] for n in reported[:2]}
    curves.update({n: truth[np.argsort(-values[n], kind="stable")[:100]] for n in ("flops", "synflow")
                   if n in values})  # fmt: skip
    plot(curves, results / "fitness_top.png", float(truth.max()), len(space))
    brief = {k: v for k, v in report.items() if k != "all_fitnesses_on_the_selection_half"}
    print(json.dumps(brief, indent=2))


if __name__ == "__main__":
    main()
