"""Multiply-adds from two diswot trees (e.g. forward hooks on main vs FlopCounterMode here), compared.

Every architecture is costed by each tree in its own process (``PYTHONPATH=<tree>``), so the
two counters never share an import. Counted: the NB201 cells recorded in
``results/nb201_space/scores.csv`` (whose ``flops`` column the old counter wrote; the new count
is compared with it too), (every ``--every``-th of them and) of the three AutoDistil sub-spaces, the
ResNet-depth space and every registered model.
Timing alternates the trees round by round on a few architectures: ``space.cost`` on a cold
cache (build + count), the count alone on a built network, and a cached ``space.cost``.

Usage: python benchmarks/flop_counter_check.py --old /tmp/snap-main [--new .] [--every 1]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
RECORDED = RESULTS / "nb201_space" / "scores.csv"
TRANSFORMER_SPACES = ("autodistil-tiny", "autodistil-small", "autodistil-base")
ZOO = "zoo"  # the registered models, in place of a space name
TIMED = {
    "nb201": [
        "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|nor_conv_1x1~2|",
    ],
    "autodistil-tiny": ["L4-H128-A7-R2.0", "L7-H224-A10-R3.5"],
    "autodistil-base": ["L9-H544-A9-R2.5"],
}


def nb201_cells() -> list[str]:
    with open(RECORDED, newline="") as f:
        return [row["arch"] for row in csv.DictReader(f)]


def count(jobs: list[tuple[str, str]], out: Path) -> None:
    """Worker: params and multiply-adds of each (space, arch), one CSV row each."""
    import torch

    import diswot
    from diswot.models import TransformerClassifier, profile

    torch.set_num_threads(1)
    spaces = {name: diswot.get_space(name) for name in {s for s, _ in jobs} if name != ZOO}
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["space", "arch", "params", "flops"])
        for space_name, key in jobs:
            if space_name == ZOO:  # a registered model, on a CIFAR image or 128 tokens
                model = diswot.build_model(key)
                tokens = isinstance(model, TransformerClassifier)
                example = torch.zeros(1, 128, dtype=torch.long) if tokens else torch.zeros(1, 3, 32, 32)
                cost = profile(model, example)
            else:
                cost = spaces[space_name].cost(spaces[space_name].decode(key))
            writer.writerow([space_name, key, cost.params, cost.flops])


def time_costs(out: Path, repeats: int) -> None:
    """Worker: milliseconds of a cold ``space.cost``, of the count alone and of a cached ``space.cost``."""
    import torch

    import diswot
    from diswot.models import profile

    torch.set_num_threads(1)
    rows = []
    for space_name, keys in TIMED.items():
        space = diswot.get_space(space_name)
        for key in keys:
            arch = space.decode(key)
            model = space.build(arch, num_classes=space.cost_num_classes)
            cold, counting, cached = [], [], []
            for _ in range(repeats):
                space._cost_cache.clear()  # a cold cache: build + count, as the first call pays
                started = time.perf_counter()
                space.cost(arch)
                cold.append((time.perf_counter() - started) * 1e3)
                started = time.perf_counter()
                profile(model, space.example_input(1))
                counting.append((time.perf_counter() - started) * 1e3)
                started = time.perf_counter()
                space.cost(arch)
                cached.append((time.perf_counter() - started) * 1e3)
            medians = {"cold_ms": cold, "count_ms": counting, "cached_ms": cached}
            row = {k: statistics.median(v) for k, v in medians.items()}
            rows.append({"space": space_name, "arch": key, **row})
    out.write_text(json.dumps(rows))


def run_worker(tree: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, __file__, *args], env=env, check=True)


def read_counts(path: Path) -> dict[tuple[str, str], tuple[int, int]]:
    with open(path, newline="") as f:
        return {(r["space"], r["arch"]): (int(r["params"]), int(r["flops"])) for r in csv.DictReader(f)}


def compare(old: dict, new: dict) -> dict[str, dict]:
    by_space: dict[str, dict] = {}
    for key, (params, flops) in old.items():
        entry = by_space.setdefault(key[0], {"archs": 0, "flops_equal": 0, "params_equal": 0,
                                             "max_rel_diff": 0.0, "differing": []})  # fmt: skip
        new_params, new_flops = new[key]
        entry["archs"] += 1
        entry["params_equal"] += new_params == params
        entry["flops_equal"] += new_flops == flops
        if new_flops != flops:
            entry["max_rel_diff"] = max(entry["max_rel_diff"], abs(new_flops - flops) / flops)
            if len(entry["differing"]) < 5:
                entry["differing"].append({"arch": key[1], "old": flops, "new": new_flops})
    return by_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="tree of the old counter (e.g. a worktree of main)")
    parser.add_argument("--new", type=Path, default=HERE.parent)
    parser.add_argument("--every", type=int, default=1, help="every n-th NB201/AutoDistil arch")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds, trees alternating")
    parser.add_argument("--out", type=Path, default=RESULTS / "flop_counter_check.json")
    parser.add_argument("--count-worker", nargs=2, metavar=("JOBS", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--time-worker", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count_worker:
        jobs = [tuple(line.split("\t")) for line in Path(args.count_worker[0]).read_text().splitlines()]
        return count(jobs, Path(args.count_worker[1]))
    if args.time_worker:
        return time_costs(Path(args.time_worker), repeats=5)
    if args.old is None:
        parser.error("--old TREE is required")

    import diswot  # only to enumerate the Transformer spaces' keys

    jobs = [("nb201", key) for i, key in enumerate(nb201_cells()) if i % args.every == 0]
    for name in TRANSFORMER_SPACES:
        space = diswot.get_space(name)
        jobs += [(name, space.encode(a)) for i, a in enumerate(space.enumerate()) if i % args.every == 0]
    jobs += [("resnet-depth", diswot.get_space("resnet-depth").encode(a))
             for a in diswot.get_space("resnet-depth").enumerate()]  # fmt: skip
    jobs += [(ZOO, name) for name in diswot.list_models()]
    with tempfile.TemporaryDirectory() as tmp:
        job_file = Path(tmp) / "jobs.tsv"
        job_file.write_text("\n".join("\t".join(j) for j in jobs))
        counts, wall = {}, {}
        for label, tree in (("old", args.old), ("new", args.new)):
            started = time.perf_counter()
            run_worker(tree, "--count-worker", str(job_file), str(Path(tmp) / f"{label}.csv"))
            wall[label] = time.perf_counter() - started
            counts[label] = read_counts(Path(tmp) / f"{label}.csv")
        timings: dict[str, list[list[dict]]] = {"old": [], "new": []}
        for _ in range(args.rounds):
            for label, tree in (("old", args.old), ("new", args.new)):
                run_worker(tree, "--time-worker", str(Path(tmp) / "t.json"))
                timings[label].append(json.loads((Path(tmp) / "t.json").read_text()))
    with open(RECORDED, newline="") as f:
        recorded = {row["arch"]: int(float(row["flops"])) for row in csv.DictReader(f)}
    new_nb201 = {k: v[1] for (s, k), v in counts["new"].items() if s == "nb201"}
    recorded_equal = sum(new_nb201[k] == recorded[k] for k in new_nb201)
    timing = []
    for i, row in enumerate(timings["old"][0]):
        entry = {"space": row["space"], "arch": row["arch"]}
        for field in ("cold_ms", "count_ms", "cached_ms"):
            for label in ("old", "new"):
                entry[f"{label}_{field}"] = statistics.median(t[i][field] for t in timings[label])
            entry[f"{field}_ratio_new_over_old"] = entry[f"new_{field}"] / entry[f"old_{field}"]
        timing.append(entry)
    summary = {
        "command": f"python benchmarks/flop_counter_check.py --old {args.old} --every {args.every}",
        "by_space": compare(counts["old"], counts["new"]),
        "nb201_recorded_flops_equal": f"{recorded_equal}/{len(new_nb201)}",
        "count_wall_s": wall,
        "timing_median_of_rounds": timing,
    }
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
