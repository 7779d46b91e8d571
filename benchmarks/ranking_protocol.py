"""Judge recorded proxy scores the way a budgeted search needs them (the issue-12 protocol).

Reads score tables that ``diswot bench proxies`` already wrote (one row per architecture: every
proxy's score, ``params``, ``flops`` and the true accuracies), so nothing is rescored, and
computes with :mod:`diswot.bench.metrics`: Kendall/Spearman/Pearson, the mean Kendall tau inside
4 equal-count FLOPs bands, the Spearman partial correlation given log-params, the truth and
regret of the top-1 pick and of the best of the top 5, nDCG@10, and bootstrap 95% intervals
(1,000 resamples of the architectures, seed 0) of every correlation.

Writes ``results/ranking_protocol/<table>.csv`` (one row per proxy x truth column),
``<table>.json`` (the rows plus the FLOPs bands) and ``within_budget_tau_nb201_cifar10.png``.

Usage: python benchmarks/ranking_protocol.py [--resamples 1000] [--bands 4]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from diswot.bench.metrics import (
    ProtocolConfig,
    bootstrap_samples,
    budget_bands,
    interval,
    noise_ceiling,
    protocol_report,
)

RESULTS = Path(__file__).parent / "results"
COSTS = ("params", "flops")  # the baselines a proxy must beat inside a budget
NB201_TRUTH = [
    "CIFAR10TestAccuracy200Epochs",
    "CIFAR100TestAccuracy200Epochs",
    "ImageNetTestAccuracy200Epochs",
]
TABLES = {  # name: (recorded scores, truth columns)
    "nb201": (RESULTS / "nb201_proxies" / "scores.csv", NB201_TRUTH),
    "resnet_depth_kd": (RESULTS / "kd_ground_truth" / "proxies_vs_kd" / "scores.csv", ["kd_accuracy"]),
    "autodistil_tiny_sst2_kd": (
        RESULTS / "kd_ground_truth" / "autodistil_tiny_proxies_vs_kd" / "scores.csv",
        ["kd_accuracy"],
    ),
    "autodistil_tiny_sst2_3ep_kd": (
        RESULTS / "kd_ground_truth" / "autodistil_tiny_sst2_3ep_proxies_vs_kd" / "scores.csv",
        ["kd_accuracy"],
    ),
}


# ground truths trained under several seeds: (recorded proxy scores, the table with seed columns)
SEEDED = {
    "resnet_depth_kd_2seeds": (
        RESULTS / "kd_ground_truth" / "proxies_vs_kd" / "scores.csv",
        RESULTS / "kd_ground_truth" / "resnet_depth_16_2seeds.csv",
    ),
}


def seeded_table(scores: Path, truth: Path) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Recorded proxy scores joined with a multi-seed ground truth (its mean as ``kd_accuracy``),
    and the per-seed columns."""
    proxies = pd.read_csv(scores, dtype={"arch": str}).drop(columns=["kd_accuracy"], errors="ignore")
    table = pd.read_csv(truth, dtype={"arch": str})
    seeds = [c for c in table.columns if c.startswith("kd_accuracy_seed")]
    merged = proxies.merge(table[["arch", "kd_accuracy", *seeds]], on="arch", validate="one_to_one")
    return merged, {c: merged[c].to_numpy(float) for c in seeds}


def evaluate(
    table: pd.DataFrame, source: Path, truth_columns: list[str], cfg: ProtocolConfig
) -> tuple[pd.DataFrame, dict]:
    """The protocol frame of one score table (read from ``source``), and how its FLOPs bands fell."""
    proxies = [c for c in table.columns if c not in {"arch", *truth_columns} and "_seed" not in c]
    flops, params = table["flops"].to_numpy(float), table["params"].to_numpy(float)
    frame = protocol_report(
        {p: table[p].to_numpy(float) for p in proxies},
        {c: table[c].to_numpy(float) for c in truth_columns},
        flops,
        params,
        cfg,
    )
    bands = budget_bands(flops, cfg.budget_bands)
    versus = _versus_cost(table, proxies, truth_columns, bands, cfg)
    frame = frame.merge(versus, on=["proxy", "ground_truth"])
    info = {
        "scores": str(source.relative_to(RESULTS.parent.parent)),
        "num_archs": len(table),
        "band_flops": [
            [float(flops[bands == b].min()), float(flops[bands == b].max())] for b in np.unique(bands)
        ],
        "band_sizes": np.bincount(bands).tolist(),
    }
    return frame, info


def _versus_cost(table, proxies, truth_columns, bands, cfg: ProtocolConfig) -> pd.DataFrame:
    """Within-budget tau minus that of ``params`` and of ``flops``, with paired bootstrap
    intervals (the same resamples for both sides, so the interval is of the difference itself,
    which two overlapping intervals cannot show)."""
    rows = []
    for column in truth_columns:
        y = table[column].to_numpy(float)
        drawn = {
            proxy: bootstrap_samples(
                table[proxy].to_numpy(float), y, bands=bands, resamples=cfg.resamples, seed=cfg.seed
            )["within_budget_kendall"]
            for proxy in proxies
        }
        for proxy in proxies:
            row = {"proxy": proxy, "ground_truth": column}
            for cost in COSTS:
                low, high = interval(drawn[proxy] - drawn[cost], cfg.confidence)
                row[f"wb_tau_minus_{cost}_lo"], row[f"wb_tau_minus_{cost}_hi"] = low, high
            rows.append(row)
    return pd.DataFrame(rows)


