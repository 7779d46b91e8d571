"""The run's evaluation ledger: the ``evaluate`` operator strategies call, and what it records.

The ledger is keyed by network: architectures that the space's ``canonical`` maps to one key
share one evaluation. The first proposal of a network scores, costs and records the key's own
architecture; a later proposal of it, or of an equivalent architecture, reuses the evaluation.
On resume the ledger takes what the killed run committed (by index) instead of scoring it, and
checks that the replay proposes the same network at the same index.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

from deap import base

from diswot.errors import RunDirError
from diswot.scoring.calibration import CalibratedScores
from diswot.scoring.store import ScoreStore
from diswot.search.costs import CostModel
from diswot.search.store import EvaluationRecord, RunStore
from diswot.search.strategies import Candidate, ScoreCostFitness
from diswot.search_spaces.base import Arch, SearchSpace


class EvaluationLedger:
    """The run's ledger, and the ``evaluate`` operator strategies call through the toolbox."""

    def __init__(
        self,
        *,
        space: SearchSpace,
        costs: CostModel,
        store: RunStore,
        scores: ScoreStore | CalibratedScores,
        run_id: str,
        executor: Any,
        proxies: Sequence[str],
        recorded: dict[int, EvaluationRecord],
        limit: int,
        time_budget_s: float | None,
        objective: str,
        progress: bool,
    ) -> None:
        self.space, self.costs, self.store, self.scores, self.run_id = space, costs, store, scores, run_id
        self.executor, self.recorded = executor, recorded
        self.proxies, self.proxy = list(proxies), proxies[0]
        self.limit, self.time_budget_s, self.objective = limit, time_budget_s, objective
        self.history: list[EvaluationRecord] = []
        self.by_key: dict[str, EvaluationRecord] = {}
        self.cache_hits = 0
        self.best_score = float("-inf")  # for the progress bar
        self.duplicates = 0
        self.isomorphic_duplicates = 0
        self.proposed: set[str] = set()  # every architecture proposed, to tell repeats from aliases
        self.stale_proposals = 0
        self.generation = 0
        self.resumed_wall_s = recorded[max(recorded)].wall_s if recorded else 0.0
        self.started = time.perf_counter()
        from tqdm import tqdm

        self.bar = tqdm(total=limit, desc=f"search {space.name}", disable=not progress, unit="arch")

    # stopping ----------------------------------------------------------------------------------
    def elapsed(self) -> float:
        if len(self.history) < len(self.recorded):
            return self.history[-1].wall_s if self.history else 0.0
        return self.resumed_wall_s + time.perf_counter() - self.started

    @property
    def out_of_time(self) -> bool:
        return self.time_budget_s is not None and self.elapsed() >= self.time_budget_s

    @property
    def exhausted(self) -> bool:
        # a small space (or a tight budget) may run out of new architectures before the limit
        return len(self.history) >= self.limit or self.out_of_time or self.stale_proposals > 2000

    # the evaluate operator --------------------------------------------------------------------
    def candidate(self, evaluation: EvaluationRecord, arch: Arch) -> Candidate:
        cost = cost_of(evaluation, self.objective)
        return Candidate(arch, evaluation.arch, ScoreCostFitness((evaluation.score, cost)))

    def __call__(self, archs: Sequence[Arch]) -> list[Candidate]:
        self.generation += 1 if self.history else 0
        # the ledger is keyed by network: equivalent architectures share one canonical key
        keys = [self.space.canonical(self.space.check(arch)) for arch in archs]
        fresh: dict[str, Arch] = {}
        for key, arch in zip(keys, archs, strict=True):
            proposed = self.space.encode(arch)
            if key in self.by_key or key in fresh:  # already scored in this run: reuse, never rescore
                if proposed in self.proposed:
                    self.duplicates += 1
                else:
                    self.isomorphic_duplicates += 1
            elif len(self.history) + len(fresh) < self.limit:
                fresh[key] = self.space.decode(key)  # the key's own architecture is what is scored
            self.proposed.add(proposed)
        self.stale_proposals = 0 if fresh else self.stale_proposals + len(archs)
        self._score(fresh)
        return [
            self.candidate(self.by_key[k], a) for k, a in zip(keys, archs, strict=True) if k in self.by_key
        ]

    def _score(self, fresh: dict[str, Arch]) -> None:
        replayed = {}
        for offset, key in enumerate(fresh):
            index = len(self.history) + offset
            if index in self.recorded:
                if self.recorded[index].arch != key:
                    raise RunDirError(
                        f"cannot resume: evaluation {index} of the stored run is "
                        f"{self.recorded[index].arch!r} "
                        f"but the replay proposes {key!r}; the store was written by a different "
                        "version or configuration. Start a new run with another --out."
                    )
                replayed[key] = self.recorded[index]
        to_score = [k for k in fresh if k not in replayed]
        cached = {k: self.scores.get(k, self.proxies) for k in to_score}
        computed_keys = [k for k in to_score if len(cached[k]) < len(self.proxies)]
        computed = (
            dict(zip(computed_keys, self.executor.map(computed_keys), strict=True)) if computed_keys else {}
        )
        for key, arch in fresh.items():
            if key in replayed:
                evaluation = replayed[key]
                self.cache_hits += 1
            else:
                was_cached = key not in computed
                if was_cached:
                    self.cache_hits += 1
                else:
                    self.scores.put(key, computed[key])
                values = {n: v for n, (v, _ms) in (cached[key] if was_cached else computed[key]).items()}
                params, flops = self.costs.cost(arch, key)
                latency = self.costs.latency(arch, key) if self.costs.measure_latency else None
                evaluation = EvaluationRecord(
                    len(self.history), key, values[self.proxy], values, params, flops, latency,
                    self.generation, self.elapsed(), was_cached,
                )  # fmt: skip
                self.store.record(self.run_id, evaluation)
            self.history.append(evaluation)
            self.by_key[key] = evaluation
            self.bar.update(1)
            self.best_score = max(self.best_score, evaluation.score)
            self.bar.set_postfix(best=f"{self.best_score:.4g}", refresh=False)


class StrategyContext:
    """What a strategy sees: the toolbox, the run's RNG and whether to stop."""

    def __init__(self, toolbox: base.Toolbox, rng: random.Random, evaluations: EvaluationLedger) -> None:
        self.toolbox, self.rng, self._evaluations = toolbox, rng, evaluations

    @property
    def exhausted(self) -> bool:
        return self._evaluations.exhausted


def cost_of(evaluation: EvaluationRecord, objective: str) -> float:
    """The evaluation's value of the cost objective (``flops``, ``params`` or ``latency_ms``)."""
    return float(getattr(evaluation, objective) or 0.0)
