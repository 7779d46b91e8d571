"""Distillation losses in one registry, combinable with weights (``kd:0.9,sp:3000``).

Each distiller compares the student's and the teacher's :class:`Features` of one batch and
returns a scalar loss that is 0 when the two agree. The similarity each one matches is the
function the zero-cost proxies use (``diswot.similarity``), so a proxy measures exactly the
distance its distiller later minimises. Distillers that need to bridge widths (FitNet, ICKD)
own a learned projection, created from the shapes of one example batch and trained with the
student.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from diswot import similarity
from diswot.errors import DiswotError
from diswot.models.features import Features
from diswot.registry import Registry


class Distiller(nn.Module):
    """``forward(student, teacher, labels) -> loss`` with ``loss == 0`` when features agree."""

    def forward(self, student: Features, teacher: Features, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


#: a factory builds a distiller from one example pair of features (to size projections)
DistillerFactory = Callable[[Features, Features], Distiller]


@dataclass(frozen=True)
class DistillerSpec:
    name: str
    factory: DistillerFactory
    default_weight: float
    formula: str
    #: whether the term may be applied once per teacher of a teacher set (weighted)
    multi_teacher: bool = True

    @property
    def summary(self) -> str:
        return f"{self.formula} (default weight {self.default_weight:g})"


DISTILLERS: Registry[DistillerSpec] = Registry("distiller")


def register_distiller(
    name: str, *, weight: float, formula: str, multi_teacher: bool = True
) -> Callable[[DistillerFactory], DistillerFactory]:
    """Decorator registering a distiller factory under ``name`` with its default weight;
    ``multi_teacher=False`` marks a term that cannot be applied per teacher of a set."""

    def add(factory: DistillerFactory) -> DistillerFactory:
        spec = DistillerSpec(name, factory, weight, formula, multi_teacher)
        DISTILLERS.register(name, spec.summary)(spec)
        return factory

    return add


class _Stateless(Distiller):
    def __init__(self, fn: Callable[[Features, Features, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, student: Features, teacher: Features, labels: torch.Tensor) -> torch.Tensor:
        return self.fn(student, teacher, labels)


def _channels(feature_map: torch.Tensor) -> int:
    return feature_map.shape[1] if feature_map.dim() == 4 else feature_map.shape[-1]


def _projection(student_map: torch.Tensor, teacher_map: torch.Tensor) -> nn.Module:
    """A learned linear map from the student's channel width to the teacher's (a 1x1 conv for
    maps, a linear layer for sequences); the identity when the widths already agree, so equal
    features start at zero loss."""
    c_s, c_t = _channels(student_map), _channels(teacher_map)
    layer: nn.Module = (
        nn.Conv2d(c_s, c_t, 1, bias=False) if student_map.dim() == 4 else nn.Linear(c_s, c_t, bias=False)
    )
    if c_s == c_t:
        with torch.no_grad():
            layer.weight.copy_(torch.eye(c_t).reshape(layer.weight.shape))
    return layer


class _Projected(Distiller):
    def __init__(self, projection: nn.Module, distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        super().__init__()
        self.projection, self.distance = projection, distance

    def forward(self, student: Features, teacher: Features, labels: torch.Tensor) -> torch.Tensor:
        return self.distance(self.projection(student.feature_map), teacher.feature_map)


@register_distiller("kd", weight=1.0, formula="Hinton KD: T^2 KL(softmax(t/T) || softmax(s/T)), T=4")
def kd(student: Features, teacher: Features, temperature: float = 4.0) -> Distiller:
    return _Stateless(lambda s, t, _y: similarity.kd_divergence(s.logits, t.logits, temperature))


@register_distiller(
    "sp", weight=3000.0, formula="DisWOT relational / similarity-preserving: ||G_s - G_t||^2 / N^2"
)
def sp(student: Features, teacher: Features) -> Distiller:
    return _Stateless(
        lambda s, t, _y: similarity.relation_distance(s.feature_map, t.feature_map, s.attention_mask)
    )


@register_distiller(
    "semantic", weight=100.0, formula="DisWOT semantic: class-activation matrices ||S_s - S_t||^2 / K^2"
)
def semantic(student: Features, teacher: Features) -> Distiller:
    def loss(s: Features, t: Features, labels: torch.Tensor) -> torch.Tensor:
        grad_s = similarity.classifier_gradient(s.logits, labels, s.embedding)
        grad_t = similarity.classifier_gradient(t.logits, labels, t.embedding)
        return similarity.semantic_distance(grad_s, grad_t)

    return _Stateless(loss)


@register_distiller(
    "fitnet", weight=100.0, formula="FitNet: MSE of the learned-projected student map to the teacher's"
)
def fitnet(student: Features, teacher: Features) -> Distiller:
    def distance(s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        s, t = similarity.match_spatial(s, t)
        return F.mse_loss(s, t)

    return _Projected(_projection(student.feature_map, teacher.feature_map), distance)


@register_distiller(
    "at", weight=1000.0, formula="attention transfer: squared distance of spatial attention maps"
)
def at(student: Features, teacher: Features) -> Distiller:
    return _Stateless(lambda s, t, _y: similarity.attention_distance(s.feature_map, t.feature_map))


@register_distiller(
    "rkd", weight=1.0, formula="relational KD: distance + 2 x angle Huber losses of embeddings"
)
def rkd(student: Features, teacher: Features) -> Distiller:
    return _Stateless(lambda s, t, _y: similarity.rkd_distance(s.embedding, t.embedding))


@register_distiller("ickd", weight=2.5, formula="inter-channel correlation of the learned-projected map")
def ickd(student: Features, teacher: Features) -> Distiller:
    return _Projected(
        _projection(student.feature_map, teacher.feature_map), similarity.channel_correlation_distance
    )


_TERM = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(?::\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?))?\s*$")


def parse_distillers(text: str) -> list[tuple[str, float]]:
    """``"kd:0.9,sp:3000"`` -> ``[("kd", 0.9), ("sp", 3000.0)]``; ``"none"`` (or ``""``) -> ``[]``.

    A term without a weight takes the distiller's default weight.
    """
    if text.strip().lower() in {"", "none", "vanilla"}:
        return []
    terms = []
    for raw in text.split(","):
        match = _TERM.match(raw.lower())
        if not match:
            raise DiswotError(
                f"cannot read distiller term {raw!r}; write NAME or NAME:WEIGHT, e.g. kd:0.9,sp:3000 "
                "(see `diswot list distillers`)"
            )
        spec = DISTILLERS.get(match.group(1))
        terms.append((spec.name, float(match.group(2)) if match.group(2) else spec.default_weight))
    names = [n for n, _ in terms]
    if len(set(names)) != len(names):
        raise DiswotError(f"distiller listed twice in {text!r}")
    return terms


class DistillationLoss(nn.Module):
    """The weighted sum of several distillers; ``parts`` of the last call are kept for logging."""

    def __init__(self, terms: list[tuple[str, float]], student: Features, teacher: Features) -> None:
        super().__init__()
        self.weights = {name: weight for name, weight in terms}
        self.parts_modules = nn.ModuleDict(
            {name: DISTILLERS.get(name).factory(student, teacher) for name, _ in terms}
        )
        self.last_parts: dict[str, float] = {}

    @property
    def spec(self) -> str:
        return ",".join(f"{n}:{w:g}" for n, w in self.weights.items())

    def forward(self, student: Features, teacher: Features, labels: torch.Tensor) -> torch.Tensor:
        total = student.logits.new_zeros(())
        parts = {}
        for name, module in self.parts_modules.items():
            value = module(student, teacher, labels)
            parts[name] = float(value.detach())
            total = total + self.weights[name] * value
        self.last_parts = parts
        return total


class TeacherSetLoss(nn.Module):
    """Every distiller term applied once per teacher, weighted by the teacher's weight:
    ``sum_k w_k * sum_j lambda_j * L_j(student, teacher_k)``.

    Each teacher has its own :class:`DistillationLoss` (its own learned projections, sized to that
    teacher's widths). With one teacher of weight 1 this is exactly that teacher's loss; a teacher
    of weight 0 adds exactly 0. ``last_parts`` are the teacher-weighted parts of the last call.
    """

    def __init__(
        self,
        terms: list[tuple[str, float]],
        student: Features,
        teachers: list[Features],
        weights: list[float],
    ) -> None:
        super().__init__()
        if len(teachers) != len(weights) or not teachers:
            raise DiswotError("a teacher-set loss needs one weight per teacher, and at least one teacher")
        if len(teachers) > 1:
            single = [name for name, _ in terms if not DISTILLERS.get(name).multi_teacher]
            if single:
                raise DiswotError(
                    f"distiller(s) {', '.join(single)} cannot be applied per teacher; give one --teacher "
                    "or other distillers"
                )
        self.teacher_weights = [float(w) for w in weights]
        self.losses = nn.ModuleList(DistillationLoss(terms, student, t) for t in teachers)
        self.last_parts: dict[str, float] = {}

    @property
    def spec(self) -> str:
        return self.losses[0].spec

    def forward(self, student: Features, teachers: list[Features], labels: torch.Tensor) -> torch.Tensor:
        total = student.logits.new_zeros(())
        parts: dict[str, float] = {}
        for loss, teacher, weight in zip(self.losses, teachers, self.teacher_weights, strict=True):
            total = total + weight * loss(student, teacher, labels)
            for name, value in loss.last_parts.items():
                parts[name] = parts.get(name, 0.0) + weight * value
        self.last_parts = parts
        return total


@register_distiller("minilm", weight=1.0, formula="MiniLM: KL of last-layer attention and value relations")
def minilm(student: Features, teacher: Features) -> Distiller:
    if student.attention is None or teacher.attention is None:
        raise DiswotError(
            "distiller 'minilm' transfers self-attention relations; teacher and student must both be "
            "Transformers"
        )

    def loss(s: Features, t: Features, _labels: torch.Tensor) -> torch.Tensor:
        assert s.attention is not None and t.attention is not None
        mask = s.attention_mask
        return similarity.minilm_divergence(
            similarity.self_attention_relations(*s.attention, mask),
            similarity.self_attention_relations(*t.attention, mask),
            mask,
        )

    return _Stateless(loss)
