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
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deap import base
from torch import nn

from diswot.data import ImageDataset, TextDataset
from diswot.errors import BudgetError, DiswotError, RunDirError
from diswot.models.checkpoint import Teacher
from diswot.proxies import PROXIES, Aggregate, parse_aggregate
from diswot.proxies.cache import ScoreCache
from diswot.proxies.setup import scoring_setup
from diswot.search.budget import Budget, format_quantity, measure_latency_ms
from diswot.search.calibration import (
    DEFAULT_REFERENCE_SIZE,
    CalibratedExecutor,
    CalibratedScores,
    calibrate,
    check_reference_size,
)
from diswot.search.executors import EXECUTORS, Evaluator, make_executor
from diswot.search.store import Evaluation, RunStore
from diswot.search.strategies import STRATEGIES, Candidate, ScoreCostFitness, StrategyParams, pareto_front
from diswot.search_spaces.base import Arch, SearchSpace, get_space

OBJECTIVES = ("flops", "params", "latency_ms")
RUN_FILE = "run.json"


@dataclass
class SearchResult:
    """What a search returns (and writes to ``result.json``)."""

    arch: str
    score: float
    params: float
    flops: float
    latency_ms: float | None
    true_accuracy: float | None
    proxy: str
    space: str
    strategy: str
    evaluations: int
    cache_hits: int
    duplicates: int  # proposals of an architecture already proposed, served from the ledger
    isomorphic_duplicates: int  # proposals of a new architecture that is an already-scored network
    wall_s: float
    history: list[Evaluation] = field(repr=False)
    top_k: list[Evaluation] = field(repr=False)
    pareto: list[Evaluation] = field(repr=False)
    out: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        summary = {k: v for k, v in asdict(self).items() if k not in {"history", "top_k", "pareto", "out"}}
        summary["top_k"] = [{"arch": e.arch, "score": e.score, "flops": e.flops, "params": e.params}
                            for e in self.top_k]  # fmt: skip
        summary["pareto"] = [{"arch": e.arch, "score": e.score, "flops": e.flops, "params": e.params,
                              "latency_ms": e.latency_ms} for e in self.pareto]  # fmt: skip
        return summary


class CostModel:
    """Params/FLOPs (from one build, cached in memory and in the store) and measured latency."""

    def __init__(self, space: SearchSpace, budget: Budget, device: str, measure_latency: bool) -> None:
        self.space, self.budget, self.device = space, budget, device
        self.measure_latency = measure_latency
        self.store: RunStore | None = None
        self.seen: dict[str, list[float]] = {"flops": [], "params": [], "latency_ms": []}

    def cost(self, arch: Arch, key: str) -> tuple[float, float]:
        known = self.store.get_cost(key) if self.store else None
        if known is None:
            c = self.space.cost(arch)
            known = (float(c.params), float(c.flops))
            if self.store:
                self.store.put_cost(key, *known)
        return known

    def latency(self, arch: Arch, key: str) -> float:
        known = self.store.get_latency(key, self.device) if self.store else None
        if known is None:
            known = measure_latency_ms(self.space, arch, self.device)
            if self.store:
                self.store.put_latency(key, self.device, known)
        return known

    def fits(self, arch: Arch) -> bool:
        key = self.space.encode(arch)
        params, flops = self.cost(arch, key)
        self.seen["params"].append(params)
        self.seen["flops"].append(flops)
        if self.budget.violations(flops, params):
            return False
        if self.budget.needs_latency:
            latency = self.latency(arch, key)
            self.seen["latency_ms"].append(latency)
            return not self.budget.violations(flops, params, latency)
        return True

    def range_text(self) -> str:
        parts = [
            f"{k} {format_quantity(min(v))}..{format_quantity(max(v))}" for k, v in self.seen.items() if v
        ]
        return ", ".join(parts)


class Evaluations:
    """The run's ledger, and the ``evaluate`` operator strategies call through the toolbox."""

    def __init__(
        self,
        *,
        space: SearchSpace,
        costs: CostModel,
        store: RunStore,
        scores: ScoreCache | CalibratedScores,
        run_id: str,
        executor: Any,
        proxies: Sequence[str],
        recorded: dict[int, Evaluation],
        limit: int,
        time_budget_s: float | None,
        objective: str,
        progress: bool,
    ) -> None:
        self.space, self.costs, self.store, self.scores, self.run_id = space, costs, store, scores, run_id
        self.executor, self.recorded = executor, recorded
        self.proxies, self.proxy = list(proxies), proxies[0]
        self.limit, self.time_budget_s, self.objective = limit, time_budget_s, objective
        self.history: list[Evaluation] = []
        self.by_key: dict[str, Evaluation] = {}
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
    def candidate(self, evaluation: Evaluation, arch: Arch) -> Candidate:
        cost = _cost_of(evaluation, self.objective)
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
                evaluation = Evaluation(
                    len(self.history), key, values[self.proxy], values, params, flops, latency,
                    self.generation, self.elapsed(), was_cached,
                )  # fmt: skip
                self.store.record(self.run_id, evaluation)
            self.history.append(evaluation)
            self.by_key[key] = evaluation
            self.bar.update(1)
            self.best_score = max(self.best_score, evaluation.score)
            self.bar.set_postfix(best=f"{self.best_score:.4g}", refresh=False)


