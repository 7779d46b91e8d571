"""``diswot bench kd-ground-truth``: train students under one fixed recipe and record their
distilled (and optionally vanilla) test accuracy, under one or several training seeds: the ground
truth for distillation-aware proxy correlation (``diswot bench proxies --ground-truth gt.csv``).

Columns: ``arch``, ``kd_accuracy`` and ``vanilla_accuracy`` (means over the seeds), one
``kd_accuracy_seed{S}`` / ``vanilla_accuracy_seed{S}`` per seed (so the table's own seed-to-seed
noise can be measured), ``params`` and ``flops``.

Students of one seed train in groups that share one teacher pass per batch; groups run one after
another, or in ``workers`` processes at once (several per GPU keep it busy, ``gpus`` spreads them
over devices). The CSV is rewritten atomically after each group, finished ``(arch, seed)`` pairs
are skipped on a rerun, and each student checkpoints every epoch, so a killed group resumes
mid-training.
"""

from __future__ import annotations

import multiprocessing
import os
import random
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from diswot.atomic import write_with
from diswot.data import ImageDataset
from diswot.distill.api import distill
from diswot.distill.trainer import Recipe, check_device
from diswot.errors import DataError, DiswotError
from diswot.paths import check_out_name, make_dir, path_exists
from diswot.search_spaces import get_space

COLUMNS = ("arch", "kd_accuracy", "vanilla_accuracy", "params", "flops")
MEASURES = ("kd_accuracy", "vanilla_accuracy")


def seed_column(measure: str, seed: int) -> str:
    """The per-seed column of ``measure`` (``kd_accuracy_seed1``)."""
    return f"{measure}_seed{seed}"


@dataclass(frozen=True)
class GroundTruthConfig:
    """What ``kd_ground_truth`` trains and how.

    Students are ``archs`` when given, every architecture of a finite space with ``all_archs``,
    else ``num_archs`` sampled with ``sample_seed``. Each trains once per seed of ``seeds``
    (the recipe's seed: initialisation, batch order, augmentation).
    """

    space: str
    teacher: str | Path
    out: str | Path
    archs: Sequence[str] | None = None
    all_archs: bool = False
    num_archs: int = 16
    sample_seed: int = 0
    seeds: Sequence[int] = (0,)
    distillers: str = "kd"
    vanilla: bool = False
    recipe: Recipe = field(default_factory=Recipe)
    dataset: str | ImageDataset = "sample"
    data_root: str | Path | None = None
    train_subset: int | None = None
    group_size: int = 4
    device: str = "cpu"
    workers: int = 1
    gpus: Sequence[int] | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.num_archs < 1 or self.group_size < 1:
            raise DiswotError("--num-archs and --group-size must be at least 1")
        if self.workers < 1:
            raise DiswotError(f"--workers must be at least 1, got {self.workers}")
        if not self.seeds:
            raise DiswotError("--seeds needs at least one seed, e.g. --seeds 0,1")
        if len(set(self.seeds)) != len(self.seeds):
            raise DiswotError(f"--seeds repeats a seed: {list(self.seeds)}")
        if self.archs is not None and self.all_archs:
            raise DiswotError("give either --archs or --all, not both")
        if self.gpus is not None and not self.gpus:
            raise DiswotError("--gpus needs at least one GPU index, e.g. --gpus 0,1")


def parse_archs(text: str) -> list[str]:
    """``--archs``: a file with one architecture per line (``#`` comments), or a comma list."""
    path = Path(text)
    if path.is_file():
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise DataError(f"--archs file {path} is not UTF-8 text: {exc}") from exc
        archs = [line.split("#", 1)[0].strip() for line in lines]
    else:
        archs = [a.strip() for a in text.split(",")]
    archs = [a for a in archs if a]
    if not archs:
        raise DiswotError(f"--archs {text!r} names no architecture (a file, or a comma list a,b,c)")
    return archs


def choose_archs(cfg: GroundTruthConfig) -> list[str]:
    """The students' keys, in order, validated against the space (duplicates dropped)."""
    space = get_space(cfg.space)
    if cfg.archs is not None:
        # decode + encode validates each key and writes it the space's way
        keys = [space.encode(space.decode(a)) for a in cfg.archs]
        return list(dict.fromkeys(keys))
    if cfg.all_archs:
        if space.size is None:
            raise DiswotError(f"--all needs a finite space; {cfg.space} is not (use --num-archs)")
        return [space.encode(a) for a in space.enumerate()]
    rng = random.Random(cfg.sample_seed)
    archs: list[str] = []
    limit = min(cfg.num_archs, space.size) if space.size is not None else cfg.num_archs
    while len(archs) < limit:
        key = space.encode(space.sample(rng))
        if key not in archs:
            archs.append(key)
    return archs


def read_table(path: Path, legacy_seed: int = 0) -> pd.DataFrame:
    """A ground-truth table written by this command (empty when ``path`` does not exist).

    A table from before per-seed columns (``kd_accuracy`` alone) was trained with the sampling
    seed, ``legacy_seed``; its values are read as that seed's.
    """
    if not path_exists(path):
        return pd.DataFrame(columns=["arch"])
    try:
        table = pd.read_csv(path, dtype={"arch": str})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path} exists but cannot be read as a CSV table ({exc}); move it away") from exc
    if "arch" not in table.columns:
        raise DataError(f"{path} exists but is not a kd-ground-truth table (no 'arch' column)")
    if table["arch"].duplicated().any():
        raise DataError(f"{path} lists an architecture twice; it was not written by this command")
    for measure in MEASURES:
        legacy = measure in table and table[measure].notna().any()
        if legacy and not any(c.startswith(measure + "_seed") for c in table.columns):
            table[seed_column(measure, legacy_seed)] = table[measure]
    return table.set_index("arch", drop=False)


