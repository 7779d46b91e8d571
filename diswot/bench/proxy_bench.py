"""``diswot bench proxies``: rank correlation of proxies with ground-truth accuracy."""

from __future__ import annotations

import csv
import json
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diswot.bench.cache import ScoreCache
from diswot.bench.correlation import correlations
from diswot.bench.ground_truth import read_ground_truth
from diswot.data import load_dataset
from diswot.errors import DataError, DiswotError
from diswot.models import load_teacher
from diswot.models.huggingface import teacher_tokenizer
from diswot.proxies import ProxyScorer, TeacherContext, resolve_proxies
from diswot.proxies.scoring import data_fingerprint, scoring_batches, teacher_fingerprint
from diswot.search.calibration import DEFAULT_REFERENCE_SIZE, calibrate, check_reference_size
from diswot.search.executors import Evaluator, SerialExecutor
from diswot.search_spaces import get_space


@dataclass
class ProxyBenchConfig:
    space: str
    ground_truth: str
    proxies: list[str]
    out: str
    gt_columns: list[str] | None = None
    num_archs: int | None = 100  # None: every architecture in the ground truth
    seed: int = 0
    dataset: str = "sample"
    data_root: str | None = None
    batch_size: int = 64
    num_batches: int = 1
    teacher: str = "resnet56"
    teacher_model: str | None = None
    device: str = "cpu"
    cache: str | None = None
    plots: bool = True
    progress: bool = True
    #: architectures in the reference sample of calibrated aggregates (``cal:log:a+b``)
    reference_size: int = DEFAULT_REFERENCE_SIZE


def _choose_archs(cfg: ProxyBenchConfig, space, truth_keys: set[str]) -> tuple[list[str], int]:
    """Sampled architecture keys that have ground truth, and how many sampled ones did not."""
    rng = random.Random(cfg.seed)
    if space.size is not None:
        universe = sorted(space.encode(a) for a in space.enumerate())
        chosen = (
            universe
            if cfg.num_archs is None or cfg.num_archs >= len(universe)
            else rng.sample(universe, cfg.num_archs)
        )
    else:
        if cfg.num_archs is None:
            raise DiswotError(f"space {cfg.space!r} is unbounded; give --num-archs")
        seen: dict[str, None] = {}
        while len(seen) < cfg.num_archs:
            seen[space.encode(space.sample(rng))] = None
        chosen = list(seen)
    kept = [k for k in chosen if k in truth_keys]
    if len(kept) < 2:
        raise DataError(
            f"only {len(kept)} of {len(chosen)} sampled architectures appear in the ground truth "
            f"{cfg.ground_truth}; is it a table for space {cfg.space!r}?"
        )
    return kept, len(chosen) - len(kept)


