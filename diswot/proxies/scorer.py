"""Scoring candidates with several proxies at once (one shared pass, timed, seeded)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from diswot.errors import DiswotError
from diswot.models.init import gaussian_copy, gaussian_init_
from diswot.proxies.aggregate import Aggregate, parse_aggregate
from diswot.proxies.base import PROXIES, Batch, Probe, ProxySpec, TeacherContext, finite
from diswot.search_spaces.base import Arch, SearchSpace


@dataclass(frozen=True)
class ProxyResult:
    value: float
    ms: float  # what this proxy costs alone: its own time plus the shared passes it read


def resolve_proxies(names: Sequence[str]) -> tuple[list[ProxySpec], list[Aggregate]]:
    """Proxy specs to compute (members of aggregates included, once each) and the aggregates."""
    specs: dict[str, ProxySpec] = {}
    aggregates: list[Aggregate] = []
    for raw in names:
        name = raw.strip().lower()
        aggregate = parse_aggregate(name)
        members = aggregate.members if aggregate else (name,)
        for member in members:
            specs.setdefault(member, PROXIES.get(member))
        if aggregate:
            aggregates.append(aggregate)
    if not specs:
        raise DiswotError("no proxy given; see `diswot list proxies`")
    return list(specs.values()), aggregates


def arch_seed(seed: int, key: str) -> int:
    """The initialisation seed of one architecture: independent of scoring order."""
    return (seed * 1_000_003 + zlib.crc32(key.encode())) % (2**31)


#: the key whose :func:`arch_seed` re-initialises a teacher for proxies of ``init="authors"``
TEACHER_SEED_KEY = "<teacher>"


#: teachers a proxy compares with, each with its weight (weights sum to 1)
WeightedTeachers = tuple[tuple[TeacherContext, float], ...]


def weighted_teachers(
    teacher: TeacherContext | Sequence[tuple[TeacherContext, float]] | None,
) -> WeightedTeachers:
    """``teacher`` as :data:`WeightedTeachers`: one context is weight 1, ``None`` is no teacher."""
    if teacher is None:
        return ()
    if isinstance(teacher, TeacherContext):
        return ((teacher, 1.0),)
    return tuple((context, float(weight)) for context, weight in teacher)


class ProxyScorer:
    """Scores networks with ``proxies`` on one batch against optional teachers.

    ``teacher`` is one :class:`TeacherContext` or several with weights: a proxy that compares
    with a teacher scores the student against each and reports the weighted sum
    (``sum_i w_i * proxy(student, teacher_i)``, weights summing to 1), so one teacher of weight 1,
    or two of weights 1 and 0, give the single-teacher score exactly. Proxies that score
    re-initialised weights (``init`` other than ``as_built``) read a re-initialised copy of the
    candidate, seeded by its key, and, for ``init="authors"``, re-initialised copies of the
    teachers, made once per scorer; proxies of one ``init`` share one :class:`Probe` (one shared
    pass).
    """

    def __init__(
        self,
        proxies: Sequence[str],
        batch: Batch,
        teacher: TeacherContext | Sequence[tuple[TeacherContext, float]] | None = None,
        seed: int = 0,
    ) -> None:
        self.specs, self.aggregates = resolve_proxies(proxies)
        self.batch, self.seed = batch, seed
        self.teachers = weighted_teachers(teacher)
        needing = [s.name for s in self.specs if s.needs_teacher]
        if needing and not self.teachers:
            raise DiswotError(
                f"proxies {', '.join(needing)} compare with a teacher; give one with --teacher NAME|CKPT"
            )
        self._reinitialised: dict[int, TeacherContext] = {}

    @property
    def teacher(self) -> TeacherContext | None:
        """The first teacher (the only one, usually)."""
        return self.teachers[0][0] if self.teachers else None

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def teacher_for(self, spec: ProxySpec, index: int = 0) -> TeacherContext | None:
        """The ``index``-th teacher context ``spec`` compares with (re-initialised, made once, if
        it asks). Every teacher is re-initialised from :data:`TEACHER_SEED_KEY`, as it would be
        alone, so a set's score is the weighted sum of its teachers' single scores (two teachers
        of one architecture re-initialise alike: the authors' score ignores trained weights)."""
        if not self.teachers:
            return None
        context = self.teachers[index][0]
        if not spec.teacher_reinit:
            return context
        if index not in self._reinitialised:
            self._reinitialised[index] = context.reinitialised(arch_seed(self.seed, TEACHER_SEED_KEY))
        return self._reinitialised[index]

    def _probes(self, model: nn.Module, key: str, owned: bool) -> dict[bool, Probe]:
        """One probe per kind of student weights the proxies read: as built, and re-initialised
        (``owned``: ``model`` is a scored copy already, which may be re-initialised in place)."""
        probes = {}
        for reinit in sorted({s.student_reinit for s in self.specs}):
            needs = frozenset().union(*(s.needs for s in self.specs if s.student_reinit == reinit))
            started = time.perf_counter()
            student = model
            if reinit:
                in_place = owned and all(s.student_reinit for s in self.specs)
                student = (gaussian_init_ if in_place else gaussian_copy)(model, arch_seed(self.seed, key))
            copy_ms = (time.perf_counter() - started) * 1e3
            probes[reinit] = Probe(student, self.batch, needs, self.teacher, self.seed)
            probes[reinit].shared_pass_ms += copy_ms
        return probes

    def score_model(
        self, model: nn.Module, key: str = "<model>", *, owned: bool = False
    ) -> dict[str, ProxyResult]:
        """Score ``model`` (``key`` names it in errors and seeds its re-initialisation); ``model`` is
        left as it was unless ``owned`` (a copy built for scoring)."""
        probes = self._probes(model, key, owned)
        results = {}
        for spec in self.specs:
            probe = probes[spec.student_reinit]
            probe.memo_read.clear()
            started = time.perf_counter()
            # the weighted combination over teachers is defined here, once, for every proxy
            teachers = range(len(self.teachers)) if spec.needs_teacher else [None]
            value = 0.0
            for index in teachers:
                probe.teacher = self.teacher_for(spec, index or 0)
                torch.manual_seed(self.seed)
                try:
                    one = finite(spec.fn(probe), spec.name, key)
                except (ValueError, RuntimeError) as exc:
                    raise DiswotError(f"proxy {spec.name!r} failed on {key!r}: {exc}") from exc
                value = (
                    one if index is None or len(self.teachers) == 1 else value + self.teachers[index][1] * one
                )
            own_ms = (time.perf_counter() - started) * 1e3
            # each proxy is charged what it would cost alone: the shared pass it needs and the
            # memoised passes it reads, even when an earlier proxy already paid for them
            shared_ms = probe.shared_pass_ms if spec.needs else 0.0
            memo_ms = probe.memo_ms(probe.memo_read)
            results[spec.name] = ProxyResult(value, max(own_ms, memo_ms) + shared_ms)
        return results

    def score_arch(self, space: SearchSpace, arch: Arch, num_classes: int) -> dict[str, ProxyResult]:
        """Build ``arch`` with its own deterministic seed and score it."""
        key = space.encode(arch)
        torch.manual_seed(arch_seed(self.seed, key))
        model = space.build(arch, num_classes=num_classes).to(self.batch.inputs.device)
        return self.score_model(model, key, owned=True)


def scoring_batches(data, batch_size: int, num_batches: int, seed: int, device: str = "cpu") -> list[Batch]:
    """``num_batches`` class-balanced batches of ``data`` (images or texts), reproducible from ``seed``."""
    return [data.scoring_batch(batch_size, seed=seed + i, device=device) for i in range(num_batches)]
