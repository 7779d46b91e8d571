"""Rank aggregation of several proxies, itself usable as a proxy over a set of architectures.

Names: ``a+b+c`` is the mean of the members' ranks; ``log:a+b+c`` sums ``log(rank / n)``, the
non-linear aggregation of AZ-NAS that punishes an architecture any member ranks low;
``geo:a+b`` is the geometric mean of ranks. Ranks are 1 (worst) .. n (best), ties averaged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from diswot.errors import DiswotError

METHODS = ("mean", "log", "geo")


@dataclass(frozen=True)
class Aggregate:
    """A rank aggregate of ``members`` combined by ``method``."""

    members: tuple[str, ...]
    method: str = "mean"

    @property
    def name(self) -> str:
        prefix = "" if self.method == "mean" else f"{self.method}:"
        return prefix + "+".join(self.members)

    def combine(self, scores: Mapping[str, Sequence[float]]) -> np.ndarray:
        """Aggregate score of every architecture (higher is better) from per-member scores."""
        missing = [m for m in self.members if m not in scores]
        if missing:
            raise DiswotError(f"aggregate {self.name!r} lacks scores of {', '.join(missing)}")
        ranks = np.stack([rankdata(np.asarray(scores[m], dtype=float)) for m in self.members])
        n = ranks.shape[1]
        if self.method == "log":
            return np.log(ranks / n).sum(0)
        if self.method == "geo":
            return np.exp(np.log(ranks).mean(0))
        return ranks.mean(0)


def parse_aggregate(name: str) -> Aggregate | None:
    """The :class:`Aggregate` a name denotes, or ``None`` for a plain proxy name."""
    method, _, body = name.rpartition(":") if ":" in name else ("mean", "", name)
    if "+" not in body:
        if ":" in name:
            raise DiswotError(f"{name!r}: an aggregate joins two or more proxies with '+'")
        return None
    if method not in METHODS:
        raise DiswotError(f"unknown aggregation {method!r} in {name!r}; use one of {', '.join(METHODS)}")
    members = tuple(m.strip() for m in body.split("+"))
    if len(members) < 2 or not all(members):
        raise DiswotError(f"{name!r}: an aggregate needs two or more proxy names joined by '+'")
    return Aggregate(members, method)