class _Context:
    """What a strategy sees: the toolbox, the run's RNG and whether to stop."""

    def __init__(self, toolbox: base.Toolbox, rng: random.Random, evaluations: Evaluations) -> None:
        self.toolbox, self.rng, self._evaluations = toolbox, rng, evaluations

    @property
    def exhausted(self) -> bool:
        return self._evaluations.exhausted


def _admissible(space: SearchSpace, costs: CostModel, arch: Arch) -> bool:
    """Whether ``arch`` may be scored and its network (the canonical architecture) meets the budget."""
    return space.invalid_reason(arch) is None and costs.fits(space.decode(space.canonical(arch)))


def _sample_within(
    space: SearchSpace, costs: CostModel, budget: Budget, rng: random.Random, tries: int
) -> Arch:
    for _ in range(tries):
        arch = space.sample(rng)
        if _admissible(space, costs, arch):
            return arch
    if not costs.seen["params"]:  # no sample was valid, so none was even costed
        raise DiswotError(
            f"all {tries} random samples of space {space.name!r} are invalid, e.g. "
            f"{space.encode(arch)}: {space.invalid_reason(arch)}"
        )
    raise BudgetError(
        f"no architecture of space {space.name!r} met the budget ({_budget_text(budget)}) in {tries} "
        f"random samples; the sampled architectures span {costs.range_text()}. Widen the budget."
    )


def _mutate_within(
    space: SearchSpace, costs: CostModel, budget: Budget, rng: random.Random, arch: Arch
) -> Arch:
    for _ in range(50):
        child = space.mutate(arch, rng)
        if _admissible(space, costs, child):
            return child
    return _sample_within(space, costs, budget, rng, 1000)


def _budget_text(budget: Budget) -> str:
    parts = [f"{k}={format_quantity(v)}" for k, v in budget.to_dict().items() if v is not None]
    return ", ".join(parts) or "none"


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


