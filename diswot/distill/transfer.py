"""Distilling on a transfer set: a second, unlabelled dataset, filtered batch by batch.

A selection rule looks at the teachers' and the student's predictions on one transfer batch and
keeps a fraction of it; the distiller terms are then applied to the kept images only (labels,
where a term needs them, are the teachers' predicted classes). KD3 (Tang et al., Knowledge
Distillation between Different Distributions) keeps the images on which the combined teacher and
student predictions are confident: on a pool that mixes the task's classes with others these are
mostly the task's own images.

Rules are registered with :func:`register_selection` (``diswot list selections``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from diswot.data.dataset import ImageDataset, LabelledData
from diswot.errors import DataError, DiswotError
from diswot.models.features import Features
from diswot.registry import Registry

#: ``rule(teacher_probs, student_probs, keep) -> indices kept`` on one batch; ``teacher_probs`` is the
#: teacher set's weighted mean softmax, both ``(N, classes)``, detached
SelectionRule = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]

SELECTIONS: Registry[SelectionRule] = Registry("selection rule", plural="selections")


def register_selection(name: str, summary: str) -> Callable[[SelectionRule], SelectionRule]:
    """Decorator registering a selection rule; it gets the number of images to keep."""
    return SELECTIONS.register(name, summary)


def keep_count(batch: int, fraction: float) -> int:
    """How many of ``batch`` images a rule keeps at ``fraction``: rounded, at least one."""
    return max(1, min(batch, round(batch * fraction)))


def _top(score: torch.Tensor, count: int) -> torch.Tensor:
    # sorted indices so that the kept images keep their batch order (and ties break by position)
    return torch.sort(torch.topk(score, count, sorted=False).indices).values


@register_selection("all", "keep every image of the batch (the baseline; --keep is ignored)")
def select_all(teacher: torch.Tensor, student: torch.Tensor, count: int) -> torch.Tensor:
    return torch.arange(teacher.shape[0], device=teacher.device)


@register_selection(
    "kd3", "KD3: the images whose mean teacher+student softmax has the highest max-probability"
)
def select_kd3(teacher: torch.Tensor, student: torch.Tensor, count: int) -> torch.Tensor:
    return _top(((teacher + student) / 2).amax(dim=1), count)


@register_selection("teacher_entropy", "the images whose teacher softmax has the lowest entropy")
def select_teacher_entropy(teacher: torch.Tensor, student: torch.Tensor, count: int) -> torch.Tensor:
    entropy = -(teacher * teacher.clamp_min(1e-12).log()).sum(dim=1)
    return _top(-entropy, count)


@dataclass(frozen=True)
class TransferConfig:
    """``--transfer DATASET [--transfer-root DIR] --select RULE --keep FRACTION [--transfer-only]``."""

    dataset: str
    root: str | None = None
    select: str = "kd3"
    keep: float = 0.5
    only: bool = False

    def __post_init__(self) -> None:
        SELECTIONS.get(self.select)  # an unknown rule is a one-line error naming the known ones
        if not (math.isfinite(self.keep) and 0 < self.keep <= 1):
            raise DiswotError(f"--keep must be a fraction in (0, 1], got {self.keep}")


@dataclass
class TransferSet:
    """A loaded transfer set ready for the trainer: its images, its rule, and which of its labels
    (if any) name one of the task's classes (for the in-distribution report)."""

    data: ImageDataset
    select: str
    keep: float
    only: bool
    in_task: torch.Tensor | None = field(default=None)  # (transfer classes,) bool, None if unknown

    @classmethod
    def build(cls, cfg: TransferConfig, task: LabelledData, data: LabelledData) -> TransferSet:
        """Check ``data`` against the task (same input kind and image shape) and name its in-task
        classes: those whose name is one of the task's (none in common: unknown)."""
        if not isinstance(data, ImageDataset) or not isinstance(task, ImageDataset):
            raise DataError("a transfer set must be images, for a task of images")
        if tuple(data.images.shape[1:]) != tuple(task.images.shape[1:]):
            shape = "x".join(map(str, data.images.shape[1:]))
            want = "x".join(map(str, task.images.shape[1:]))
            raise DataError(
                f"the transfer set {cfg.dataset!r} has images of {shape} but the student reads {want}; "
                "give a transfer set of the task's image size"
            )
        names = set(task.classes)
        in_task = torch.tensor([c in names for c in data.classes], dtype=torch.bool)
        return cls(data, cfg.select, cfg.keep, cfg.only, in_task if bool(in_task.any()) else None)

    def choose(self, teacher_probs: torch.Tensor, student_logits: torch.Tensor) -> torch.Tensor:
        """The indices of one batch that the rule keeps."""
        count = keep_count(teacher_probs.shape[0], self.keep)
        student = torch.softmax(student_logits.detach().float(), dim=1)
        return SELECTIONS.get(self.select)(teacher_probs, student, count)

    def in_task_count(self, labels: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
        """How many kept images belong to the task's classes (NaN when unknown)."""
        if self.in_task is None:
            return torch.full((), float("nan"), dtype=torch.float64, device=labels.device)
        return self.in_task.to(labels.device)[labels[kept]].sum().double()


def ensemble_probs(teachers: list[Features], weights: list[float]) -> torch.Tensor:
    """The teacher set's weighted mean softmax (what the rules and the pseudo-labels read)."""
    probs = torch.zeros_like(teachers[0].logits, dtype=torch.float32)
    for feats, weight in zip(teachers, weights, strict=True):
        probs = probs + weight * torch.softmax(feats.logits.float(), dim=1)
    return probs


def subset_features(feats: Features, index: torch.Tensor) -> Features:
    """``feats`` of the images ``index`` only (the graph is kept: gradients reach the network)."""
    attention = None if feats.attention is None else tuple(t[index] for t in feats.attention)
    mask = None if feats.attention_mask is None else feats.attention_mask[index]
    return Features(
        feats.logits[index], feats.feature_map[index], feats.embedding[index], feats.classifier, mask,
        attention,  # type: ignore[arg-type]
    )  # fmt: skip
