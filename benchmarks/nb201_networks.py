"""How many different networks the 15,625 NAS-Bench-201 cells are, and what deduplicating them saves.

Partitions every cell with ``diswot.search_spaces.nb201_graph`` (timed: the cost a search pays
once per process), compares the partition with the benchmark table's ``UniqueString`` column,
optionally (``--verify``) checks the canonical keys against exact networkx isomorphism on every
cell, and counts, for uniform random proposals as a random search makes them, how many would be
exact repeats, aliases of an already-proposed network (scored once by the search) or
disconnected (never scored). Writes ``results/nb201_networks.json``.

Usage: python benchmarks/nb201_networks.py [--table CSV] [--verify]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import time
import warnings
from pathlib import Path

import networkx as nx
import pandas as pd

from diswot.search_spaces import get_space
from diswot.search_spaces import nb201_graph as graphs

HERE = Path(__file__).resolve().parent


def _timed_partition(repeats: int) -> tuple[graphs.NetworkClasses, list[float]]:
    times = []
    for _ in range(repeats):
        graphs.all_network_classes.cache_clear()
        start = time.perf_counter()
        classes = graphs.all_network_classes()
        times.append(time.perf_counter() - start)
    return classes, times


def _verify(classes: graphs.NetworkClasses) -> dict[str, object]:
    """Members of a class are isomorphic to its first member; classes have distinct WL hashes."""
    start = time.perf_counter()
    members: dict[str, list[tuple[str, ...]]] = {}
    for arch, key in classes.key.items():
        members.setdefault(key, []).append(arch)
    not_isomorphic, hashes = 0, set()
    for key, group in members.items():
        if key == graphs.DISCONNECTED_KEY:
            continue
        first = group[0]
        not_isomorphic += sum(not graphs.same_network(first, other) for other in group[1:])
        graph = graphs.network_graph(first)
        for _, _, d in graph.edges(data=True):
            d["w"] = str(d["weight"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # networkx notes that directed hashes changed in 3.5
            hashes.add(nx.weisfeiler_lehman_graph_hash(graph, node_attr="label", edge_attr="w"))
    connected = len(members) - (graphs.DISCONNECTED_KEY in members)
    return {"members_not_isomorphic_to_their_class": not_isomorphic,
            "classes_with_distinct_wl_hashes": len(hashes), "connected_classes": connected,
            "wall_s": time.perf_counter() - start}  # fmt: skip


def _random_proposals(classes: graphs.NetworkClasses, n: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    space = get_space("nb201")
    seen_arch, seen_net = set(), set()
    counts = {"proposals": n, "exact_repeats": 0, "aliases": 0, "disconnected": 0, "scored": 0}
    for _ in range(n):
        arch = space.sample(rng)
        key = classes.key[arch]
        if key == graphs.DISCONNECTED_KEY:
            counts["disconnected"] += 1
        elif arch in seen_arch:
            counts["exact_repeats"] += 1
        elif key in seen_net:
            counts["aliases"] += 1
        else:
            counts["scored"] += 1
        seen_arch.add(arch)
        seen_net.add(key)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--table", default=str(HERE.parents[1] / "shared" / "data" / "nb201" /
                                               "nats_tss_test_acc_200ep.csv"))  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--verify", action="store_true", help="check keys against isomorphism (~20 s)")
    args = parser.parse_args()

    classes, times = _timed_partition(args.repeats)
    space = get_space("nb201")
    cells = list(itertools.product(graphs.OPS, repeat=len(graphs.EDGES)))
    start = time.perf_counter()
    for arch in cells:
        space.canonical(arch)
    lookup_us = (time.perf_counter() - start) / len(cells) * 1e6
    keys = set(classes.key.values())
    report: dict[str, object] = {
        "cells": len(cells), "networks": classes.num_classes, "disconnected_cells": classes.num_disconnected,
        "connected_networks": classes.num_classes - 1,
        "connected_networks_if_weight_sharing_is_ignored": len({_unshared(k) for k in keys}) - 1,
        "partition_all_cells_s": {"min": min(times), "median": statistics.median(times)},
        "space_canonical_lookup_us": lookup_us,
    }  # fmt: skip

    table_path = Path(args.table)
    if table_path.exists():
        table = pd.read_csv(table_path, usecols=["ArchitectureString", "UniqueString"])
        archs = [space.decode(s) for s in table["ArchitectureString"]]
        table["key"] = [classes.key[a] for a in archs]
        connected = table[table["key"] != graphs.DISCONNECTED_KEY]
        report["benchmark"] = {
            "unique_strings": int(table["UniqueString"].nunique()),
            "unique_strings_of_disconnected_cells": int(
                table.loc[table["key"] == graphs.DISCONNECTED_KEY, "UniqueString"].nunique()),
            "reproduced_exactly": [graphs.benchmark_unique_string(a) for a in archs]
            == list(table["UniqueString"]),
            "unique_strings_holding_several_networks": int(
                (connected.groupby("UniqueString")["key"].nunique() > 1).sum()),
            "networks_spread_over_several_unique_strings": int(
                (connected.groupby("key")["UniqueString"].nunique() > 1).sum()),
        }  # fmt: skip
    if args.verify:
        report["verify"] = _verify(classes)
    report["random_proposals"] = [_random_proposals(classes, n, seed=0) for n in (500, 1000, 5000)]
    (HERE / "results" / "nb201_networks.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def _unshared(key: str) -> str:
    """The key without the marks that tell which convolutions share weights."""
    return re.sub(r"#\d", "", key)


if __name__ == "__main__":
    main()
