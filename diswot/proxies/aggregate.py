"""Rank aggregation of several proxies: over a population, or calibrated for one candidate.

Names (``[cal:][method:]a+b+...``, two or more registered proxies joined by ``+``):

* ``a+b+c`` is the mean of the members' ranks; ``log:a+b+c`` sums ``log(rank / n)``, the
  non-linear aggregation of AZ-NAS that punishes an architecture any member ranks low;
  ``geo:a+b`` is the geometric mean of ranks. Ranks are 1 (worst) .. n (best), ties averaged.
  These rank a whole population at once, so a score depends on the other architectures.
* ``cal:a+b``, ``cal:log:a+b``, ``cal:geo:a+b`` are *calibrated* aggregates: each member's value
  is mapped to its empirical quantile among a fixed reference sample of the space
  (:class:`Calibration`), then the quantiles are combined the same way (mean, sum of logs,
  geometric mean). A candidate's score depends only on its own values and the reference, so a
  search can use it as a per-candidate fitness.

The quantile is ``(below + 0.5 * equal + 0.5) / (n + 1)`` for ``n`` reference values, ``below``
of them smaller and ``equal`` of them equal: never 0 (so ``log`` is finite) and never 1, and a
value beyond the reference's maximum still gets a higher quantile than the maximum itself
(capped at ``(n + 0.5) / (n + 1)``). When the reference *is* the population, ``below + 0.5 *
equal + 0.5`` is exactly the average rank, so the calibrated aggregate is the population
aggregate with ``rank / (n + 1)`` in place of ``rank / n``: ``cal:log`` differs from ``log`` by the
constant ``members * log(n / (n + 1))``, and ``cal:``/``cal:geo`` are ``n / (n + 1)`` times the
mean/geo rank divided by ``n`` -- the same ordering in every case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from diswot.errors import DiswotError

METHODS = ("mean", "log", "geo")
CALIBRATED = "cal"


@dataclass(frozen=True)
class Aggregate:
    """An aggregate of ``members`` combined by ``method``; ``calibrated`` ones score one candidate
    against a reference sample instead of ranking a population."""

    members: tuple[str, ...]
    method: str = "mean"
    calibrated: bool = False

    @property
    def name(self) -> str:
        prefix = f"{CALIBRATED}:" if self.calibrated else ""
        prefix += "" if self.method == "mean" else f"{self.method}:"
        return prefix + "+".join(self.members)

    def _check(self, scores: Mapping[str, object], what: str) -> None:
        missing = [m for m in self.members if m not in scores]
        if missing:
            raise DiswotError(f"aggregate {self.name!r} lacks {what} of {', '.join(missing)}")

    def merge(self, fractions: np.ndarray) -> np.ndarray:
        """Combine per-member fractions in (0, 1] (rows: members) into one score per column."""
        if self.method == "log":
            return np.log(fractions).sum(0)
        if self.method == "geo":
            return np.exp(np.log(fractions).mean(0))
        return fractions.mean(0)

    def combine(
        self,
        scores: Mapping[str, Sequence[float]],
        reference: Mapping[str, Sequence[float]] | None = None,
    ) -> np.ndarray:
        """Aggregate score of every architecture (higher is better) from per-member scores.

        A calibrated aggregate needs the members' scores on its ``reference`` sample and scores
        each architecture on its own; the others rank ``scores`` against each other.
        """
        self._check(scores, "scores")
        if self.calibrated:
            if reference is None:
                raise DiswotError(f"aggregate {self.name!r} is calibrated: give its reference scores")
            return Calibration(self, reference).score_many(scores)
        ranks = np.stack([rankdata(np.asarray(scores[m], dtype=float)) for m in self.members])
        n = ranks.shape[1]
        if self.method == "log":
            return np.log(ranks / n).sum(0)
        if self.method == "geo":
            return np.exp(np.log(ranks).mean(0))
        return ranks.mean(0)


class Calibration:
    """A calibrated aggregate with its reference: each member's values on the reference sample.

    Args:
        aggregate: a ``cal:`` aggregate.
        reference: member name -> the member's value on every reference architecture (same
            architectures, same order, for every member).
    """

    def __init__(self, aggregate: Aggregate, reference: Mapping[str, Sequence[float]]) -> None:
        if not aggregate.calibrated:
            raise DiswotError(f"aggregate {aggregate.name!r} is not calibrated (its name lacks 'cal:')")
        aggregate._check(reference, "reference scores")
        columns = {m: np.asarray(reference[m], dtype=float) for m in aggregate.members}
        sizes = {len(c) for c in columns.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise DiswotError(
                f"the reference of {aggregate.name!r} needs one score per member and architecture"
            )
        self.aggregate = aggregate
        self.size = sizes.pop()
        # sorted once: a quantile is then two binary searches
        self.sorted = {m: np.sort(c) for m, c in columns.items()}

    @property
    def name(self) -> str:
        return self.aggregate.name

    def quantile(self, member: str, values: Sequence[float] | float) -> np.ndarray:
        """Mid-rank quantile of ``values`` among the reference values of ``member``, in (0, 1)."""
        ref = self.sorted[member]
        values = np.asarray(values, dtype=float)
        below = np.searchsorted(ref, values, side="left")
        equal = np.searchsorted(ref, values, side="right") - below
        return (below + 0.5 * equal + 0.5) / (self.size + 1)

    def score_many(self, scores: Mapping[str, Sequence[float]]) -> np.ndarray:
        """The score of each architecture; each depends only on its own member values."""
        self.aggregate._check(scores, "scores")
        return self.aggregate.merge(np.stack([self.quantile(m, scores[m]) for m in self.aggregate.members]))

    def score(self, values: Mapping[str, float]) -> float:
        """The score of one candidate from its member values."""
        return float(self.score_many({m: [values[m]] for m in self.aggregate.members if m in values})[0])


def parse_aggregate(name: str) -> Aggregate | None:
    """The :class:`Aggregate` a name (``[cal:][method:]a+b+...``) denotes, or ``None`` for a plain
    proxy name."""
    *prefixes, body = name.split(":")
    calibrated = bool(prefixes) and prefixes[0] == CALIBRATED
    if calibrated:
        prefixes = prefixes[1:]
    if "+" not in body:
        if ":" in name:
            raise DiswotError(f"{name!r}: an aggregate joins two or more proxies with '+'")
        return None
    if len(prefixes) > 1 or (prefixes and prefixes[0] not in METHODS):
        raise DiswotError(
            f"unknown aggregation {':'.join(prefixes)!r} in {name!r}; write "
            f"[{CALIBRATED}:][{'|'.join(METHODS)}:]a+b, e.g. {CALIBRATED}:log:nwot+synflow"
        )
    members = tuple(m.strip() for m in body.split("+"))
    if len(members) < 2 or not all(members):
        raise DiswotError(f"{name!r}: an aggregate needs two or more proxy names joined by '+'")
    if len(set(members)) < len(members):
        raise DiswotError(f"{name!r} names a proxy twice; list each member once")
    return Aggregate(members, prefixes[0] if prefixes else "mean", calibrated)
