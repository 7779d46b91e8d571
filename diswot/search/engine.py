"""The search engine: ``diswot.search(...)`` and what ``diswot search`` runs.

The engine owns everything around a strategy: inputs are validated before the run directory
is created, candidates outside the budget are rejected by the cost model before any proxy
runs, every evaluation is committed to the SQLite store, no network is scored twice, and the
outputs (``result.json``, ``history.csv``, ``topk.csv``, ``pareto.csv``, plots) are derived
from the recorded history.

Architectures that the space's ``canonical`` maps to one key are one network (NB201 cells that
differ only in dead edges, say). The ledger, the store and the history use that key: the first
proposal of a network scores, costs and records the key's own architecture, and a later proposal
of any equivalent architecture reuses the evaluation (``isomorphic_duplicates`` counts these).
Strategies keep evolving the architectures they proposed. Spaces reject members not worth
scoring (``invalid_reason``) while sampling and mutating, like budget misfits.

Resuming is replay: a run is a pure function of its configuration and seeds (proxies seed each
architecture from its key; strategies draw only from the run's RNG), so ``resume=True`` reruns
the strategy from the start, takes every evaluation the killed run committed from the store
(checking that the replay proposes the same network at the same index; proposals and their
canonical keys are deterministic, so the duplicate counters replay too), and scores only
what comes after. The result equals that of an uninterrupted run.

The engine reads top to bottom and joins parts that live in their own modules: the settings
(:mod:`~diswot.search.config`), the data, batches and teacher proxies score against
(:mod:`diswot.scoring.setup`, shared with ``diswot bench proxies``), the run directory
(:mod:`~diswot.search.rundir`), the cost model and budget-restricted operators
(:mod:`~diswot.search.costs`), the ledger behind ``evaluate`` (:mod:`~diswot.search.ledger`), the
SQLite store (:mod:`~diswot.search.store`) and the result and its files
(:mod:`~diswot.search.result`, :mod:`~diswot.search.outputs`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from deap import base

from diswot.errors import DiswotError
from diswot.proxies import PROXIES, Aggregate, parse_aggregate
from diswot.scoring.calibration import (
    CalibratedExecutor,
    CalibratedScores,
    calibrate,
)
from diswot.scoring.executors import EXECUTORS, ScoringJob, make_executor
from diswot.scoring.setup import ScoringSetup, resolve_fitness, scoring_setup
from diswot.scoring.store import ScoreStore
from diswot.search.config import SearchConfig
from diswot.search.costs import CostModel, mutate_within, sample_within
from diswot.search.ledger import EvaluationLedger, StrategyContext, cost_of
from diswot.search.result import SearchResult
from diswot.search.rundir import RunDir, run_id_of
from diswot.search.store import RunStore
from diswot.search.strategies import STRATEGIES, pareto_front
from diswot.search_spaces.base import SearchSpace, get_space

__all__ = ["SearchConfig", "SearchResult", "search"]


def search(*args: Any, config: SearchConfig | None = None, **kwargs: Any) -> SearchResult:
    """Search a space for the student that a proxy ranks highest against a teacher.

    Takes a :class:`SearchConfig` (``search(config=cfg)``) or its fields:
    ``search(space, teacher, data, proxy, budget, strategy, *, evaluations=..., seed=..., ...)``;
    see :class:`SearchConfig` for each. Inputs are checked before the run directory is made.
    """
    if config is None:
        config = SearchConfig.of(*args, **kwargs)
    elif args or kwargs:
        raise TypeError("search() takes a SearchConfig or its fields, not both")
    return _run(config)


def _run(cfg: SearchConfig) -> SearchResult:
    strategy_fn = STRATEGIES.get(cfg.strategy)
    EXECUTORS.get(cfg.executor)  # an unknown name fails before any work
    space = get_space(cfg.space) if isinstance(cfg.space, str) else cfg.space
    scoring = cfg.scoring
    proxy_names, aggregate = _check_proxy(resolve_fitness(cfg.proxy, scoring.teacher, space), cfg.record)
    scored_names = proxy_names[1:] if aggregate else proxy_names  # registered proxies only

    run_dir = RunDir(cfg.out, cfg.resume)  # the folder's lock first: one run per folder
    run_store: RunStore | None = None
    try:
        setup = scoring_setup(space, scoring, scored_names)
        truth = _read_truth(cfg, space)
        measure_latency = cfg.budget.needs_latency or cfg.objective == "latency_ms"
        costs = CostModel(space, cfg.budget, scoring.device, measure_latency=measure_latency)
        # fail on an impossible budget before anything is written
        sample_within(space, costs, cfg.budget, random.Random(cfg.seed), 200)

        config = _run_config(cfg, space, setup, proxy_names, scored_names, aggregate)
        run_id = run_id_of(config)
        run_dir.start(run_id, config)
        run_store = RunStore(run_dir.store_path(scoring.store), space.name, setup.data_key, setup.teacher_key)
        costs.store = run_store
        recorded = run_store.recorded(run_id)
        run_store.start_run(run_id, config)
    except BaseException:  # a bad input, or not a store: leave nothing behind
        if run_store is not None:
            run_store.close()
        run_dir.discard()
        run_dir.close()
        raise

    job = ScoringJob.of(space, setup, scored_names)
    pool = None
    try:
        try:
            scores: ScoreStore | CalibratedScores = run_store.scores
            calibration = None
            if aggregate:
                # the reference ignores the budget: it calibrates the space (diswot.scoring.calibration)
                members = ScoringJob.of(space, setup, aggregate.members)
                calibration = calibrate(
                    aggregate, space, run_store.scores,
                    lambda: make_executor(cfg.executor, members, cfg.workers, cfg.address),
                    scoring.reference_size, cfg.progress,
                )  # fmt: skip
                scores = CalibratedScores(run_store.scores, calibration)
            pool = make_executor(cfg.executor, job, cfg.workers, cfg.address)
            ledger = EvaluationLedger(
                space=space, costs=costs, store=run_store, scores=scores, run_id=run_id,
                executor=pool if calibration is None else CalibratedExecutor(pool, calibration),
                proxies=proxy_names, recorded=recorded, limit=cfg.evaluations,
                time_budget_s=cfg.time_budget_s, objective=cfg.objective, progress=cfg.progress,
            )  # fmt: skip
            rng = random.Random(cfg.seed)
            toolbox = base.Toolbox()
            toolbox.register("sample", sample_within, space, costs, cfg.budget, rng, 1000)
            toolbox.register("mutate", mutate_within, space, costs, cfg.budget, rng)
            toolbox.register("mate", space.crossover, rng=rng)
            toolbox.register("evaluate", ledger)
            strategy_fn(StrategyContext(toolbox, rng, ledger), cfg.params)
            ledger.bar.close()
        except BaseException:
            if run_dir.created and not run_store.recorded(run_id):
                run_store.close()
                run_store = None
                run_dir.discard()  # nothing worth keeping: leave no half-written run directory behind
            raise
        finally:
            if pool is not None:
                pool.close()
        result = _result(
            ledger, space.name, proxy_names[0], cfg.strategy, cfg.objective, truth, cfg.top_k, run_dir.path,
            space.options(),
        )  # fmt: skip
        result.teachers = [{"teacher": name, "weight": weight} for name, weight in setup.named_teachers]
        if run_dir.path is not None:
            from diswot.search.outputs import write_outputs

            write_outputs(result, run_dir.path, truth, cfg.objective, cfg.plots)
        # only now: a run marked finished has its outputs (a failed write leaves it resumable)
        run_store.finish_run(run_id)
    finally:
        if run_store is not None:
            run_store.close()
        run_dir.close()
    return result


def _read_truth(cfg: SearchConfig, space: SearchSpace) -> dict[str, float] | None:
    """The ground-truth column asked for (``None`` without ``ground_truth``)."""
    if cfg.ground_truth is None:
        return None
    from diswot.bench.ground_truth import read_ground_truth

    table = read_ground_truth(cfg.ground_truth, space, [cfg.gt_column] if cfg.gt_column else None)
    return table.values[cfg.gt_column or table.columns[0]]


def _run_config(
    cfg: SearchConfig,
    space: SearchSpace,
    setup: ScoringSetup,
    proxy_names: list[str],
    scored_names: list[str],
    aggregate: Aggregate | None,
) -> dict[str, Any]:
    """What identifies a run (its id is the hash): ``run.json``, and what a resume must repeat."""
    dataset, scoring = setup.dataset, cfg.scoring
    config = {
        "space": space.name, "space_repr": repr(space), "proxy": proxy_names[0], "record": proxy_names[1:],
        "strategy": cfg.strategy, "params": asdict(cfg.params), "objective": cfg.objective,
        "budget": cfg.budget.to_dict(), "evaluations": cfg.evaluations, "time_budget_s": cfg.time_budget_s,
        "seed": cfg.seed, "proxy_seed": scoring.proxy_seed, "dataset": dataset.name,
        "num_images": len(dataset), "batch_size": scoring.batch_size, "num_batches": scoring.num_batches,
        "teacher": setup.teacher_key,
        "device": scoring.device, "proxy_definitions": [PROXIES.get(n).cache_key for n in scored_names],
    }  # fmt: skip
    if aggregate:  # only then: the run ids of other runs stay what they were
        config["reference_size"] = scoring.reference_size
    if len(setup.named_teachers) > 1:  # likewise: a single teacher's run id is what it was
        config["teachers"] = [list(pair) for pair in setup.named_teachers]
    return config


def _check_proxy(proxy: str, record: Sequence[str]) -> tuple[list[str], Aggregate | None]:
    """The fitness's name, then every other proxy to record, and the fitness's calibrated
    aggregate if it is one (whose members are then recorded first)."""
    aggregate = parse_aggregate(proxy.strip().lower())
    if aggregate is not None and not aggregate.calibrated:
        raise DiswotError(
            f"--proxy {proxy!r} is a rank aggregate, which ranks a whole population at once and "
            f"cannot score one candidate; search with its calibrated form --proxy cal:{aggregate.name} "
            "(quantiles against a fixed reference sample), or with a single proxy and --record others"
        )
    if aggregate is not None:
        names = [aggregate.name, *(PROXIES.get(m).name for m in aggregate.members)]
    else:
        names = [PROXIES.get(proxy.strip().lower()).name]
    for extra in record:
        spec = PROXIES.get(extra.strip().lower())
        if spec.name not in names:
            names.append(spec.name)
    return names, aggregate


def _result(
    ledger: EvaluationLedger,
    space: str,
    proxy: str,
    strategy: str,
    objective: str,
    truth: dict[str, float] | None,
    top_k: int,
    out_dir: Path | None,
    space_options: dict[str, Any],
) -> SearchResult:
    history = ledger.history
    if not history:
        raise DiswotError("the search evaluated no architecture (is the time budget too small?)")
    ranked = sorted(history, key=lambda e: (-e.score, e.eval_index))
    best = ranked[0]

    front = [history[i] for i in pareto_front([(e.score, cost_of(e, objective)) for e in history])]
    return SearchResult(
        arch=best.arch, score=best.score, params=best.params, flops=best.flops, latency_ms=best.latency_ms,
        true_accuracy=truth.get(best.arch) if truth else None, proxy=proxy, space=space, strategy=strategy,
        evaluations=len(history), cache_hits=ledger.cache_hits, duplicates=ledger.duplicates,
        isomorphic_duplicates=ledger.isomorphic_duplicates,
        wall_s=ledger.elapsed(), history=history, top_k=ranked[:top_k],
        pareto=sorted(front, key=lambda e: cost_of(e, objective)), out=out_dir,
        space_options=space_options,
    )  # fmt: skip
