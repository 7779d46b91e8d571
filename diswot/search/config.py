"""The settings of one search: what ``diswot search`` builds from its flags and
``diswot.search(...)`` from its keyword arguments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field, fields
from pathlib import Path
from typing import Any

from diswot.errors import DiswotError
from diswot.scoring.budget import Budget
from diswot.scoring.config import ScoringConfig
from diswot.scoring.setup import AUTO
from diswot.search.strategies import StrategyParams
from diswot.search_spaces.base import SearchSpace
from diswot.seeds import check_seed

#: the cost objectives of NSGA-II and of the Pareto front
OBJECTIVES = ("flops", "params", "latency_ms")
#: ``search(...)``'s positional arguments, in order: the search's and the scoring's first fields
POSITIONAL = ("space", "teacher", "data", "proxy", "budget", "strategy")
SCORING_FIELDS = tuple(f.name for f in fields(ScoringConfig))


@dataclass
class SearchConfig:
    """Everything a search depends on. Numbers are checked when the config is made.

    Attributes:
        space: a registered space name or a :class:`SearchSpace` instance (custom spaces work).
        scoring: what every score depends on (data, teacher(s), batches, proxy seed, device,
            reference size, store): a :class:`~diswot.scoring.config.ScoringConfig`; its proxy
            seed defaults to ``seed``. :meth:`of` (and ``diswot.search(...)``) take its fields
            flat, beside the search's own.
        proxy: the fitness, one registered proxy (higher is better) or a calibrated aggregate
            ``cal:[log:|geo:]a+b+...`` of several; ``record`` adds proxies whose values are
            stored beside it. ``"auto"`` (the default) takes the fitness the evidence supports
            for the space and the kind of teacher given
            (:func:`~diswot.scoring.setup.default_fitness`).
        budget: params/FLOPs/latency limits; candidates outside are never scored.
        strategy: ``evolution`` (regularized evolution), ``nsga2`` (score vs ``objective``) or
            ``random``; ``params`` holds their knobs.
        evaluations: distinct architectures to score; ``time_budget_s`` may stop earlier.
        seed: drives the strategy (sampling, selection, mutation).
        executor, workers, address: ``serial``, ``processes`` or ``ray`` (``address`` of an
            existing cluster); the result does not depend on them.
        out: the run directory (``result.json``, ``history.csv``, ``topk.csv``, ``pareto.csv``,
            plots, ``store.sqlite``); ``None`` keeps the store in a temporary directory.
        resume: continue the killed run in ``out``; the result equals an uninterrupted run.
        ground_truth, gt_column: a table (NB201 CSV or ``arch,accuracy``) to report the true
            accuracy of the winner and of every evaluated architecture.
    """

    space: str | SearchSpace = "nb201"
    proxy: str = AUTO
    budget: Budget | None = None  # None: unconstrained
    strategy: str = "evolution"
    _: KW_ONLY
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    evaluations: int = 100
    time_budget_s: float | None = None
    seed: int = 0
    params: StrategyParams | None = None  # None: the defaults
    objective: str = "flops"
    record: Sequence[str] = ()
    executor: str = "serial"
    workers: int = 1
    address: str | None = None
    out: str | Path | None = None
    resume: bool = False
    ground_truth: str | Path | None = None
    gt_column: str | None = None
    top_k: int = 10
    progress: bool = True
    plots: bool = True

    def __post_init__(self) -> None:
        check_seed(self.seed, "seed (--seed)")
        if not isinstance(self.scoring, ScoringConfig):
            raise DiswotError(f"scoring must be a ScoringConfig, got {type(self.scoring).__name__}")
        self.scoring = self.scoring.seeded(self.seed)
        self.budget = self.budget or Budget()
        self.params = self.params or StrategyParams()
        if self.evaluations < 1:
            raise DiswotError(f"evaluations must be at least 1, got {self.evaluations}")
        if self.top_k < 1:
            raise DiswotError(f"top_k must be at least 1, got {self.top_k}")
        if self.objective not in OBJECTIVES:
            raise DiswotError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        p = self.params
        if p.population < 2 or p.tournament < 1 or p.proposals_per_step < 1:
            raise DiswotError("population must be >= 2, tournament and proposals per step >= 1")

    @classmethod
    def of(cls, *args: Any, **kwargs: Any) -> SearchConfig:
        """A config from flat arguments: ``of(space, teacher, data, proxy, budget, strategy, *,
        evaluations=..., batch_size=..., ...)``, the scoring fields (:data:`SCORING_FIELDS`)
        gathered into :attr:`scoring`."""
        if len(args) > len(POSITIONAL):
            raise TypeError(
                f"search() takes at most {len(POSITIONAL)} positional arguments ({', '.join(POSITIONAL)})"
            )
        for name, value in zip(POSITIONAL, args, strict=False):
            if name in kwargs:
                raise TypeError(f"search() got {name!r} twice")
            kwargs[name] = value
        if "scoring" in kwargs and any(k in kwargs for k in SCORING_FIELDS):
            raise TypeError("give the scoring fields flat or as scoring=ScoringConfig(...), not both")
        scoring = {k: kwargs.pop(k) for k in SCORING_FIELDS if k in kwargs}
        if scoring:
            kwargs["scoring"] = ScoringConfig(**scoring)
        return cls(**kwargs)
