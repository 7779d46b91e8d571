"""Evolutionary search engine on DEAP: strategies, budgets, the SQLite store and executors.

``diswot.search(...)`` is the entry point; see :func:`diswot.search.engine.search`.
"""

from diswot.search.budget import Budget, measure_latency_ms, parse_quantity
from diswot.search.config import SearchConfig
from diswot.search.engine import search
from diswot.search.executors import EXECUTORS, ScoringJob, make_executor
from diswot.search.result import SearchResult, Student
from diswot.search.store import EvaluationRecord, RunStore
from diswot.search.strategies import STRATEGIES, Candidate, StrategyParams, pareto_front

__all__ = [
    "EXECUTORS",
    "STRATEGIES",
    "Budget",
    "Candidate",
    "EvaluationRecord",
    "RunStore",
    "ScoringJob",
    "SearchConfig",
    "SearchResult",
    "StrategyParams",
    "Student",
    "make_executor",
    "measure_latency_ms",
    "pareto_front",
    "parse_quantity",
    "search",
]
