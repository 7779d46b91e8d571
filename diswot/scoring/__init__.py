"""The scoring layer, below ``search`` and ``bench``: what a proxy score depends on
(:class:`ScoringConfig`), its data, teachers and batches set up once (:func:`scoring_setup`),
the SQLite store of scores both share (:class:`ScoreStore`), the job that scores architectures
and the executors that run it (serial, processes, Ray), the reference sample of calibrated
aggregates, and the cost budget candidates must fit.
"""

from diswot.scoring.budget import Budget, format_quantity, measure_latency_ms, parse_quantity
from diswot.scoring.calibration import calibrate, reference_keys
from diswot.scoring.config import DEFAULT_REFERENCE_SIZE, ScoringConfig
from diswot.scoring.executors import EXECUTORS, ScoringJob, make_executor
from diswot.scoring.setup import (
    AUTO,
    DEFAULT_TEACHER,
    ScoringSetup,
    default_fitness,
    resolve_fitness,
    scoring_setup,
)
from diswot.scoring.store import ScoreStore

__all__ = [
    "AUTO",
    "DEFAULT_REFERENCE_SIZE",
    "DEFAULT_TEACHER",
    "EXECUTORS",
    "Budget",
    "ScoreStore",
    "ScoringConfig",
    "ScoringJob",
    "ScoringSetup",
    "calibrate",
    "default_fitness",
    "format_quantity",
    "make_executor",
    "measure_latency_ms",
    "parse_quantity",
    "reference_keys",
    "resolve_fitness",
    "scoring_setup",
]
