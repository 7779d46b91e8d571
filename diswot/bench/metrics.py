"""How well a proxy ranks architectures for a *budgeted* search (the issue-12 protocol).

Small pure functions on numpy arrays (also used by the benchmark scripts) and
:func:`protocol_report`, which builds the per-proxy table as a pandas DataFrame.

Conventions, the same in every function:

* **Undefined vs. uninformative.** A correlation is ``NaN`` when it is undefined: fewer than
  two architectures, or a constant *truth* (nothing to rank). A constant *proxy* is defined
  and scores ``0``: it orders nothing, as a random guess in expectation. Means over FLOPs
  bands ignore the NaN bands (:func:`within_budget_kendall`).
* **Ties in the proxy** are broken at random, in expectation: the top-1 pick is the mean truth
  of the archs sharing the top score, the best of the top-k is its expected value under a
  random choice within the boundary tie group, and nDCG uses tie-averaged gains (the formula
  of scikit-learn's ``ndcg_score`` with ``ignore_ties=False``).
* **Partial correlation given log-params** is a Spearman partial: rank-transform proxy, truth
  and params (log is monotone, so ``rank(log params) == rank(params)``), regress the ranks of
  params out of both, and correlate the residuals, i.e.
  ``(r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2))`` with Spearman r's. A proxy whose
  ranks are explained by params (params itself) scores 0.
* **Bootstrap intervals** resample architectures with replacement (``resamples`` times, from
  ``seed``, so reproducible) and take the 2.5 and 97.5 percentiles, ignoring undefined
  resamples. FLOPs bands stay those of the full sample. Kendall's tau-b of a resample is
  computed exactly from the multiplicities ``w`` of the archs: ``S = w^T M w / 2`` with
  ``M_ij = sign(x_i - x_j) sign(y_i - y_j)``, one matrix product for all resamples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import special, stats

from diswot.errors import DiswotError

_TINY = 1e-12
_CHUNK = 4_000_000  # entries of one block of the pairwise sign matrix (32 MB in float64)
# above this many archs, B * n^2 pairwise products cost more than B scipy calls of O(n log n)
_PAIRWISE_LIMIT = 2500
_BLOCK = 250  # resamples held in memory at once


class ProtocolError(DiswotError, ValueError):
    """Input the ranking protocol cannot evaluate (too few archs for the bands, bad columns)."""


@dataclass(frozen=True)
class ProtocolConfig:
    """Settings of :func:`protocol_report`."""

    budget_bands: int = 4  # equal-count FLOPs bands for the within-budget tau
    top_k: int = 5  # the "best of the top-k" pick
    ndcg_k: int = 10
    resamples: int = 1000  # bootstrap resamples; 0 turns the intervals off
    seed: int = 0  # of the bootstrap
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if self.budget_bands < 1:
            raise ProtocolError(
                f"--budget-bands must be at least 1, got {self.budget_bands}; use 1 for no banding"
            )
        if self.top_k < 1 or self.ndcg_k < 1:
            raise ProtocolError(f"--top-k must be at least 1, got {self.top_k} (nDCG k {self.ndcg_k})")
        if self.resamples < 0:
            raise ProtocolError(f"--bootstrap must be >= 0 resamples (0: no intervals), got {self.resamples}")
        if not 0 < self.confidence < 1:
            raise ProtocolError(f"confidence must be in (0, 1), got {self.confidence}")


# point estimates ---------------------------------------------------------------------------------
def _pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("scores and truth must be equally long 1-D arrays")
    return x, y


def _degenerate(x: np.ndarray, y: np.ndarray) -> float | None:
    """NaN for an undefined correlation, 0 for a constant proxy, None when it is defined."""
    if len(x) < 2 or np.ptp(y) == 0:
        return float("nan")
    if np.ptp(x) == 0:
        return 0.0
    return None


def kendall(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall tau-b of scores ``x`` with truth ``y`` (NaN if undefined, 0 for a constant proxy)."""
    x, y = _pair(x, y)
    special_value = _degenerate(x, y)
    return special_value if special_value is not None else float(stats.kendalltau(x, y).statistic)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rho (Pearson of average ranks), with :func:`kendall`'s conventions."""
    x, y = _pair(x, y)
    special_value = _degenerate(x, y)
    return special_value if special_value is not None else float(stats.spearmanr(x, y).statistic)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r, with :func:`kendall`'s conventions."""
    x, y = _pair(x, y)
    special_value = _degenerate(x, y)
    return special_value if special_value is not None else float(np.corrcoef(x, y)[0, 1])


