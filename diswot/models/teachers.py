"""Several teachers with weights: ``--teacher A.pt:0.7 --teacher B.pt:0.3``.

:func:`parse_teacher_args` reads the repeatable flag (shared by ``distill`` and the scoring side);
:class:`TeacherSet` holds the loaded teachers, their normalised weights and checks that they agree
on the class count. A single teacher is a set of one with weight 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from diswot.errors import DiswotError
from diswot.models.checkpoint import Teacher, load_teacher, names_a_file
from diswot.models.registry import spec_prefixes
from diswot.paths import path_exists

S = TypeVar("S")


class TeacherSetError(DiswotError):
    """Malformed ``--teacher`` weights, or teachers that cannot be combined."""


def _split_weight(text: str) -> tuple[str, float | None]:
    """``"a/b.pt:0.7"`` -> ``("a/b.pt", 0.7)``; a path keeps its ':' when what follows the last ':'
    is not a number (``nb201:|...|`` or ``C:/x.pt`` are specs without a weight). Two exceptions
    keep a numeric tail in the spec: an existing path, and ``SPACE:ARCH`` with a numeric key
    (``resnet-depth:135``; weigh it as ``resnet-depth:135:0.5``)."""
    spec, sep, tail = text.rpartition(":")
    if not sep or not spec or path_exists(text) or spec.lower() in spec_prefixes():
        return text, None
    try:
        weight = float(tail)
    except ValueError:
        # a tail that starts like a number but is not one is a typo of a weight, not part of a path
        if tail.strip()[:1].isdigit() or tail.strip()[:1] in {"-", "+", "."}:
            raise TeacherSetError(
                f"cannot read the weight {tail!r} of --teacher {text!r}; write SPEC or SPEC:WEIGHT, e.g. "
                "teacher.pt:0.7"
            ) from None
        return text, None
    return spec, weight


def normalise_weights(pairs: Sequence[tuple[S, Any]]) -> list[tuple[S, float]]:
    """``[(teacher, weight)]`` with the weights divided by their sum; one-line errors for no
    teacher, a weight that is not a finite number >= 0, and weights summing to zero."""
    if not pairs:
        raise TeacherSetError("no teacher given; pass at least one --teacher SPEC[:WEIGHT]")
    for spec, weight in pairs:
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise TeacherSetError(
                f"--teacher {spec!s}: a weight must be a finite number >= 0, got {weight!r}"
            )
    total = float(sum(w for _, w in pairs))
    if not total > 0:
        raise TeacherSetError(
            f"the --teacher weights {[w for _, w in pairs]} sum to zero; give one a weight > 0"
        )
    return [(spec, w / total) for spec, w in pairs]


def parse_teacher_args(texts: Sequence[str]) -> list[tuple[str, float]]:
    """Repeated ``--teacher SPEC[:WEIGHT]`` values -> ``[(spec, weight)]`` with weights summing to 1.

    A missing weight is 1 (equal weights by default). Weights must be finite and >= 0 and not all
    zero; a spec given twice is refused (give it once with the summed weight).
    """
    pairs: list[tuple[str, float]] = []
    for text in texts:
        spec, weight = _split_weight(str(text).strip())
        pairs.append((spec, 1.0 if weight is None else weight))
    specs = [s for s, _ in pairs]
    if len(set(specs)) != len(specs):
        raise TeacherSetError(f"a teacher is listed twice in {list(texts)}; give each once, with one weight")
    return normalise_weights(pairs)


@dataclass(frozen=True)
class TeacherSet:
    """Loaded teachers and their weights (summing to 1), all predicting the same classes."""

    teachers: tuple[Teacher, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.teachers or len(self.teachers) != len(self.weights):
            raise TeacherSetError("a teacher set needs one weight per teacher, and at least one teacher")
        counts = {t.num_classes for t in self.teachers}
        if len(counts) > 1:
            found = ", ".join(
                f"{t.source if t.pretrained else t.spec}: {t.num_classes}" for t in self.teachers
            )
            raise TeacherSetError(
                f"the teachers predict different class counts ({found}); give teachers trained on the "
                "same classes"
            )

    @classmethod
    def load(
        cls,
        pairs: Sequence[tuple[str | Path, float]],
        num_classes: int | None = None,
        model: str | None = None,
        seed: int = 0,
    ) -> TeacherSet:
        """Load every ``(spec, weight)``; a checkpoint keeps its own class count (so a mismatch
        between teachers is named as such), a model name is built with ``num_classes``."""
        if model is not None and len(pairs) > 1:
            raise TeacherSetError(
                "--teacher-model names the architecture of one bare state_dict; give one teacher"
            )
        several = len(pairs) > 1
        teachers = tuple(
            load_teacher(
                spec,
                num_classes=None if several and names_a_file(spec) else num_classes,
                model=model,
                seed=seed,
            )
            for spec, _ in pairs
        )
        loaded = cls(teachers, tuple(float(w) for _, w in pairs))
        if several and num_classes is not None and loaded.num_classes != num_classes:
            # agreeing with each other but not with the data: the checkpoint's own one-line error
            load_teacher(pairs[0][0], num_classes=num_classes, model=model, seed=seed)
        return loaded

    @classmethod
    def single(cls, teacher: Teacher) -> TeacherSet:
        return cls((teacher,), (1.0,))

    @property
    def num_classes(self) -> int:
        return self.teachers[0].num_classes

    def __len__(self) -> int:
        return len(self.teachers)

    def members(self) -> list[tuple[Teacher, float]]:
        return list(zip(self.teachers, self.weights, strict=True))

    def describe(self) -> list[dict[str, Any]]:
        """What the result card lists: each teacher's source (or spec, when random) and weight."""
        return [
            {"teacher": str(t.source) if t.pretrained else f"{t.spec} (random init)", "weight": w}
            for t, w in self.members()
        ]
