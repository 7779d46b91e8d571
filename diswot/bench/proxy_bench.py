"""``diswot bench proxies``: rank correlation of proxies with ground-truth accuracy."""

from __future__ import annotations

import csv
import random
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from diswot.atomic import save_figure, write_json, write_with
from diswot.bench.ground_truth import GroundTruth, Table, read_table
from diswot.bench.metrics import (
    CORRELATIONS,
    ProtocolConfig,
    ProtocolError,
    budget_bands,
    correlations,
    noise_ceiling,
    protocol_report,
)
from diswot.errors import BudgetError, DataError, DiswotError
from diswot.paths import make_dir
from diswot.proxies import resolve_proxies
from diswot.runlock import locked_folder
from diswot.scoring.budget import Budget, format_quantity
from diswot.scoring.calibration import calibrate
from diswot.scoring.config import ScoringConfig
from diswot.scoring.executors import ScoringJob, SerialExecutor
from diswot.scoring.setup import resolve_fitness, scoring_setup
from diswot.scoring.store import ScoreStore
from diswot.search_spaces import get_space
from diswot.seeds import check_seed

#: the score store of a bench folder, when ``scoring.store`` names none (a search's is ``store.sqlite`` too)
STORE_NAME = "store.sqlite"


@dataclass
class ProxyBenchConfig:
    """What ``diswot bench proxies`` runs: proxies scored on sampled architectures of ``space``
    with ``scoring`` (its proxy seed defaults to ``seed``, which samples the architectures),
    ranked against the ``ground_truth`` table under ``protocol``. The scores go to
    ``scoring.store`` (default ``out/store.sqlite``), which a search with the same scoring
    config reads as its own."""

    space: str
    ground_truth: str
    proxies: list[str]
    out: str
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    gt_columns: list[str] | None = None
    num_archs: int | None = 100  # None: every architecture in the ground truth
    seed: int = 0
    plots: bool = True
    progress: bool = True
    # the ranking protocol (diswot.bench.metrics): bands, bootstrap, noise ceiling, gain
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    budget: Budget = field(default_factory=Budget)  # only archs within these FLOPs/params bounds are scored
    seed_columns: list[str] | None = None  # None: every `<primary gt column>_seed*` column
    gain_column: str | None = None  # also rank the gain `gt column - gain column` per arch

    def __post_init__(self) -> None:
        check_seed(self.seed, "seed (--seed)")
        if self.num_archs is not None and (isinstance(self.num_archs, bool) or self.num_archs < 1):
            raise DiswotError(f"num_archs (--num-archs) must be >= 1 or None (all), got {self.num_archs!r}")
        self.scoring = self.scoring.seeded(self.seed)


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


def _check_truth_varies(column: str, values: list[float | None]) -> None:
    """A truth that is the same for every architecture ranks nothing: say so before scoring."""
    distinct = {v for v in values if v is not None}
    if len(distinct) == 1:
        raise ProtocolError(
            f"ground-truth column {column!r} is {distinct.pop()} for every architecture scored, so no "
            "ranking can be judged against it; a teacher or students at chance accuracy are the usual "
            "cause (check the table, or train longer)"
        )


def run_proxy_bench(cfg: ProxyBenchConfig) -> dict[str, object]:
    """Score sampled architectures, correlate with ground truth, write JSON, CSV and plots.

    ``cfg.out``'s lock (:mod:`diswot.runlock`) is held throughout: a second bench on the folder
    is refused at once rather than interleaving its files with this one's."""
    with locked_folder(cfg.out):
        return _run_proxy_bench(cfg)


