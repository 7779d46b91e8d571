"""Evolutionary search engine on DEAP: strategies, the run folder and its store, results.

``diswot.search(...)`` is the entry point; see :func:`diswot.search.engine.search`. What scores
candidates (setup, score store, executors, budgets) is the layer below, :mod:`diswot.scoring`.
"""

from diswot.scoring.budget import Budget
from diswot.search.config import SearchConfig
from diswot.search.engine import search
from diswot.search.result import SearchResult, Student
from diswot.search.store import EvaluationRecord, RunStore
from diswot.search.strategies import STRATEGIES, Candidate, StrategyParams, pareto_front

__all__ = [
    "STRATEGIES",
    "Budget",
    "Candidate",
    "EvaluationRecord",
    "RunStore",
    "SearchConfig",
    "SearchResult",
    "StrategyParams",
    "Student",
    "pareto_front",
    "search",
]