def search(
    space: str | SearchSpace = "nb201",
    teacher: str | Path | nn.Module | Teacher | None = None,
    data: ImageDataset | TextDataset | str | None = None,
    proxy: str = "diswot",
    budget: Budget | None = None,
    strategy: str = "evolution",
    *,
    evaluations: int = 100,
    time_budget_s: float | None = None,
    seed: int = 0,
    proxy_seed: int | None = None,
    params: StrategyParams | None = None,
    objective: str = "flops",
    record: Sequence[str] = (),
    data_root: str | Path | None = None,
    teacher_model: str | None = None,
    batch_size: int = 64,
    num_batches: int = 1,
    device: str = "cpu",
    executor: str = "serial",
    workers: int = 1,
    address: str | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    store: str | Path | None = None,
    ground_truth: str | Path | None = None,
    gt_column: str | None = None,
    top_k: int = 10,
    progress: bool = True,
    plots: bool = True,
    reference_size: int = DEFAULT_REFERENCE_SIZE,
) -> SearchResult:
    """Search ``space`` for the student that ``proxy`` ranks highest against ``teacher``.

    Args:
        space: a registered space name or a :class:`SearchSpace` instance (custom spaces work).
        teacher: a model name (random init from ``proxy_seed``), a checkpoint path, a
            :class:`Teacher`, or a trained ``nn.Module``; ``None`` is a random-init
            :data:`~diswot.proxies.setup.DEFAULT_TEACHER` (ResNet-56) for image data, and an error for text.
            Only loaded when a proxy needs one. ``teacher_model`` names the architecture of a bare state_dict.
        data: an :class:`ImageDataset` or :class:`TextDataset` (Transformer spaces), a dataset
            name (with ``data_root``), or ``None`` for the embedded 300-image CIFAR-10 sample.
            Proxies score on ``num_batches`` class-balanced batches of ``batch_size`` drawn from
            it with ``proxy_seed``.
        proxy: the fitness, one registered proxy (higher is better) or a calibrated aggregate
            ``cal:[log:|geo:]a+b+...`` of several; ``record`` adds proxies whose values are
            stored beside it.
        budget: params/FLOPs/latency limits; candidates outside are never scored.
        strategy: ``evolution`` (regularized evolution), ``nsga2`` (score vs ``objective``) or
            ``random``.
        seed: drives the strategy (sampling, selection, mutation).
        proxy_seed: everything a proxy value depends on: the scoring batches, a random-init
            teacher and each candidate's initialisation (default: ``seed``). Keep it fixed to
            compare search seeds on one fitness function, and to reuse scores in a shared store
            (including those ``diswot bench proxies`` computed with the same seed).
        evaluations: distinct architectures to score; ``time_budget_s`` may stop earlier.
        executor, workers, address: ``serial``, ``processes`` or ``ray`` (``address`` of an
            existing cluster); the result does not depend on them.
        out: the run directory (``result.json``, ``history.csv``, ``topk.csv``, ``pareto.csv``,
            plots, ``store.sqlite``); ``None`` keeps the store in memory-backed temp space.
        resume: continue the killed run in ``out``; the result equals an uninterrupted run.
        store: a SQLite file to share between runs (default ``out/store.sqlite``).
        ground_truth, gt_column: a table (NB201 CSV or ``arch,accuracy``) to report the true
            accuracy of the winner and of every evaluated architecture.
        reference_size: architectures in the reference sample of a calibrated aggregate
            (scored once with its members before the search, whatever the budget, and reused
            from the store; see :mod:`diswot.search.calibration`).
    """
    params = params or StrategyParams()
    budget = budget or Budget()
    if evaluations < 1:
        raise DiswotError(f"evaluations must be at least 1, got {evaluations}")
    if objective not in OBJECTIVES:
        raise DiswotError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if params.population < 2 or params.tournament < 1 or params.proposals_per_step < 1:
        raise DiswotError("population must be >= 2, tournament and proposals per step >= 1")
    strategy_fn = STRATEGIES.get(strategy)
    EXECUTORS.get(executor)  # an unknown name fails before any work
    space_obj = get_space(space) if isinstance(space, str) else space
    proxy_names, aggregate = _check_proxy(proxy, record)
    proxy = proxy_names[0]
    scored_names = proxy_names[1:] if aggregate else proxy_names  # registered proxies only
    if aggregate:
        check_reference_size(reference_size)

    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        _check_run_dir(out_dir, resume)
    proxy_seed = seed if proxy_seed is None else proxy_seed
    setup = scoring_setup(
        space_obj, data, teacher, scored_names, batch_size=batch_size, num_batches=num_batches,
        proxy_seed=proxy_seed, device=device, data_root=data_root, teacher_model=teacher_model,
    )  # fmt: skip
    dataset = setup.dataset
    truth = None
    if ground_truth is not None:
        from diswot.bench.ground_truth import read_ground_truth

        table = read_ground_truth(ground_truth, space_obj, [gt_column] if gt_column else None)
        truth = table.values[gt_column or table.columns[0]]

    costs = CostModel(
        space_obj, budget, device, measure_latency=budget.needs_latency or objective == "latency_ms"
    )
    # fail on an impossible budget before anything is written
    _sample_within(space_obj, costs, budget, random.Random(seed), 200)

    config = {
        "space": space_obj.name, "space_repr": repr(space_obj), "proxy": proxy, "record": proxy_names[1:],
        "strategy": strategy, "params": asdict(params), "objective": objective, "budget": budget.to_dict(),
        "evaluations": evaluations, "time_budget_s": time_budget_s, "seed": seed, "proxy_seed": proxy_seed,
        "dataset": dataset.name, "num_images": len(dataset), "batch_size": batch_size,
        "num_batches": num_batches, "teacher": setup.teacher_key, "device": device,
        "proxy_definitions": [PROXIES.get(n).cache_key for n in scored_names],
    }  # fmt: skip
    if aggregate:  # only then: the run ids of other runs stay what they were
        config["reference_size"] = reference_size
    run_id = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    created = made_dir = False
    if out_dir is not None:
        if resume:
            _check_same_config(out_dir, config)
        else:
            created = True  # _check_run_dir made sure it is absent or empty
            made_dir = not out_dir.exists()
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / RUN_FILE).write_text(json.dumps({"run_id": run_id, **config}, indent=2))
    store_path = Path(store) if store else (out_dir / "store.sqlite" if out_dir else None)
    tmp_dir = None
    if store_path is None:
        import tempfile

        tmp_dir = Path(tempfile.mkdtemp(prefix="diswot-search-"))
        store_path = tmp_dir / "store.sqlite"
    run_store = RunStore(store_path, space_obj.name, setup.data_key, setup.teacher_key)
    costs.store = run_store
    recorded = run_store.recorded(run_id)
    run_store.start_run(run_id, config)

    evaluator = Evaluator.of(space_obj, setup, scored_names)
    pool = None
    try:
        ledger_scores: ScoreCache | CalibratedScores = run_store.scores
        calibration = None
        if aggregate:
            # the reference ignores the budget: it calibrates the space (diswot.search.calibration)
            members = Evaluator.of(space_obj, setup, aggregate.members)
            calibration = calibrate(
                aggregate, space_obj, run_store.scores,
                lambda: make_executor(executor, members, workers, address), reference_size, progress,
            )  # fmt: skip
            ledger_scores = CalibratedScores(run_store.scores, calibration)
        pool = make_executor(executor, evaluator, workers, address)
        ledger_pool = pool if calibration is None else CalibratedExecutor(pool, calibration)
        ledger = Evaluations(
            space=space_obj, costs=costs, store=run_store, scores=ledger_scores, run_id=run_id,
            executor=ledger_pool, proxies=proxy_names,
            recorded=recorded, limit=evaluations, time_budget_s=time_budget_s, objective=objective,
            progress=progress,
        )  # fmt: skip
        rng = random.Random(seed)
        toolbox = base.Toolbox()
        toolbox.register("sample", _sample_within, space_obj, costs, budget, rng, 1000)
        toolbox.register("mutate", _mutate_within, space_obj, costs, budget, rng)
        toolbox.register("mate", space_obj.crossover, rng=rng)
        toolbox.register("evaluate", ledger)
        toolbox.register("map", pool.map)
        strategy_fn(_Context(toolbox, rng, ledger), params)
        ledger.bar.close()
        run_store.finish_run(run_id)
    except BaseException:
        if created and not run_store.recorded(run_id):
            run_store.close()
            # nothing worth keeping: leave no half-written run directory behind
            for child in [out_dir] if made_dir else list(out_dir.iterdir()):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
            run_store = None  # type: ignore[assignment]
        raise
    finally:
        if pool is not None:
            pool.close()
        if run_store is not None:
            run_store.close()
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)

    result = _result(ledger, space_obj.name, proxy, strategy, objective, truth, top_k, out_dir)
    if out_dir is not None:
        from diswot.search.outputs import write_outputs

        write_outputs(result, out_dir, truth, objective, plots)
    return result