def correlations(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Kendall, Spearman and Pearson of scores ``x`` with truth ``y``, with :func:`kendall`'s
    conventions (NaN for a constant truth or fewer than two points, 0 for a constant proxy)."""
    return {"kendall": kendall(x, y), "spearman": spearman(x, y), "pearson": pearson(x, y)}


def partial_spearman(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Spearman correlation of ``x`` and ``y`` with the ranks of ``z`` (e.g. log-params) held fixed."""
    x, y = _pair(x, y)
    _, z = _pair(x, z)
    ranks = np.stack([stats.rankdata(v) for v in (x, y, z)])
    return float(_partial_from_ranks(ranks[None, 0], ranks[None, 1], ranks[None, 2])[0])


def budget_bands(flops: np.ndarray, k: int) -> np.ndarray:
    """Band index (0 = cheapest) of each arch: ``k`` equal-count bands by FLOPs quantile.

    Band ``b`` holds the archs whose position in the FLOPs order is in ``[b n/k, (b+1) n/k)``;
    archs of equal FLOPs always share a band (any budget puts them on the same side of its
    limit): the band of the first of them. With many ties the bands are only roughly equal, and
    one may be empty (its tau is then NaN and left out of the mean).
    """
    flops = np.asarray(flops, dtype=float)
    if k < 1:
        raise ProtocolError(f"--budget-bands must be at least 1, got {k}; use 1 for no banding")
    if not np.all(np.isfinite(flops)):
        raise ProtocolError("FLOPs must be finite numbers for every architecture; fix the FLOPs column")
    if len(flops) < k:
        raise ProtocolError(
            f"{len(flops)} architectures cannot fill {k} FLOPs bands; "
            f"lower --budget-bands or score more architectures"
        )
    # an arch's band is where the first of its FLOPs ties falls in the sorted order
    first = stats.rankdata(flops, method="min") - 1
    return (first * k) // len(flops)


def within_budget_kendall(x: np.ndarray, y: np.ndarray, bands: np.ndarray) -> tuple[float, list[float]]:
    """Mean Kendall tau inside the FLOPs bands, and the tau of each band (NaN where undefined).

    The mean ignores undefined bands (fewer than two archs, or constant truth); NaN if all are.
    """
    x, y = _pair(x, y)
    bands = np.asarray(bands)
    per_band = [kendall(x[bands == b], y[bands == b]) for b in range(int(bands.max()) + 1)]
    return _nanmean(np.asarray(per_band)), per_band


def _nanmean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.any(~np.isnan(values)) else float("nan")


def expected_best_of_top_k(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Expected best truth among the ``k`` highest-scored archs, ties broken at random.

    Archs scored above the k-th highest score are always picked; ``m`` of the ``g`` archs tied
    at that score are drawn at random, and the chance that the j-th smallest of their truths
    is the best drawn is ``C(j-1, m-1) / C(g, m)``. ``k=1`` gives the mean truth of the top tie.
    """
    scores, truth = _pair(scores, truth)
    if len(scores) == 0:
        return float("nan")
    k = min(k, len(scores))
    threshold = np.sort(scores)[::-1][k - 1]
    above = truth[scores > threshold]
    group = np.sort(truth[scores == threshold])
    m, g = k - len(above), len(group)
    j = np.arange(1, g + 1)
    chance = special.comb(j - 1, m - 1) / special.comb(g, m)
    floor = above.max() if len(above) else -np.inf
    return float(np.sum(chance * np.maximum(group, floor)))


def ndcg_at_k(scores: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    """nDCG@k with gains ``truth - min(truth)`` and tie-averaged gains (scikit-learn's formula).

    ``DCG = sum_r gain_r / log2(r + 1)`` over ranks r <= k of the proxy's order, divided by the
    DCG of the truth's own order. NaN when every gain is 0 (constant truth).
    """
    scores, truth = _pair(scores, truth)
    gains = truth - truth.min() if len(truth) else truth
    discount = 1 / np.log2(np.arange(len(gains)) + 2)
    discount[k:] = 0
    ideal = float(np.sum(np.sort(gains)[::-1] * discount))
    if ideal <= 0:
        return float("nan")
    _, inverse, counts = np.unique(-scores, return_inverse=True, return_counts=True)
    mean_gain = np.bincount(inverse, weights=gains) / counts
    cumulative = np.cumsum(discount)[np.cumsum(counts) - 1]
    group_discount = np.diff(cumulative, prepend=0.0)
    return float(np.sum(mean_gain * group_discount) / ideal)


def top_k_quality(
    scores: np.ndarray, truth: np.ndarray, top_k: int = 5, ndcg_k: int = 10
) -> dict[str, float]:
    """Truth of the top-1 pick and the best of the top-k, their regret to the best arch, nDCG@k."""
    scores, truth = _pair(scores, truth)
    best = float(truth.max())
    top1 = expected_best_of_top_k(scores, truth, 1)
    topk = expected_best_of_top_k(scores, truth, top_k)
    return {
        "best_truth": best,
        "top1_truth": top1,
        "top1_regret": best - top1,
        f"top{top_k}_best_truth": topk,
        f"top{top_k}_regret": best - topk,
        f"ndcg_at_{ndcg_k}": ndcg_at_k(scores, truth, ndcg_k),
    }


# bootstrap ----------------------------------------------------------------------------------------
def _quadratic(weights: np.ndarray, pairwise) -> np.ndarray:
    """``w^T P w`` for every row of ``weights``, P built in row blocks by ``pairwise(rows)``."""
    n = weights.shape[1]
    step = max(1, _CHUNK // max(n, 1))
    total = np.zeros(len(weights))
    for start in range(0, n, step):
        rows = slice(start, min(n, start + step))
        total += np.einsum("bi,bi->b", weights[:, rows] @ pairwise(rows), weights)
    return total


def _tied_pairs(weights: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Pairs tied in ``v`` within each weighted resample (copies of one arch tie too)."""
    _, group = np.unique(v, return_inverse=True)
    sums = np.zeros((len(weights), int(group.max()) + 1))
    np.add.at(sums.T, group, weights.T)
    return ((sums**2).sum(axis=1) - weights.sum(axis=1)) / 2


def weighted_kendall(weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall tau-b of each resample given by the arch multiplicities ``weights`` (rows).

    Equal to ``scipy.stats.kendalltau`` of the expanded sample; conventions of :func:`kendall`.
    """
    x, y = _pair(x, y)
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    if len(x) == 0:
        return np.full(len(weights), np.nan)
    if len(x) > _PAIRWISE_LIMIT:
        expanded = (np.repeat(np.arange(len(x)), w.astype(int)) for w in weights)
        return np.array([kendall(x[i], y[i]) for i in expanded])
    concordance = _quadratic(
        weights,
        lambda r: np.sign(x[r, None] - x[None, :]) * np.sign(y[r, None] - y[None, :]),
    )
    total = weights.sum(axis=1)
    pairs = total * (total - 1) / 2
    free_x, free_y = pairs - _tied_pairs(weights, x), pairs - _tied_pairs(weights, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = concordance / 2 / np.sqrt(free_x * free_y)
    tau = np.where(free_x <= 0, 0.0, tau)
    return np.where(free_y <= 0, np.nan, tau)


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of matching rows; NaN for a constant b, 0 for a constant a."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    na, nb = np.sqrt((a * a).sum(axis=1)), np.sqrt((b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=1) / (na * nb)
    scale = np.sqrt(a.shape[1])
    r = np.where(na <= _TINY * scale * (1 + np.abs(a).max(axis=1)), 0.0, r)
    return np.where(nb <= _TINY * scale * (1 + np.abs(b).max(axis=1)), np.nan, r)


def _partial_from_ranks(rx: np.ndarray, ry: np.ndarray, rz: np.ndarray) -> np.ndarray:
    r_xy, r_xz, r_yz = _row_pearson(rx, ry), _row_pearson(rx, rz), _row_pearson(ry, rz)
    with np.errstate(invalid="ignore", divide="ignore"):
        partial = (r_xy - r_xz * r_yz) / np.sqrt((1 - r_xz**2) * (1 - r_yz**2))
    # nothing of x is left once z is regressed out (x is a monotone function of z): no information
    partial = np.where(1 - r_xz**2 <= 1e-9, 0.0, partial)
    return np.clip(np.where(1 - r_yz**2 <= 1e-9, np.nan, partial), -1, 1)


def bootstrap_samples(
    x: np.ndarray,
    y: np.ndarray,
    *,
    bands: np.ndarray | None = None,
    z: np.ndarray | None = None,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Resampled Kendall, Spearman, Pearson (and within-budget Kendall with ``bands``, partial
    Spearman given ``z``): arrays of ``resamples`` values, NaN where a resample is undefined.

    The same ``seed`` gives the same resamples for every proxy, so intervals are paired.
    """
    x, y = _pair(x, y)
    if z is not None:
        _, z = _pair(x, z)
    n = len(x)
    rng = np.random.default_rng(seed)
    blocks = []
    for start in range(0, resamples, _BLOCK):  # bounded memory for large tables
        index = rng.integers(0, n, size=(min(_BLOCK, resamples - start), n))
        blocks.append(_bootstrap_block(index, x, y, bands, z))
    if not blocks:
        return {}
    return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}


def _bootstrap_block(
    index: np.ndarray, x: np.ndarray, y: np.ndarray, bands: np.ndarray | None, z: np.ndarray | None
) -> dict[str, np.ndarray]:
    """The statistics of :func:`bootstrap_samples` for the resamples given by rows of ``index``."""
    rows = len(index)
    weights = np.zeros((rows, len(x)))
    np.add.at(weights, (np.arange(rows)[:, None], index), 1.0)
    xs, ys = x[index], y[index]
    rx, ry = stats.rankdata(xs, axis=1), stats.rankdata(ys, axis=1)
    out = {
        "kendall": weighted_kendall(weights, x, y),
        "spearman": _row_pearson(rx, ry),
        "pearson": _row_pearson(xs, ys),
    }
    if bands is not None:
        bands = np.asarray(bands)
        per_band = np.stack(
            [weighted_kendall(weights[:, bands == b], x[bands == b], y[bands == b])
             for b in range(int(bands.max()) + 1)]
        )  # fmt: skip
        # a band a resample hardly draws from is undefined there, and left out of that mean
        with np.errstate(invalid="ignore"), _quiet():
            out["within_budget_kendall"] = np.nanmean(per_band, axis=0)
    if z is not None:
        out["partial_spearman"] = _partial_from_ranks(rx, ry, stats.rankdata(z[index], axis=1))
    return out


class _quiet:
    """Silences numpy's "mean of empty slice" warning, which NaN already reports."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._catch.__exit__(*exc)


def interval(samples: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap samples, ignoring NaN (NaN, NaN if all are NaN)."""
    finite = samples[~np.isnan(samples)]
    if len(finite) == 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


# the report ---------------------------------------------------------------------------------------
CORRELATIONS = ("kendall", "spearman", "pearson", "within_budget_kendall", "partial_spearman")


def proxy_metrics(
    scores: np.ndarray,
    truth: np.ndarray,
    flops: np.ndarray,
    params: np.ndarray,
    cfg: ProtocolConfig = ProtocolConfig(),
) -> dict[str, float]:
    """Every metric of the protocol for one proxy against one truth (archs with NaN dropped)."""
    scores, truth = _pair(scores, truth)
    keep = ~(np.isnan(scores) | np.isnan(truth))
    x, y = scores[keep], truth[keep]
    f, p = np.asarray(flops, dtype=float)[keep], np.asarray(params, dtype=float)[keep]
    bands = budget_bands(f, cfg.budget_bands)
    within, per_band = within_budget_kendall(x, y, bands)
    row: dict[str, float] = {
        "n_archs": len(x),
        "kendall": kendall(x, y),
        "spearman": spearman(x, y),
        "pearson": pearson(x, y),
        "within_budget_kendall": within,
        "bands_used": int(np.sum(~np.isnan(per_band))),
        "partial_spearman": partial_spearman(x, y, np.log(np.maximum(p, _TINY))),
        **top_k_quality(x, y, cfg.top_k, cfg.ndcg_k),
    }
    if cfg.resamples:
        samples = bootstrap_samples(
            x, y, bands=bands, z=np.log(np.maximum(p, _TINY)), resamples=cfg.resamples, seed=cfg.seed
        )
        for name in CORRELATIONS:
            row[f"{name}_lo"], row[f"{name}_hi"] = interval(samples[name], cfg.confidence)
    return row


def protocol_report(
    scores: Mapping[str, np.ndarray],
    truth: Mapping[str, np.ndarray],
    flops: np.ndarray,
    params: np.ndarray,
    cfg: ProtocolConfig = ProtocolConfig(),
) -> pd.DataFrame:
    """One row per (proxy, ground-truth column): every metric of :func:`proxy_metrics`.

    ``scores`` and ``truth`` map names to arrays over the same archs (NaN: missing), in the order
    of ``flops`` and ``params``.
    """
    rows = [
        {"proxy": name, "ground_truth": column, **proxy_metrics(values, target, flops, params, cfg)}
        for name, values in scores.items()
        for column, target in truth.items()
    ]
    return pd.DataFrame(rows)


def noise_ceiling(
    seeds: Mapping[str, np.ndarray], flops: np.ndarray, cfg: ProtocolConfig = ProtocolConfig()
) -> dict[str, object]:
    """Seed-to-seed agreement of the truth: the ceiling no proxy can be asked to beat.

    Kendall, Spearman and within-budget Kendall averaged over every pair of seed columns (archs
    with a value in both), with bootstrap intervals of the pair-averaged statistics.
    """
    names = list(seeds)
    if len(names) < 2:
        raise ProtocolError(
            f"a noise ceiling needs at least two seed columns, got {', '.join(names) or 'none'}; "
            f"name them with --seed-columns a,b"
        )
    flops = np.asarray(flops, dtype=float)
    stats_by_pair: dict[str, list[float]] = {"kendall": [], "spearman": [], "within_budget_kendall": []}
    samples: dict[str, list[np.ndarray]] = {k: [] for k in stats_by_pair}
    for a, b in combinations(names, 2):
        x, y = np.asarray(seeds[a], dtype=float), np.asarray(seeds[b], dtype=float)
        keep = ~(np.isnan(x) | np.isnan(y))
        bands = budget_bands(flops[keep], cfg.budget_bands)
        stats_by_pair["kendall"].append(kendall(x[keep], y[keep]))
        stats_by_pair["spearman"].append(spearman(x[keep], y[keep]))
        stats_by_pair["within_budget_kendall"].append(within_budget_kendall(x[keep], y[keep], bands)[0])
        if cfg.resamples:
            drawn = bootstrap_samples(x[keep], y[keep], bands=bands, resamples=cfg.resamples, seed=cfg.seed)
            for k in samples:
                samples[k].append(drawn[k])
    report: dict[str, object] = {"seed_columns": names}
    for k, values in stats_by_pair.items():
        report[k] = _nanmean(np.asarray(values))
        if cfg.resamples:
            with _quiet():
                report[f"{k}_lo"], report[f"{k}_hi"] = interval(
                    np.nanmean(np.stack(samples[k]), axis=0), cfg.confidence
                )
    return report