def _finished(table: pd.DataFrame, arch: str, column: str) -> bool:
    return arch in table.index and column in table.columns and pd.notna(table.at[arch, column])


def _write_table(path: Path, table: pd.DataFrame, archs: list[str], seeds: Sequence[int]) -> None:
    """Recompute the seed means and write ``path`` atomically (order: the students' order)."""
    table = table.copy()
    for measure in MEASURES:
        columns = [c for c in table.columns if c.startswith(measure + "_seed")]
        if columns:
            table[measure] = table[columns].astype(float).mean(axis=1, skipna=False)
    order = [a for a in archs if a in table.index] + [a for a in table.index if a not in archs]
    seed_columns = [seed_column(m, s) for m in MEASURES for s in sorted(seeds) if seed_column(m, s) in table]
    columns = list(COLUMNS) + seed_columns
    columns += [c for c in table.columns if c not in columns]
    table = table.reindex(order).reindex(columns=columns)
    for count in ("params", "flops"):
        table[count] = table[count].astype("Int64")  # whole numbers, not 217434.0
    write_with(path, lambda tmp: table.to_csv(tmp, index=False))


@dataclass(frozen=True)
class _Group:
    """Students of one seed and one distiller setting that train together."""

    archs: tuple[str, ...]
    seed: int
    distillers: str
    measure: str
    run_dir: Path


def _train_group(cfg: GroundTruthConfig, group: _Group, device: str, progress: bool) -> list[dict[str, Any]]:
    recipe = replace(cfg.recipe, seed=group.seed)
    specs = [f"{cfg.space}:{a}" for a in group.archs]
    return distill(
        cfg.teacher, specs, group.distillers, dataset=cfg.dataset, data_root=cfg.data_root, recipe=recipe,
        out=group.run_dir, resume=True, device=device, train_subset=cfg.train_subset, progress=progress,
    )  # fmt: skip


def _worker_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def kd_ground_truth(cfg: GroundTruthConfig) -> pd.DataFrame:
    """Train every (student, seed) not yet in ``cfg.out`` and return the table of ``cfg``'s students."""
    out = Path(cfg.out)
    check_out_name(out)
    device = cfg.device
    if cfg.gpus is None:
        check_device(device)
    else:
        for index in cfg.gpus:
            check_device(f"cuda:{index}")
    archs = choose_archs(cfg)
    table = read_table(out, cfg.sample_seed)
    runs_dir = out.with_name(out.stem + "_runs")
    passes = [(cfg.distillers, "kd_accuracy")] + ([("none", "vanilla_accuracy")] if cfg.vanilla else [])
    groups: list[_Group] = []
    for seed in cfg.seeds:
        for distillers, measure in passes:
            todo = [a for a in archs if not _finished(table, a, seed_column(measure, seed))]
            for start in range(0, len(todo), cfg.group_size):
                members = tuple(todo[start : start + cfg.group_size])
                # named by the group's first position among the students: stable across reruns
                name = f"{measure.split('_')[0]}-seed{seed}-from-{archs.index(members[0])}"
                groups.append(_Group(members, seed, distillers, measure, runs_dir / name))
    make_dir(out.parent)

    def record(group: _Group, summaries: list[dict[str, Any]]) -> None:
        nonlocal table
        for arch, summary in zip(group.archs, summaries, strict=True):
            if arch not in table.index:
                table.loc[arch, "arch"] = arch
            table.loc[arch, seed_column(group.measure, group.seed)] = summary["test_accuracy"]
            table.loc[arch, "params"] = summary["params"]
            table.loc[arch, "flops"] = summary["flops"]
        _write_table(out, table, archs, cfg.seeds)

    if cfg.workers == 1 or len(groups) <= 1:
        for group in groups:
            record(group, _train_group(cfg, group, device, cfg.progress))
    else:
        _run_in_workers(cfg, groups, record)
    if not groups and len(table):
        _write_table(out, table, archs, cfg.seeds)  # a legacy table gets its per-seed columns
    final = read_table(out, cfg.sample_seed)
    return final.loc[[a for a in archs if a in final.index]].reset_index(drop=True)


def _run_in_workers(cfg: GroundTruthConfig, groups: list[_Group], record: Any) -> None:
    """Groups in ``cfg.workers`` processes; worker ``i`` of a group uses GPU ``gpus[i % n]``."""
    from tqdm import tqdm

    devices = [f"cuda:{g}" for g in cfg.gpus] if cfg.gpus else [cfg.device]
    threads = max(1, (os.cpu_count() or 1) // cfg.workers)
    context = multiprocessing.get_context("spawn")  # CUDA cannot be used in forked children
    bar = tqdm(total=len(groups), desc=f"ground truth ({cfg.workers} workers)", unit="group",
               disable=not cfg.progress)  # fmt: skip
    with ProcessPoolExecutor(cfg.workers, mp_context=context, initializer=_worker_init,
                             initargs=(threads,)) as pool:  # fmt: skip
        futures = {
            pool.submit(_train_group, cfg, group, devices[i % len(devices)], False): group
            for i, group in enumerate(groups)
        }
        for future in as_completed(futures):
            record(futures[future], future.result())
            bar.update(1)
    bar.close()