def run_proxy_bench(cfg: ProxyBenchConfig) -> dict[str, object]:
    """Score sampled architectures, correlate with ground truth, write JSON, CSV and plots."""
    from tqdm import tqdm

    space = get_space(cfg.space)
    truth = read_ground_truth(cfg.ground_truth, space, cfg.gt_columns)
    specs, aggregates = resolve_proxies(cfg.proxies)
    names = [s.name for s in specs]
    if any(a.calibrated for a in aggregates):
        check_reference_size(cfg.reference_size)
    archs, skipped = _choose_archs(cfg, space, truth.keys())
    data = load_dataset(cfg.dataset, cfg.data_root, tokenizer=teacher_tokenizer(cfg.teacher))
    batches = scoring_batches(data, cfg.batch_size, cfg.num_batches, cfg.seed, cfg.device)
    contexts: list[TeacherContext | None] = [None] * len(batches)
    if any(s.needs_teacher for s in specs):
        teacher = load_teacher(
            cfg.teacher, num_classes=data.num_classes, model=cfg.teacher_model, seed=cfg.seed
        )
        teacher.model.to(cfg.device)
        contexts = [TeacherContext(teacher.model, b, pretrained=teacher.pretrained) for b in batches]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data_key = data_fingerprint(data, cfg.seed, cfg.batch_size, cfg.num_batches)
    teacher_key = teacher_fingerprint(cfg.teacher, cfg.seed)
    cache = ScoreCache(cfg.cache or out / "scores.sqlite", cfg.space, data_key, teacher_key)
    scorers: dict[frozenset[str], list[ProxyScorer]] = {}
    values: dict[str, list[float]] = {n: [] for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    try:
        for key in tqdm(archs, desc=f"scoring {cfg.space}", disable=not cfg.progress):
            known = cache.get(key, names)
            missing = frozenset(n for n in names if n not in known)
            if missing:
                if missing not in scorers:
                    ordered = [n for n in names if n in missing]
                    scorers[missing] = [
                        ProxyScorer(ordered, b, c, cfg.seed) for b, c in zip(batches, contexts, strict=True)
                    ]
                arch = space.decode(key)
                runs = [s.score_arch(space, arch, data.num_classes) for s in scorers[missing]]
                fresh = {
                    n: (float(np.mean([r[n].value for r in runs])), float(sum(r[n].ms for r in runs)))
                    for n in missing
                }
                cache.put(key, fresh)
                known.update(fresh)
            for n in names:
                values[n].append(known[n][0])
                times[n].append(known[n][1])
        cache_hits = cache.hits
        calibrations = {
            a.name: calibrate(
                a, space, cache, lambda a=a: SerialExecutor(
                    Evaluator(space, list(a.members), batches, contexts, data.num_classes, cfg.seed)
                ), cfg.reference_size, cfg.progress,
            )
            for a in aggregates if a.calibrated
        }  # fmt: skip
    finally:
        cache.close()
    for aggregate in aggregates:
        calibration = calibrations.get(aggregate.name)
        # a calibrated aggregate scores each architecture on its own, the others rank them all
        combined = calibration.score_many(values) if calibration else aggregate.combine(values)
        values[aggregate.name] = combined.tolist()
        times[aggregate.name] = [sum(times[m][i] for m in aggregate.members) for i in range(len(archs))]

    columns = truth.columns
    primary = columns[0]
    report: dict[str, object] = {
        "space": cfg.space,
        "num_archs": len(archs),
        "skipped_without_ground_truth": skipped,
        "ground_truth": {"file": truth.source, "columns": columns, "primary": primary},
        "dataset": data.name,
        "batch_size": cfg.batch_size,
        "num_batches": cfg.num_batches,
        "seed": cfg.seed,
        "teacher": cfg.teacher if any(s.needs_teacher for s in specs) else None,
        "cache_hits": cache_hits,
        "reference_size": cfg.reference_size if calibrations else None,
        "proxies": {},
    }
    proxies_report: dict[str, dict[str, object]] = {}
    for name, scores in values.items():
        by_column = {}
        for column in columns:
            pairs = [
                (s, truth.values[column][k])
                for s, k in zip(scores, archs, strict=True)
                if k in truth.values[column]
            ]
            by_column[column] = correlations([p[0] for p in pairs], [p[1] for p in pairs])
        best = archs[int(np.argmax(scores))]
        proxies_report[name] = {
            **by_column[primary],
            "top1_accuracy": truth.values[primary].get(best),
            "top1_arch": best,
            "ms_per_arch": statistics.median(times[name]),
            "by_column": by_column,
        }
    report["proxies"] = proxies_report
    (out / "results.json").write_text(json.dumps(report, indent=2))
    _write_csv(out / "results.csv", proxies_report, columns)
    _write_scores(out / "scores.csv", archs, values, truth.values)
    if cfg.plots:
        _plot(out, archs, values, truth.values[primary], primary, proxies_report)
    return report


def _write_csv(path: Path, report: dict[str, dict[str, object]], columns: list[str]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["proxy", "ground_truth", "kendall", "spearman", "pearson", "top1_accuracy", "ms_per_arch"]
        )
        for name, entry in report.items():
            for column in columns:
                c = entry["by_column"][column]  # type: ignore[index]
                writer.writerow(
                    [
                        name,
                        column,
                        f"{c['kendall']:.4f}",
                        f"{c['spearman']:.4f}",
                        f"{c['pearson']:.4f}",
                        entry["top1_accuracy"],
                        f"{entry['ms_per_arch']:.1f}",
                    ]
                )


def _write_scores(
    path: Path, archs: list[str], values: dict[str, list[float]], truth: dict[str, dict[str, float]]
):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["arch", *values, *truth])
        for i, key in enumerate(archs):
            writer.writerow([key, *(v[i] for v in values.values()), *(truth[c].get(key, "") for c in truth)])


def _plot(out: Path, archs, values, truth: dict[str, float], column: str, report) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    accuracy = [truth[k] for k in archs]
    for name, scores in values.items():
        fig, ax = plt.subplots(figsize=(5, 4), dpi=110)
        ax.scatter(scores, accuracy, s=6, alpha=0.5)
        entry = report[name]
        ax.set_xlabel(f"{name} score (higher is better)")
        ax.set_ylabel(column)
        ax.set_title(f"{name}: Kendall {entry['kendall']:.3f}, Spearman {entry['spearman']:.3f}")
        fig.tight_layout()
        fig.savefig(out / f"scatter_{name.replace(':', '_').replace('+', '-')}.png")
        plt.close(fig)


def format_table(report: dict[str, object]) -> str:
    proxies = report["proxies"]  # type: ignore[index]
    lines = [f"{'proxy':<34}{'kendall':>9}{'spearman':>10}{'pearson':>9}{'top1 acc':>10}{'ms/arch':>10}"]
    ordered = sorted(proxies.items(), key=lambda kv: -kv[1]["spearman"])  # type: ignore[union-attr]
    for name, e in ordered:
        top1 = "-" if e["top1_accuracy"] is None else f"{e['top1_accuracy']:.2f}"
        lines.append(
            f"{name:<34}{e['kendall']:>9.3f}{e['spearman']:>10.3f}{e['pearson']:>9.3f}{top1:>10}{e['ms_per_arch']:>10.1f}"
        )
    return "\n".join(lines)
