"""Regenerate ``diswot/search_spaces/assets/nb201_order.npy`` from a NB201 table.

The table is any CSV whose row i (after the header) is benchmark index i with an
``ArchitectureString`` column, e.g. ``../shared/data/nb201/nats_tss_test_acc_200ep.csv``.
Usage: ``python scripts/make_nb201_order.py TABLE.csv``
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from diswot.search_spaces.nb201 import NB201Space


def main(table: str) -> None:
    space = NB201Space()
    with open(table, newline="") as f:
        codes = [space._code(space.decode(row["ArchitectureString"])) for row in csv.DictReader(f)]
    order = np.asarray(codes, dtype=np.uint16)
    if len(order) != space.size or len(set(codes)) != space.size:
        raise SystemExit(f"{table}: expected {space.size} distinct cells, got {len(set(codes))}")
    out = Path(__file__).resolve().parents[1] / "diswot/search_spaces/assets/nb201_order.npy"
    np.save(out, order)
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/nb201/nats_tss_test_acc_200ep.csv")