def plot(frame: pd.DataFrame, column: str, path: Path) -> None:
    """Within-budget Kendall tau with its 95% interval, one bar per proxy, best first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = frame[frame["ground_truth"] == column].sort_values("within_budget_kendall")
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(rows) + 1.2), dpi=110)
    y = np.arange(len(rows))
    tau = rows["within_budget_kendall"].to_numpy()
    error = np.vstack([tau - rows["within_budget_kendall_lo"], rows["within_budget_kendall_hi"] - tau])
    baseline = rows["proxy"].isin(["params", "flops"]).to_numpy()
    ax.barh(y, tau, xerr=error, color=np.where(baseline, "tab:gray", "tab:blue"), capsize=2)
    for cost in ("params", "flops"):
        if cost in set(rows["proxy"]):
            ax.axvline(float(rows.loc[rows["proxy"] == cost, "within_budget_kendall"].iloc[0]),
                       color="tab:gray", lw=0.8, ls="--")  # fmt: skip
    ax.set_yticks(y, rows["proxy"], fontsize=6)
    ax.set_xlabel("mean Kendall tau in 4 FLOPs bands (95% bootstrap CI; dashed: params/flops)", fontsize=8)
    ax.set_title(f"NB201, {len(rows)} proxies vs {column}: ranking within a FLOPs budget", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(frame: pd.DataFrame, column: str) -> str:
    """The RESULTS.md table of one truth column, best within-budget tau first."""
    rows = frame[frame["ground_truth"] == column].sort_values("within_budget_kendall", ascending=False)
    lines = [
        "| proxy | Spearman [95% CI] | within-budget tau [95% CI] | partial rho given log-params "
        "| top-1 regret | top-5 regret | nDCG@10 "
        "| beats params and flops within budget? (paired 95% CI of the tau difference) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in rows.iterrows():
        lines.append(
            f"| `{r.proxy}` | {r.spearman:.3f} [{r.spearman_lo:.3f}, {r.spearman_hi:.3f}] "
            f"| {r.within_budget_kendall:.3f} "
            f"[{r.within_budget_kendall_lo:.3f}, {r.within_budget_kendall_hi:.3f}] "
            f"| {r.partial_spearman:.3f} [{r.partial_spearman_lo:.3f}, {r.partial_spearman_hi:.3f}] "
            f"| {r.top1_regret:.2f} | {r.top5_regret:.2f} | {r.ndcg_at_10:.3f} | {_verdict(r)} |"
        )
    return "\n".join(lines)


def _verdict(r) -> str:
    """Whether the paired intervals of within-budget tau minus params' and flops' are above 0."""
    if r.proxy in COSTS:
        return "(baseline)"
    lows = [getattr(r, f"wb_tau_minus_{c}_lo") for c in COSTS]
    highs = [getattr(r, f"wb_tau_minus_{c}_hi") for c in COSTS]
    span = ", ".join(f"{c} [{lo:+.3f}, {hi:+.3f}]" for c, lo, hi in zip(COSTS, lows, highs, strict=True))
    if min(lows) > 0:
        return f"yes: {span}"
    return f"no (worse): {span}" if max(highs) < 0 else f"no: {span}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--bands", type=int, default=4)
    parser.add_argument("--out", default=str(RESULTS / "ranking_protocol"))
    args = parser.parse_args()
    cfg = ProtocolConfig(budget_bands=args.bands, resamples=args.resamples, seed=0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, (path, truth_columns) in TABLES.items():
        frame, info = evaluate(pd.read_csv(path), path, truth_columns, cfg)
        frame.to_csv(out / f"{name}.csv", index=False, float_format="%.4f")
        payload = {**info, "protocol": cfg.__dict__, "rows": json.loads(frame.to_json(orient="records"))}
        (out / f"{name}.json").write_text(json.dumps(payload, indent=1))
        print(f"## {name} ({info['num_archs']} archs, bands {info['band_sizes']})")
        for column in truth_columns:
            print(f"\n### {column}\n\n{markdown(frame, column)}\n")
        if name == "nb201":
            plot(frame, NB201_TRUTH[0], out / "within_budget_tau_nb201_cifar10.png")
    for name, (scores, truth) in SEEDED.items():
        if not truth.exists():
            print(f"## {name}: {truth} not recorded yet")
            continue
        table, seeds = seeded_table(scores, truth)
        frame, info = evaluate(table, truth, ["kd_accuracy"], cfg)
        ceiling = noise_ceiling(seeds, table["flops"].to_numpy(float), cfg)
        frame.to_csv(out / f"{name}.csv", index=False, float_format="%.4f")
        payload = {**info, "noise_ceiling": ceiling, "protocol": cfg.__dict__,
                   "rows": json.loads(frame.to_json(orient="records"))}  # fmt: skip
        (out / f"{name}.json").write_text(json.dumps(payload, indent=1, default=float))
        print(f"## {name} ({info['num_archs']} archs, bands {info['band_sizes']})\n")
        print(f"noise ceiling (seed to seed): {json.dumps(ceiling, default=float)}\n")
        print(f"{markdown(frame, 'kd_accuracy')}\n")


if __name__ == "__main__":
    main()