def _cost_of(evaluation: Evaluation, objective: str) -> float:
    """The evaluation's value of the cost objective (``flops``, ``params`` or ``latency_ms``)."""
    return float(getattr(evaluation, objective) or 0.0)


def _check_run_dir(out_dir: Path, resume: bool) -> None:
    has_run = (out_dir / RUN_FILE).is_file()
    if resume and not has_run:
        raise RunDirError(f"nothing to resume in {out_dir}: it holds no {RUN_FILE}; drop --resume")
    if not resume and has_run:
        raise RunDirError(
            f"{out_dir} already holds a search run; pass --resume to continue it, or choose another --out"
        )
    if not resume and out_dir.exists() and any(out_dir.iterdir()):
        raise RunDirError(f"{out_dir} exists and is not empty; choose another --out")


def _check_same_config(out_dir: Path, config: dict[str, Any]) -> None:
    stored = json.loads((out_dir / RUN_FILE).read_text())
    differing = [k for k in config if stored.get(k) != config[k]]
    if "proxy_definitions" in differing:
        raise RunDirError(
            f"{out_dir} was scored by another version of its proxies ({stored.get('proxy_definitions')}, "
            f"now {config['proxy_definitions']}), so it cannot be continued consistently; start a new "
            "run with another --out"
        )
    if differing:
        details = "; ".join(f"{k}: run has {stored.get(k)!r}, now {config[k]!r}" for k in differing)
        raise RunDirError(f"--resume must repeat the original settings of {out_dir}: {details}")


def _result(
    ledger: Evaluations,
    space: str,
    proxy: str,
    strategy: str,
    objective: str,
    truth: dict[str, float] | None,
    top_k: int,
    out_dir: Path | None,
) -> SearchResult:
    history = ledger.history
    if not history:
        raise DiswotError("the search evaluated no architecture (is the time budget too small?)")
    ranked = sorted(history, key=lambda e: (-e.score, e.eval_index))
    best = ranked[0]

    front = [history[i] for i in pareto_front([(e.score, _cost_of(e, objective)) for e in history])]
    return SearchResult(
        arch=best.arch, score=best.score, params=best.params, flops=best.flops, latency_ms=best.latency_ms,
        true_accuracy=truth.get(best.arch) if truth else None, proxy=proxy, space=space, strategy=strategy,
        evaluations=len(history), cache_hits=ledger.cache_hits, duplicates=ledger.duplicates,
        isomorphic_duplicates=ledger.isomorphic_duplicates,
        wall_s=ledger.elapsed(), history=history, top_k=ranked[:top_k],
        pareto=sorted(front, key=lambda e: _cost_of(e, objective)), out=out_dir,
    )  # fmt: skip
