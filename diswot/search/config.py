"""The settings of one search: what ``diswot search`` builds from its flags and
``diswot.search(...)`` from its keyword arguments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

from diswot.errors import DiswotError
from diswot.proxies.setup import AUTO, DataSpec, TeacherSetSpec, TeacherSpec
from diswot.search.budget import Budget
from diswot.search.calibration import DEFAULT_REFERENCE_SIZE
from diswot.search.strategies import StrategyParams
from diswot.search_spaces.base import SearchSpace

#: the cost objectives of NSGA-II and of the Pareto front
OBJECTIVES = ("flops", "params", "latency_ms")


@dataclass
class SearchConfig:
    """Everything a search depends on. Numbers are checked when the config is made.

    Attributes:
        space: a registered space name or a :class:`SearchSpace` instance (custom spaces work).
        teacher: a model name (random init from ``proxy_seed``), a checkpoint path, a Hugging Face
            folder, a :class:`~diswot.models.checkpoint.Teacher`, or a trained ``nn.Module``;
            ``None`` is a random-init :data:`~diswot.proxies.setup.DEFAULT_TEACHER` (ResNet-56) for
            image data, and an error for text. Several teachers are ``[(spec, weight), ...]``: a
            teacher-aware proxy then scores ``sum_i w_i * proxy(student, teacher_i)`` (weights
            normalised to sum 1), and the store keys scores by the whole set.
            ``teacher_model`` names the architecture of a bare state_dict.
        data: an :class:`~diswot.data.ImageDataset` or :class:`~diswot.data.TextDataset`
            (Transformer spaces), a dataset name (with ``data_root``), or ``None`` for the
            embedded 300-image CIFAR-10 sample. Proxies score on ``num_batches`` class-balanced
            batches of ``batch_size`` drawn from it with ``proxy_seed``.
        proxy: the fitness, one registered proxy (higher is better) or a calibrated aggregate
            ``cal:[log:|geo:]a+b+...`` of several; ``record`` adds proxies whose values are
            stored beside it. ``"auto"`` (the default) takes the fitness the evidence supports
            for the space and the kind of teacher given
            (:func:`~diswot.proxies.setup.default_fitness`).
        budget: params/FLOPs/latency limits; candidates outside are never scored.
        strategy: ``evolution`` (regularized evolution), ``nsga2`` (score vs ``objective``) or
            ``random``; ``params`` holds their knobs.
        evaluations: distinct architectures to score; ``time_budget_s`` may stop earlier.
        seed: drives the strategy (sampling, selection, mutation).
        proxy_seed: everything a proxy value depends on: the scoring batches, a random-init
            teacher and each candidate's initialisation (default: ``seed``). Keep it fixed to
            compare search seeds on one fitness function, and to reuse scores in a shared store
            (including those ``diswot bench proxies`` computed with the same seed).
        executor, workers, address: ``serial``, ``processes`` or ``ray`` (``address`` of an
            existing cluster); the result does not depend on them.
        out: the run directory (``result.json``, ``history.csv``, ``topk.csv``, ``pareto.csv``,
            plots, ``store.sqlite``); ``None`` keeps the store in a temporary directory.
        resume: continue the killed run in ``out``; the result equals an uninterrupted run.
        store: a SQLite file to share between runs (default ``out/store.sqlite``).
        ground_truth, gt_column: a table (NB201 CSV or ``arch,accuracy``) to report the true
            accuracy of the winner and of every evaluated architecture.
        reference_size: architectures in the reference sample of a calibrated aggregate
            (scored once with its members before the search, whatever the budget, and reused
            from the store; see :mod:`diswot.search.calibration`).
    """

    space: str | SearchSpace = "nb201"
    teacher: TeacherSpec | TeacherSetSpec = None
    data: DataSpec = None
    proxy: str = AUTO
    budget: Budget | None = None  # None: unconstrained
    strategy: str = "evolution"
    _: KW_ONLY
    evaluations: int = 100
    time_budget_s: float | None = None
    seed: int = 0
    proxy_seed: int | None = None
    params: StrategyParams | None = None  # None: the defaults
    objective: str = "flops"
    record: Sequence[str] = ()
    data_root: str | Path | None = None
    teacher_model: str | None = None
    batch_size: int = 64
    num_batches: int = 1
    device: str = "cpu"
    executor: str = "serial"
    workers: int = 1
    address: str | None = None
    out: str | Path | None = None
    resume: bool = False
    store: str | Path | None = None
    ground_truth: str | Path | None = None
    gt_column: str | None = None
    top_k: int = 10
    progress: bool = True
    plots: bool = True
    reference_size: int = DEFAULT_REFERENCE_SIZE

    def __post_init__(self) -> None:
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

    @property
    def scoring_seed(self) -> int:
        """The proxy seed in effect: ``proxy_seed``, else ``seed``."""
        return self.seed if self.proxy_seed is None else self.proxy_seed
