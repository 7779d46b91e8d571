"""What a proxy score depends on: one :class:`ScoringConfig`, shared by ``diswot search``
(:class:`~diswot.search.config.SearchConfig`) and ``diswot bench proxies``
(:class:`~diswot.bench.proxy_bench.ProxyBenchConfig`), validated once when it is made.

Two runs whose scoring configs agree (data, teacher, batches, proxy seed) compute the same
scores, so they can share one store: a score either computed is served to the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from torch import nn

from diswot.data import LabelledData
from diswot.data.readers import DATASETS, split_dataset_spec
from diswot.devices import check_device
from diswot.errors import DiswotError
from diswot.models.checkpoint import Teacher
from diswot.models.teachers import normalise_weights
from diswot.paths import check_path_name
from diswot.seeds import check_seed

#: the default reference size, chosen by benchmarks/calibrated_aggregate.py (see RESULTS.md)
DEFAULT_REFERENCE_SIZE = 128


def check_reference_size(size: int) -> None:
    """Fail early on a reference too small to calibrate anything."""
    if size < 2:
        raise DiswotError(f"--reference-size must be at least 2, got {size}")


TeacherSpec = str | Path | nn.Module | Teacher | None
#: several teachers, each with a weight: ``[("a.pt", 0.7), ("b.pt", 0.3)]``
TeacherSetSpec = Sequence[tuple[TeacherSpec, float]]
DataSpec = LabelledData | str | None


@dataclass(frozen=True)
class ScoringConfig:
    """The scoring data, teacher(s), batches, proxy seed, device and store of a run.

    Attributes:
        data: an :class:`~diswot.data.ImageDataset` or :class:`~diswot.data.TextDataset`, a
            registered dataset name (``cifar10``, ``cifar10:classes=0-4``; read from
            ``data_root``), or ``None`` for the embedded 300-image CIFAR-10 sample (flag
            ``--dataset``).
        teacher: a model name (random init from ``proxy_seed``), a checkpoint path, a Hugging Face
            folder, a :class:`~diswot.models.checkpoint.Teacher`, or a trained ``nn.Module``;
            ``None`` is a random-init ResNet-56 for image data, and an error for text. Several
            teachers are ``[(spec, weight), ...]``: a teacher-aware proxy then scores
            ``sum_i w_i * proxy(student, teacher_i)`` (weights normalised to sum 1).
            ``teacher_model`` names the architecture of a bare state_dict.
        batch_size, num_batches: proxies score on ``num_batches`` class-balanced batches of
            ``batch_size`` (the mean over batches).
        proxy_seed: everything a score depends on besides the architecture: the batches, a
            random-init teacher and each candidate's initialisation. ``None``: the run's seed
            (``--seed``), or 0 where there is no run.
        device: where candidates (and the teacher) run.
        reference_size: architectures in the reference sample of a calibrated aggregate
            (:mod:`diswot.scoring.calibration`).
        store: a SQLite file of scores to share between runs (``None``: the run folder's own).
    """

    data: DataSpec = None
    data_root: str | Path | None = None
    teacher: TeacherSpec | TeacherSetSpec = None
    teacher_model: str | None = None
    batch_size: int = 64
    num_batches: int = 1
    proxy_seed: int | None = None
    device: str = "cpu"
    reference_size: int = DEFAULT_REFERENCE_SIZE
    store: str | Path | None = None

    def __post_init__(self) -> None:
        _check_data(self.data)
        for name, flag in (("batch_size", "--batch-size"), ("num_batches", "--num-batches")):
            _check_count(getattr(self, name), f"{name} ({flag})")
        if self.proxy_seed is not None:
            check_seed(self.proxy_seed, "proxy_seed (--proxy-seed)")
        if not isinstance(self.device, str):
            raise DiswotError(f"device (--device) must be a name such as cpu or cuda:0, got {self.device!r}")
        check_device(self.device)
        _check_count(self.reference_size, "reference_size (--reference-size)")
        check_reference_size(self.reference_size)
        _check_teacher(self.teacher)
        if self.teacher_model is not None and not (
            isinstance(self.teacher_model, str) and self.teacher_model
        ):
            raise DiswotError(
                f"teacher_model (--teacher-model) must be a model name, got {self.teacher_model!r}"
            )
        for name, flag in (("data_root", "--data-root"), ("store", "--store")):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, str | Path):
                    raise DiswotError(f"{name} ({flag}) must be a path, got {value!r}")
                check_path_name(value, flag)

    def seeded(self, seed: int) -> ScoringConfig:
        """This config with ``proxy_seed`` defaulting to ``seed`` (the run's) when it is unset."""
        return self if self.proxy_seed is not None else replace(self, proxy_seed=seed)

    @property
    def seed(self) -> int:
        """The proxy seed in effect (0 when unset and no run has set it)."""
        return 0 if self.proxy_seed is None else self.proxy_seed


def _check_count(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DiswotError(f"{what} must be a whole number >= 1, got {value!r}")


def _check_data(data: object) -> None:
    if data is None or isinstance(data, LabelledData):
        return
    if not isinstance(data, str):
        raise DiswotError(
            f"data (--dataset) must be a dataset name or a loaded dataset, got {type(data).__name__}"
        )
    name, _ = split_dataset_spec(data)  # a bad class list is a one-line DataError here
    DATASETS.get(name)  # an unknown name lists the registered ones


def _check_teacher(teacher: object) -> None:
    if teacher is None or isinstance(teacher, str | Path | nn.Module | Teacher):
        if isinstance(teacher, str) and not teacher.strip():
            raise DiswotError("teacher (--teacher) is empty; give a checkpoint, folder or model name")
        return
    try:
        pairs = list(teacher)  # type: ignore[call-overload]
    except TypeError:
        raise DiswotError(f"teacher (--teacher) cannot be a {type(teacher).__name__}") from None
    if not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
        raise DiswotError("several teachers are [(teacher, weight), ...] pairs")
    for spec, _ in pairs:
        if not (spec is None or isinstance(spec, str | Path | nn.Module | Teacher)):
            raise DiswotError(f"a teacher of a set cannot be a {type(spec).__name__}")
        _check_teacher(spec)
    teacher_members(pairs)  # weights: finite, >= 0, not all zero


def teacher_members(teacher: TeacherSpec | TeacherSetSpec) -> list[tuple[TeacherSpec, float]]:
    """``teacher`` as (teacher, weight) pairs, weights normalised to sum 1 and weight-0 teachers
    dropped (they change no score); one teacher (or ``None``, the default) is weight 1."""
    if teacher is None or isinstance(teacher, (str, Path, nn.Module, Teacher)):
        return [(teacher, 1.0)]
    return [(spec, w) for spec, w in normalise_weights(list(teacher)) if w > 0]
