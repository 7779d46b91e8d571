"""The reference sample of a calibrated aggregate (``cal:log:a+b``), and how a search uses it.

A calibrated aggregate scores a candidate by the quantiles of its member values among a fixed
reference sample of the space (:class:`~diswot.proxies.aggregate.Calibration`). The reference:

* is the first ``size`` distinct architectures drawn by ``space.sample`` from a fixed seed
  (:data:`REFERENCE_SEED`), independent of the search seed and of the budget: it calibrates the
  *space*, so searches with other budgets or seeds share it, and a candidate's score does not
  change with the budget it was found under. Dead architectures (no path from input to output)
  stay in: they are part of the space, and leaving them out changed the held-out rho of the NB201
  aggregate by +0.002, well inside its confidence interval (benchmarks/calibrated_aggregate.py).
  A smaller reference is a prefix of a larger one, so growing ``--reference-size`` reuses scores;
* is scored with the members only, through the same score cache as candidates, keyed by (space,
  arch, proxy version, data fingerprint incl. proxy seed, teacher fingerprint): a second search,
  a resumed one or ``diswot bench proxies`` sharing the store never scores it again. It costs
  ``size x members`` proxy evaluations the first time, which the progress bar says.

In a search, :class:`CalibratedScores` and :class:`CalibratedExecutor` add the aggregate's value
to every candidate's member scores, so the engine's ledger treats it like any proxy.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from diswot.errors import DiswotError
from diswot.proxies.aggregate import Aggregate, Calibration
from diswot.scoring.config import check_reference_size
from diswot.scoring.executors import Executor, Scores
from diswot.scoring.store import ScoreStore
from diswot.search_spaces.base import SearchSpace

#: the seed of the reference sample: fixed, so that the reference depends on the space alone
REFERENCE_SEED = 20230601


def reference_keys(space: SearchSpace, size: int) -> list[str]:
    """The reference sample: the first ``size`` distinct architectures from :data:`REFERENCE_SEED`
    (every architecture of a finite space smaller than that)."""
    check_reference_size(size)
    if space.size is not None and size >= space.size:
        return [space.encode(a) for a in space.enumerate()]
    rng = random.Random(REFERENCE_SEED)
    keys: dict[str, None] = {}
    for _ in range(100 * size):
        keys[space.encode(space.sample(rng))] = None
        if len(keys) == size:
            return list(keys)
    raise DiswotError(
        f"space {space.name!r} gave only {len(keys)} distinct architectures in {100 * size} samples; "
        "use a smaller --reference-size"
    )


def calibrate(
    aggregate: Aggregate,
    space: SearchSpace,
    cache: ScoreStore,
    make_executor: Callable[[], Executor],
    size: int,
    progress: bool = True,
) -> Calibration:
    """The aggregate's :class:`Calibration`, scoring only the reference architectures ``cache``
    lacks (with an executor from ``make_executor``, started only then) and storing them."""
    from tqdm import tqdm

    keys = reference_keys(space, size)
    members = list(aggregate.members)
    known = {k: cache.get(k, members) for k in keys}
    missing = [k for k in keys if len(known[k]) < len(members)]
    if missing:
        count = f"{len(missing)} of {len(keys)}" if len(missing) < len(keys) else f"{len(keys)}"
        desc = f"calibrating {aggregate.name}: {count} reference archs x {len(members)} proxies"
        executor = make_executor()
        step = 4 * executor.workers  # commit as we go: a killed calibration keeps what it scored
        try:
            with tqdm(total=len(missing), desc=desc, disable=not progress, unit="arch") as bar:
                for start in range(0, len(missing), step):
                    chunk = missing[start : start + step]
                    for key, scores in zip(chunk, executor.map(chunk), strict=True):
                        cache.put(key, scores)
                        known[key] = scores
                    bar.update(len(chunk))
        finally:
            executor.close()
    return Calibration(aggregate, {m: [known[k][m][0] for k in keys] for m in members})


def with_aggregate(calibration: Calibration, scores: Scores) -> Scores:
    """``scores`` plus the aggregate's value (its time: the members' sum) once every member is in."""
    members = calibration.aggregate.members
    if not all(m in scores for m in members):
        return scores
    value = calibration.score({m: scores[m][0] for m in members})
    return {calibration.name: (value, sum(scores[m][1] for m in members)), **scores}


class CalibratedScores:
    """A score cache through which a calibrated aggregate reads like a stored proxy: ``get`` adds
    it when every member is stored, ``put`` stores the members only (the aggregate is derived)."""

    def __init__(self, scores: ScoreStore, calibration: Calibration) -> None:
        self.scores, self.calibration = scores, calibration

    def get(self, arch: str, proxies: Sequence[str]) -> Scores:
        found = self.scores.get(arch, [p for p in proxies if p != self.calibration.name])
        return with_aggregate(self.calibration, found)

    def put(self, arch: str, results: Scores) -> None:
        self.scores.put(arch, {p: v for p, v in results.items() if p != self.calibration.name})


class CalibratedExecutor:
    """An executor whose results carry the calibrated aggregate beside its members' scores."""

    def __init__(self, executor: Executor, calibration: Calibration) -> None:
        self.executor, self.calibration = executor, calibration
        self.workers = executor.workers

    def map(self, keys: Sequence[str]) -> list[Scores]:
        return [with_aggregate(self.calibration, s) for s in self.executor.map(keys)]

    def close(self) -> None:
        self.executor.close()
