"""Rank correlations of a proxy with ground truth (Kendall tau-b, Spearman rho, Pearson r)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def correlations(scores: Sequence[float], truth: Sequence[float]) -> dict[str, float]:
    """Kendall, Spearman and Pearson of two equally long sequences.

    A constant sequence has no ranking; its correlations are reported as 0 rather than NaN.
    """
    x, y = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("scores and truth must be equally long 1-D sequences")
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"kendall": 0.0, "spearman": 0.0, "pearson": 0.0}
    return {
        "kendall": float(stats.kendalltau(x, y).statistic),
        "spearman": float(stats.spearmanr(x, y).statistic),
        "pearson": float(np.corrcoef(x, y)[0, 1]),
    }
