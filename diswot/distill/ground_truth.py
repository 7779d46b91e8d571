"""``diswot bench kd-ground-truth``: train sampled students under one fixed recipe and record
their distilled (and optionally vanilla) test accuracy: the ground truth for
distillation-aware proxy correlation (``diswot bench proxies --ground-truth gt.csv``).

Students train in groups that share one teacher pass per batch. Finished architectures are
rows of the CSV (rewritten atomically after each group) and are skipped on a rerun; each
student also checkpoints every epoch, so a killed group resumes mid-training.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

from diswot.data import ImageDataset
from diswot.distill.api import distill
from diswot.distill.trainer import Recipe
from diswot.errors import DiswotError
from diswot.search_spaces import get_space

COLUMNS = ("arch", "kd_accuracy", "vanilla_accuracy", "params", "flops")


def _read_rows(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "arch" not in reader.fieldnames:
            raise DiswotError(f"{path} exists but is not a kd-ground-truth table (no 'arch' column)")
        return {row["arch"]: row for row in reader}


def _write_rows(path: Path, rows: dict[str, dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
        writer.writeheader()
        for row in rows.values():
            writer.writerow({k: row.get(k, "") for k in COLUMNS})
    tmp.replace(path)


def kd_ground_truth(
    space: str,
    teacher: str | Path,
    num_archs: int,
    out: str | Path,
    *,
    distillers: str = "kd",
    vanilla: bool = False,
    seed: int = 0,
    recipe: Recipe | None = None,
    dataset: str | ImageDataset = "sample",
    data_root: str | Path | None = None,
    train_subset: int | None = None,
    group_size: int = 4,
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Train ``num_archs`` students of ``space`` (sampled with ``seed``) and write ``out`` (CSV)."""
    if num_archs < 1 or group_size < 1:
        raise DiswotError("--num-archs and --group-size must be at least 1")
    out = Path(out)
    space_obj = get_space(space)
    rng = random.Random(seed)
    archs: list[str] = []
    limit = space_obj.size if space_obj.size is not None else num_archs
    while len(archs) < min(num_archs, limit):
        key = space_obj.encode(space_obj.sample(rng))
        if key not in archs:
            archs.append(key)
    rows: dict[str, dict[str, Any]] = dict(_read_rows(out))
    todo = [a for a in archs if a not in rows]
    runs_dir = out.with_name(out.stem + "_runs")
    for start in range(0, len(todo), group_size):
        group = todo[start : start + group_size]
        specs = [f"{space}:{a}" for a in group]
        results: dict[str, dict[str, Any]] = {a: {"arch": a} for a in group}
        passes = [(distillers, "kd_accuracy")] + ([("none", "vanilla_accuracy")] if vanilla else [])
        for spec_text, column in passes:
            # named by the group's first position in the sample: stable across reruns
            group_dir = runs_dir / f"{column.split('_')[0]}-from-{archs.index(group[0])}"
            summaries = distill(
                teacher, specs, spec_text, dataset=dataset, data_root=data_root, recipe=recipe,
                out=group_dir, resume=True, device=device, train_subset=train_subset, progress=progress,
            )  # fmt: skip
            for arch, summary in zip(group, summaries, strict=True):
                results[arch].update(
                    {column: summary["test_accuracy"], "params": summary["params"], "flops": summary["flops"]}
                )
        rows.update(results)
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_rows(out, rows)
    return {a: rows[a] for a in archs}
