"""Where candidates are scored: in this process, in local worker processes, or on Ray.

Every executor exposes the same ``map(keys) -> scores``; the search calls it once per batch
of proposals and never sees which one runs. The :class:`ScoringJob` (space, batches, teacher
contexts, proxies) is shipped to each worker once, when the worker starts, and a batch of
proposals is split into one contiguous chunk per worker. Because every architecture is
initialised from a seed derived from its own key, results do not depend on the executor.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from diswot.errors import DiswotError
from diswot.proxies.base import Batch
from diswot.proxies.scorer import ProxyScorer, WeightedTeachers
from diswot.registry import Registry
from diswot.scoring.setup import ScoringSetup
from diswot.search_spaces.base import SearchSpace

Scores = dict[str, tuple[float, float]]  # proxy -> (value, milliseconds)


@dataclass
class ScoringJob:
    """Scores architecture keys with ``proxies`` on every batch (mean over batches).

    Holds the teacher's side once per batch (:class:`TeacherContext`); picklable, so it can
    be sent to process and Ray workers.
    """

    space: SearchSpace
    proxies: list[str]
    batches: list[Batch]
    contexts: list[WeightedTeachers]  # per batch: each teacher's context and weight
    num_classes: int
    seed: int = 0

    def __post_init__(self) -> None:
        self._scorers: list[ProxyScorer] | None = None

    @classmethod
    def of(cls, space: SearchSpace, setup: ScoringSetup, proxies: Sequence[str]) -> ScoringJob:
        """The job of ``proxies`` on a :class:`ScoringSetup`'s batches and teacher."""
        return cls(space, list(proxies), setup.batches, setup.contexts, setup.num_classes, setup.proxy_seed)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_scorers"] = None  # rebuilt on the worker, cheaply
        return state

    def scorers(self) -> list[ProxyScorer]:
        if self._scorers is None:
            self._scorers = [
                ProxyScorer(self.proxies, b, c, self.seed)
                for b, c in zip(self.batches, self.contexts, strict=True)
            ]
        return self._scorers

    def score(self, keys: Sequence[str]) -> list[Scores]:
        results = []
        for key in keys:
            arch = self.space.decode(key)
            runs = [s.score_arch(self.space, arch, self.num_classes) for s in self.scorers()]
            results.append(
                {
                    name: (
                        float(np.mean([r[name].value for r in runs])),
                        float(sum(r[name].ms for r in runs)),
                    )
                    for name in runs[0]
                }
            )
        return results


class Executor(Protocol):
    """Runs :meth:`ScoringJob.score` over a list of keys, preserving order."""

    workers: int

    def map(self, keys: Sequence[str]) -> list[Scores]: ...

    def close(self) -> None: ...


ExecutorFactory = Callable[..., Executor]
EXECUTORS: Registry[ExecutorFactory] = Registry("executor")


def chunks(keys: Sequence[str], parts: int) -> list[list[str]]:
    """``keys`` split into at most ``parts`` contiguous, near-equal, non-empty chunks."""
    parts = max(1, min(parts, len(keys)))
    bounds = np.linspace(0, len(keys), parts + 1).round().astype(int)
    return [list(keys[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


@EXECUTORS.register("serial", "score in this process, one candidate after another")
class SerialExecutor:
    def __init__(self, job: ScoringJob, workers: int = 1, address: str | None = None) -> None:
        if address:
            raise DiswotError("--address is for --executor ray only")
        self.job, self.workers = job, 1

    def map(self, keys: Sequence[str]) -> list[Scores]:
        return self.job.score(keys)

    def close(self) -> None:
        pass


_WORKER_JOB: ScoringJob | None = None


def _init_process_worker(job: ScoringJob, threads: int) -> None:
    global _WORKER_JOB
    torch.set_num_threads(threads)
    _WORKER_JOB = job


def _evaluate_in_process(keys: list[str]) -> list[Scores]:
    assert _WORKER_JOB is not None, "worker was not initialised"
    return _WORKER_JOB.score(keys)


def _threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


@EXECUTORS.register("processes", "score in local worker processes (one chunk of each batch per worker)")
class ProcessExecutor:
    def __init__(self, job: ScoringJob, workers: int = 2, address: str | None = None) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if address:
            raise DiswotError("--address is for --executor ray only")
        self.workers = workers
        # spawn, not fork: forking a process that already ran torch's thread pools can deadlock
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_process_worker,
            initargs=(job, _threads_per_worker(workers)),
        )

    def map(self, keys: Sequence[str]) -> list[Scores]:
        futures = [self.pool.submit(_evaluate_in_process, c) for c in chunks(keys, self.workers)]
        return [scores for f in futures for scores in f.result()]

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


@EXECUTORS.register("ray", "score on Ray actors: a local Ray instance, or a cluster with --address")
class RayExecutor:
    """One Ray actor per worker; the job goes to the object store once and each actor
    receives it when it starts."""

    def __init__(self, job: ScoringJob, workers: int = 2, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise DiswotError(
                "--executor ray needs Ray: pip install 'diswot[ray]' (or pip install ray)"
            ) from None
        self.ray, self.workers = ray, workers
        self.started_ray = not ray.is_initialized()
        if self.started_ray:
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                options["address"] = address
            else:
                options["num_cpus"] = max(workers, os.cpu_count() or 1)
            try:
                ray.init(**options)
            except ConnectionError as exc:
                raise DiswotError(f"cannot reach the Ray cluster at {address!r}: {exc}") from exc
        actor_class = ray.remote(num_cpus=1)(_RayWorker)
        job_ref = ray.put(job)
        threads = 1 if address else _threads_per_worker(workers)
        self.actors = [actor_class.remote(job_ref, threads) for _ in range(workers)]

    def map(self, keys: Sequence[str]) -> list[Scores]:
        refs = [a.score.remote(c) for a, c in zip(self.actors, chunks(keys, self.workers), strict=False)]
        return [scores for part in self.ray.get(refs) for scores in part]

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        if self.started_ray:
            self.ray.shutdown()


class _RayWorker:
    def __init__(self, job: ScoringJob, threads: int) -> None:
        torch.set_num_threads(threads)
        self.job = job

    def score(self, keys: list[str]) -> list[Scores]:
        return self.job.score(keys)


def make_executor(name: str, job: ScoringJob, workers: int = 1, address: str | None = None) -> Executor:
    """The executor registered as ``name`` (``serial``, ``processes``, ``ray``)."""
    if workers < 1:
        raise DiswotError(f"--workers must be at least 1, got {workers}")
    return EXECUTORS.get(name)(job, workers=workers, address=address)