def _run_proxy_bench(cfg: ProxyBenchConfig) -> dict[str, object]:
    from tqdm import tqdm

    space = get_space(cfg.space)
    table = read_table(cfg.ground_truth, space)  # the one read of the file
    truth, seed_truth = _protocol_columns(cfg, table)
    # "auto" is ranked as the fitness a search with this teacher would take
    scoring = cfg.scoring
    specs, aggregates = resolve_proxies([resolve_fitness(p, scoring.teacher, space) for p in cfg.proxies])
    names = [s.name for s in specs]
    archs, skipped = _choose_archs(cfg, space, truth.keys())
    costs = {k: space.cost(space.decode(k)) for k in archs}
    sampled = len(archs)
    archs = _within_budget(cfg.budget, archs, costs)
    flops = np.array([costs[k].flops for k in archs], dtype=float)
    params = np.array([costs[k].params for k in archs], dtype=float)
    bands = budget_bands(flops, cfg.protocol.budget_bands)  # too few archs fail before scoring
    primary_truth = truth.values[truth.columns[0]]
    _check_truth_varies(truth.columns[0], [primary_truth.get(k) for k in archs])
    setup = scoring_setup(space, scoring, names)
    out = Path(cfg.out)
    make_dir(out)
    cache = ScoreStore(scoring.store or out / STORE_NAME, cfg.space, setup.data_key, setup.teacher_key)
    jobs: dict[frozenset[str], ScoringJob] = {}  # one per set of proxies missing from the cache
    values: dict[str, list[float]] = {n: [] for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    try:
        for key in tqdm(archs, desc=f"scoring {cfg.space}", disable=not cfg.progress):
            known = cache.get(key, names)
            missing = frozenset(n for n in names if n not in known)
            if missing:
                if missing not in jobs:
                    jobs[missing] = ScoringJob.of(space, setup, [n for n in names if n in missing])
                fresh = jobs[missing].score([key])[0]
                cache.put(key, fresh)
                known.update(fresh)
            for n in names:
                values[n].append(known[n][0])
                times[n].append(known[n][1])
        cache_hits = cache.hits
        calibrations = {
            a.name: calibrate(
                a, space, cache, lambda a=a: SerialExecutor(ScoringJob.of(space, setup, a.members)),
                scoring.reference_size, cfg.progress,
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
        "outside_budget": sampled - len(archs),
        "ground_truth": {"file": truth.source, "columns": columns, "primary": primary},
        "dataset": setup.dataset.name,
        "batch_size": scoring.batch_size,
        "num_batches": scoring.num_batches,
        "seed": cfg.seed,
        "proxy_seed": scoring.proxy_seed,
        "teacher": setup.teacher_name,
        "cache_hits": cache_hits,
        "reference_size": scoring.reference_size if calibrations else None,
        "proxies": {},
    }
    frame = protocol_report(
        {n: np.asarray(v, dtype=float) for n, v in values.items()},
        {c: np.array([truth.values[c].get(k, np.nan) for k in archs]) for c in columns},
        flops,
        params,
        cfg.protocol,
    )
    report["protocol"] = _protocol_summary(cfg, flops, bands, seed_truth, archs)
    proxies_report: dict[str, dict[str, object]] = {}
    for name, scores in values.items():
        by_column = {}
        for column in columns:
            pairs = [
                (s, truth.values[column][k])
                for s, k in zip(scores, archs, strict=True)
                if k in truth.values[column]
            ]
            by_column[column] = {
                **correlations([p[0] for p in pairs], [p[1] for p in pairs]),
                **_protocol_fields(frame, name, column),
            }
        best = archs[int(np.argmax(scores))]
        proxies_report[name] = {
            **by_column[primary],
            "top1_accuracy": truth.values[primary].get(best),
            "top1_arch": best,
            "ms_per_arch": statistics.median(times[name]),
            "by_column": by_column,
        }
    report["proxies"] = proxies_report
    _write_csv(out / "results.csv", proxies_report, columns)
    write_with(out / "protocol.csv", lambda tmp: frame.to_csv(tmp, index=False, float_format="%.4f"))
    _write_scores(out / "scores.csv", archs, values, truth.values)
    if cfg.plots:
        _plot(out, archs, values, truth.values[primary], primary, proxies_report, flops, bands)
    write_json(out / "results.json", report)  # last: a folder holding it holds every other output
    return report


def _protocol_columns(cfg: ProxyBenchConfig, table: Table) -> tuple[GroundTruth, dict[str, dict[str, float]]]:
    """The truth columns to rank against (gains added) and the seed columns of the noise ceiling.

    Without ``--gt-column`` every numeric column is a truth column, except seed columns
    (``*_seed*``) and the gain column, which only serve the ceiling and the gain.
    """
    truth = table.truth(cfg.gt_columns)
    helper = set(cfg.seed_columns or []) | {cfg.gain_column} - {None}
    if cfg.gt_columns is None:
        helper |= {c for c in truth.columns if re.fullmatch(r".+_seed\w*", c)}
        truth = GroundTruth(truth.source, {c: v for c, v in truth.values.items() if c not in helper})
        if not truth.values:
            raise DataError(f"{cfg.ground_truth} has no accuracy column beside the seed and gain columns")
    primary = truth.columns[0]
    seeds = cfg.seed_columns or sorted(c for c in table.header if c.startswith(f"{primary}_seed"))
    if cfg.seed_columns is not None and len(seeds) < 2:
        raise ProtocolError(
            f"--seed-columns names {len(seeds)} column; a noise ceiling compares at least two seeds"
        )
    wanted = [*seeds, *([cfg.gain_column] if cfg.gain_column else [])]
    extra = table.truth(wanted).values if wanted else {}
    if cfg.gain_column:
        base = extra.get(cfg.gain_column)
        if not base:
            raise ProtocolError(
                f"gain column {cfg.gain_column!r} of {cfg.ground_truth} has no values; fill it "
                f"(e.g. bench kd-ground-truth --vanilla) or drop --gain-column"
            )
        # the gain of the requested columns, or of the primary one only: a default read also
        # holds columns such as params, whose "gain" means nothing
        for column in [c for c in cfg.gt_columns or [primary] if c != cfg.gain_column]:
            gain = {k: v - base[k] for k, v in truth.values[column].items() if k in base}
            if gain:
                truth.values[f"{column}-{cfg.gain_column}"] = gain
    return truth, {c: extra[c] for c in seeds if c in extra}


def _within_budget(budget: Budget, archs: list[str], costs: dict) -> list[str]:
    """The archs whose FLOPs and params fit the budget (all of them when it is unconstrained)."""
    if budget == Budget():  # no bound set
        return archs
    kept = [k for k in archs if not budget.violations(costs[k].flops, costs[k].params)]
    if len(kept) < 2:
        raise BudgetError(
            f"only {len(kept)} of {len(archs)} sampled architectures fit the budget; widen the "
            f"--min/--max-flops/params bounds or sample more with --num-archs"
        )
    return kept


def _protocol_fields(frame, proxy: str, column: str) -> dict[str, object]:
    """The protocol metrics of one (proxy, column) row, NaN as None so the JSON stays valid."""
    row = frame[(frame["proxy"] == proxy) & (frame["ground_truth"] == column)].iloc[0]
    fields = row.drop(["proxy", "ground_truth", "kendall", "spearman", "pearson"]).to_dict()
    return {k: (None if isinstance(v, float) and np.isnan(v) else _plain(v)) for k, v in fields.items()}


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _protocol_summary(cfg: ProxyBenchConfig, flops, bands, seed_truth, archs) -> dict[str, object]:
    """How the protocol was run (bands, budget, bootstrap) and the noise ceiling, once per table."""
    ceiling = None
    if len(seed_truth) >= 2:
        seeds = {c: np.array([v.get(k, np.nan) for k in archs]) for c, v in seed_truth.items()}
        ceiling = {
            k: (None if isinstance(v, float) and np.isnan(v) else v)
            for k, v in noise_ceiling(seeds, flops, cfg.protocol).items()
        }
    ranges = [(flops[bands == b].min(), flops[bands == b].max()) for b in np.unique(bands)]
    return {
        "budget_bands": cfg.protocol.budget_bands,
        "band_flops": [[float(lo), float(hi)] for lo, hi in ranges],
        "band_sizes": np.bincount(bands).tolist(),
        "budget": {k: v for k, v in cfg.budget.to_dict().items() if v is not None},
        "bootstrap_resamples": cfg.protocol.resamples,
        "bootstrap_seed": cfg.protocol.seed,
        "confidence": cfg.protocol.confidence,
        "correlations_with_intervals": list(CORRELATIONS),
        "gain_column": cfg.gain_column,
        "noise_ceiling": ceiling,
    }


def _write_rows(path: Path, rows: list[list[object]]) -> None:
    """``rows`` as a CSV file, written atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(rows)

    write_with(path, write)


def _write_csv(path: Path, report: dict[str, dict[str, object]], columns: list[str]) -> None:
    rows: list[list[object]] = [
        ["proxy", "ground_truth", "kendall", "spearman", "pearson", "top1_accuracy", "ms_per_arch"]
    ]
    for name, entry in report.items():
        for column in columns:
            c = entry["by_column"][column]  # type: ignore[index]
            rows.append(
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
    _write_rows(path, rows)


def _write_scores(
    path: Path, archs: list[str], values: dict[str, list[float]], truth: dict[str, dict[str, float]]
):
    rows: list[list[object]] = [["arch", *values, *truth]]
    for i, key in enumerate(archs):
        rows.append([key, *(v[i] for v in values.values()), *(truth[c].get(key, "") for c in truth)])
    _write_rows(path, rows)


def _number(value: object, width: int = 1, digits: int = 3) -> str:
    """``value`` to ``digits`` decimals, or ``-`` where a correlation is undefined (``None``)."""
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def _plot(out: Path, archs, values, truth: dict[str, float], column: str, report, flops, bands) -> None:
    """One scatter per proxy, points coloured by FLOPs band (ranking inside a colour is what a
    budgeted search needs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keep = np.array([k in truth for k in archs])
    accuracy = np.array([truth.get(k, np.nan) for k in archs])
    colours = plt.get_cmap("viridis", int(bands.max()) + 1)
    for name, scores in values.items():
        fig, ax = plt.subplots(figsize=(5, 4), dpi=110)
        scores = np.asarray(scores)
        for b in np.unique(bands):
            chosen = keep & (bands == b)
            span = f"{format_quantity(flops[bands == b].min())}-{format_quantity(flops[bands == b].max())}"
            ax.scatter(scores[chosen], accuracy[chosen], s=6, alpha=0.6, color=colours(b), label=span)
        ax.legend(title="FLOPs band", fontsize=6, title_fontsize=7, markerscale=2)
        entry = report[name]
        ax.set_xlabel(f"{name} score (higher is better)")
        ax.set_ylabel(column)
        ax.set_title(
            f"{name}: Kendall {_number(entry['kendall'])}, Spearman {_number(entry['spearman'])}\n"
            f"within-budget Kendall {_number(entry.get('within_budget_kendall'))}",
            fontsize=9,
        )
        fig.tight_layout()
        save_figure(fig, out / f"scatter_{name.replace(':', '_').replace('+', '-')}.png")
        plt.close(fig)


def format_table(report: dict[str, object]) -> str:
    """The on-screen table: correlations of the primary column, within-budget Kendall (mean over
    FLOPs bands) and the regret of the top-1 pick beside Spearman, and the noise ceiling."""
    proxies = report["proxies"]  # type: ignore[index]
    lines = [
        f"{'proxy':<34}{'kendall':>9}{'spearman':>10}{'wb tau':>8}{'regret@1':>10}{'pearson':>9}"
        f"{'top1 acc':>10}{'ms/arch':>10}"
    ]

    def rank_key(item: tuple[str, dict[str, object]]) -> float:
        rho = item[1]["spearman"]
        return -rho if isinstance(rho, float) else 2.0  # an undefined correlation sorts last

    ordered = sorted(proxies.items(), key=rank_key)  # type: ignore[arg-type]

    for name, e in ordered:
        lines.append(
            f"{name:<34}{_number(e['kendall'], 9, 3)}{_number(e['spearman'], 10, 3)}"
            f"{_number(e.get('within_budget_kendall'), 8, 3)}{_number(e.get('top1_regret'), 10, 2)}"
            f"{_number(e['pearson'], 9, 3)}{_number(e['top1_accuracy'], 10, 2)}"
            f"{e['ms_per_arch']:>10.1f}"
        )
    protocol = report.get("protocol") or {}
    ceiling = protocol.get("noise_ceiling")  # type: ignore[union-attr]
    if ceiling:
        lines.append(
            f"noise ceiling ({', '.join(ceiling['seed_columns'])}): "
            f"kendall {_number(ceiling['kendall'])}, spearman {_number(ceiling['spearman'])}, "
            f"within-budget kendall {_number(ceiling['within_budget_kendall'])}"
        )
    return "\n".join(lines)
