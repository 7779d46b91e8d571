"""Record proxy-vs-accuracy rank correlation on NAS-Bench-201 (the issue-3 benchmark).

1,000 NB201 cells sampled with seed 0, one class-balanced batch of 64 images from the shared
CIFAR-10 training batch, against the 200-epoch test accuracy on CIFAR-10 (primary),
CIFAR-100 and ImageNet16-120. The teacher for the similarity proxies is a random-init
ResNet-56 (DisWOT's Gaussian-initialised mode). Scores are cached in the output folder's
SQLite file, so an interrupted run resumes where it stopped.

Usage: python benchmarks/proxies_nb201.py [--num-archs 1000] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from diswot.bench.proxy_bench import ProxyBenchConfig, format_table, run_proxy_bench

PROXIES = [
    "diswot", "diswot_semantic", "diswot_relational", "kd", "at", "fitnet", "rkd", "ickd",
    "grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot", "zen", "zico",
    "params", "flops",
    "nwot+synflow+zico", "log:nwot+synflow+zico", "log:nwot+synflow+zico+jacob_cov",
    # chosen on the first 500 cells only by benchmarks/select_aggregate.py (held-out rho there):
    # the greedy forward selection, the best exhaustive set of up to 5, and the previous choice
    "log:nwot+at+synflow+jacob_cov+diswot_relational+zico+flops+ickd",
    "log:ickd+synflow+jacob_cov+flops",
    "log:diswot_relational+synflow+jacob_cov+zico+flops",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-archs", type=int, default=1000)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated proxies to leave out (e.g. grasp, for a quicker pass)",
    )
    parser.add_argument(
        "--teacher", default="resnet56", help="model name (random init) or a trained checkpoint"
    )
    parser.add_argument("--only", default="", help="comma-separated proxies to run instead of the full list")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "nb201_proxies"))
    args = parser.parse_args()
    cfg = ProxyBenchConfig(
        space="nb201",
        ground_truth=f"{args.data}/nb201/nats_tss_test_acc_200ep.csv",
        gt_columns=[
            "CIFAR10TestAccuracy200Epochs",
            "CIFAR100TestAccuracy200Epochs",
            "ImageNetTestAccuracy200Epochs",
        ],
        proxies=[
            p for p in (args.only.split(",") if args.only else PROXIES) if p not in set(args.skip.split(","))
        ],
        out=args.out,
        num_archs=args.num_archs,
        seed=0,
        dataset="cifar10",
        data_root=args.data,
        batch_size=64,
        num_batches=1,
        teacher=args.teacher,
    )
    report = run_proxy_bench(cfg)
    print(format_table(report))
    print(json.dumps({k: v for k, v in report.items() if k != "proxies"}, indent=2))


if __name__ == "__main__":
    main()
