"""What proxies score against, set up once for ``diswot search`` and ``diswot bench proxies``.

Both commands score architectures of a space on the same things: the scoring data (tokenised
with a Hugging Face teacher's own tokenizer when there is one), ``num_batches`` class-balanced
batches drawn with the proxy seed, the teacher and its side of every batch
(:class:`TeacherContext`), and the fingerprints that key the shared score cache. Setting them up
in one place keeps the two commands' scores interchangeable through that cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from diswot.data import LabelledData, TextDataset, load_dataset
from diswot.data.text import Tokenizer, check_token_ids
from diswot.errors import CheckpointError, DataError, DiswotError
from diswot.models.checkpoint import Teacher, load_teacher, names_a_file
from diswot.models.huggingface import teacher_tokenizer
from diswot.proxies.base import PROXIES, Batch, TeacherContext
from diswot.proxies.scorer import WeightedTeachers, scoring_batches
from diswot.scoring.config import DataSpec, ScoringConfig, TeacherSetSpec, TeacherSpec, teacher_members
from diswot.scoring.store import NO_TEACHER, data_fingerprint, teacher_fingerprint
from diswot.search_spaces.base import SearchSpace

#: the teacher of image data when none is given: a ResNet-56 (random init from the proxy seed)
DEFAULT_TEACHER = "resnet56"

#: ``--proxy auto`` (the default of ``diswot search`` and ``run_search``): the fitness the evidence
#: supports for the space and the teacher given (benchmarks/RESULTS.md, "Which fitness"):
#: on image spaces other than NB201, one for a random-init teacher and one for a trained one
AUTO = "auto"
AUTO_FITNESS = {"random": "params", "trained": "kd"}
#: NB201 (either teacher): the fitness whose searches reach its best cells
NB201_FITNESS = "cal:az_progressivity+synflow+flops"
#: Transformer spaces: no proxy measured on SST-2 ranks better than the size of the student
TEXT_FITNESS = "params"


@dataclass
class ScoringSetup:
    """The scoring data, batches, teachers and teacher contexts of a run, and its cache keys."""

    dataset: LabelledData
    batches: list[Batch]
    contexts: list[WeightedTeachers]  # one per batch: each teacher's context and weight; () if none needed
    teachers: list[tuple[Teacher, float]]  # loaded only when a proxy needs them
    teacher_name: str | None  # the teachers as given (or the default), ``None`` when not loaded
    proxy_seed: int
    data_key: str  # :func:`data_fingerprint` of the batches
    teacher_key: str  # :func:`teacher_set_fingerprint` of the teachers, ``none`` when not loaded
    named_teachers: list[tuple[str, float]] = field(default_factory=list)  # (as given, weight) each

    @property
    def num_classes(self) -> int:
        return self.dataset.num_classes

    @property
    def teacher(self) -> Teacher | None:
        """The first loaded teacher (the only one, usually)."""
        return self.teachers[0][0] if self.teachers else None


def teacher_set_fingerprint(keys: Sequence[tuple[str, float]]) -> str:
    """What identifies a set of teachers in score caches: one teacher is its own fingerprint (so a
    single-teacher store is reused as it was), several are a hash of every (fingerprint, weight)."""
    if len(keys) == 1:
        return keys[0][0]
    joined = "|".join(f"{key}*{weight:.12g}" for key, weight in keys)
    return f"set{len(keys)}:{hashlib.sha1(joined.encode()).hexdigest()[:16]}"


def scoring_setup(
    space: SearchSpace,
    config: ScoringConfig,
    proxies: Sequence[str],
    tokenizer: Tokenizer | None = None,
) -> ScoringSetup:
    """Load ``config``'s data and, when one of the registered ``proxies`` needs it, its teacher
    or teachers (:class:`~diswot.scoring.config.ScoringConfig` says what each field may be).

    ``tokenizer`` tokenises text data named by ``config.data`` (default: the Hugging Face
    teacher's own, if any).
    """
    teacher, proxy_seed, device = config.teacher, config.seed, config.device
    batch_size, num_batches = config.batch_size, config.num_batches
    members = teacher_members(teacher)
    tokenizer = tokenizer or teacher_tokenizer(members[0][0])
    dataset = resolve_data(config.data, config.data_root, space, tokenizer)
    batches = scoring_batches(dataset, batch_size, num_batches, proxy_seed, device)
    needed = any(PROXIES.get(p).needs_teacher for p in proxies)
    loaded: list[tuple[Teacher, float]] = []
    if needed or any(spec is not None for spec, _ in members) or dataset.input_kind == "tokens":
        # a teacher no proxy reads is still loaded and checked: the run is a search for this
        # teacher's student (its card names it, distillation follows), so a teacher that cannot
        # load is refused now, not later
        loaded = [
            (resolve_teacher(spec, dataset, config.teacher_model, proxy_seed), w) for spec, w in members
        ]
        _check_class_counts(loaded)
    setup = ScoringSetup(
        dataset=dataset, batches=batches, contexts=[()] * len(batches), teachers=[], teacher_name=None,
        proxy_seed=proxy_seed, data_key=data_fingerprint(dataset, proxy_seed, batch_size, num_batches),
        teacher_key=NO_TEACHER,
    )  # fmt: skip
    if not needed:
        return setup
    for one, _ in loaded:
        one.model.to(device)
    setup.teachers = loaded
    setup.contexts = [
        tuple((TeacherContext(one.model, b, pretrained=one.pretrained), w) for one, w in loaded)
        for b in batches
    ]
    keys = []
    for (spec, weight), (one, _) in zip(members, loaded, strict=True):
        spec = DEFAULT_TEACHER if spec is None else spec
        given = isinstance(spec, (str, Path))
        setup.named_teachers.append((str(spec) if given else one.spec, weight))
        keys.append((teacher_fingerprint(spec if given else one.model, proxy_seed), weight))
    named = setup.named_teachers
    setup.teacher_name = named[0][0] if len(named) == 1 else " + ".join(f"{n}:{w:.4g}" for n, w in named)
    setup.teacher_key = teacher_set_fingerprint(keys)
    return setup


def _check_class_counts(loaded: Sequence[tuple[Teacher, float]]) -> None:
    counts = {one.num_classes for one, _ in loaded}
    if len(counts) > 1:
        listed = ", ".join(f"{one.spec} ({one.num_classes})" for one, _ in loaded)
        raise DiswotError(f"teachers with different class counts cannot score one student: {listed}")


def teacher_is_trained(teacher: TeacherSpec | TeacherSetSpec) -> bool:
    """Whether ``teacher`` brings trained weights: a checkpoint or folder, a trained ``nn.Module``
    or a pretrained :class:`Teacher`; a model name and ``None`` are random-init networks. A set of
    teachers is trained when one of them is."""
    if not (teacher is None or isinstance(teacher, (str, Path, nn.Module, Teacher))):
        return any(teacher_is_trained(spec) for spec, _ in teacher)
    if isinstance(teacher, Teacher):
        return teacher.pretrained
    if isinstance(teacher, nn.Module):
        return True
    return teacher is not None and names_a_file(teacher)


def default_fitness(space: SearchSpace | None, teacher: TeacherSpec | TeacherSetSpec) -> str:
    """What :data:`AUTO` stands for with ``space`` (``None``: an image space other than NB201)
    and ``teacher``."""
    if space is not None and space.name == "nb201":
        return NB201_FITNESS
    if space is not None and space.input_kind == "tokens":
        return TEXT_FITNESS
    return AUTO_FITNESS["trained" if teacher_is_trained(teacher) else "random"]


def resolve_fitness(
    proxy: str, teacher: TeacherSpec | TeacherSetSpec, space: SearchSpace | None = None
) -> str:
    """``proxy``, or for :data:`AUTO` the :func:`default_fitness` of ``space`` and ``teacher``."""
    if proxy.strip().lower() != AUTO:
        return proxy
    return default_fitness(space, teacher)


def resolve_teacher(
    teacher: TeacherSpec,
    dataset: LabelledData,
    model: str | None,
    seed: int,
) -> Teacher:
    """The loaded teacher; a text dataset needs a given one that reads tokens."""
    num_classes = dataset.num_classes
    if isinstance(teacher, Teacher):
        loaded = teacher
    elif isinstance(teacher, nn.Module):
        # a module handed over in Python is taken to be trained: it runs in eval mode
        loaded = Teacher(teacher, type(teacher).__name__, num_classes, source="module")
    elif teacher is None and dataset.input_kind == "tokens":
        raise DiswotError(
            f"{dataset.name} is text: give a Transformer teacher with --teacher CKPT|HF_FOLDER "
            f"(e.g. from diswot train-teacher); the default teacher {DEFAULT_TEACHER} reads images"
        )
    else:
        loaded = load_teacher(teacher or DEFAULT_TEACHER, num_classes=num_classes, model=model, seed=seed)
    if not all(torch.isfinite(p).all() for p in loaded.model.parameters()):
        raise CheckpointError(
            f"teacher {loaded.spec!r} ({loaded.source}) has NaN or infinite weights; "
            "retrain it or give another --teacher"
        )
    reads_tokens = any(isinstance(m, nn.Embedding) for m in loaded.model.modules())
    if dataset.input_kind == "tokens" and not reads_tokens:
        raise DataError(
            f"teacher {loaded.spec!r} has no token embedding, so it cannot read the text of "
            f"{dataset.name}; give a Transformer teacher (--teacher CKPT|HF_FOLDER)"
        )
    return loaded


def resolve_data(
    data: DataSpec,
    data_root: str | Path | None,
    space: SearchSpace,
    tokenizer: Tokenizer | None = None,
) -> LabelledData:
    """The scoring data; its kind (images or tokens) must be what the space's networks take.

    Text named by ``data`` is tokenised with ``tokenizer`` (a Hugging Face teacher's) when given.
    """
    takes_tokens = space.input_kind == "tokens"
    if data is None and takes_tokens:
        raise DataError(
            f"space {space.name!r} builds Transformers: give text data, e.g. --dataset sst2 --data-root DIR"
        )
    dataset = (
        data
        if isinstance(data, LabelledData)
        else load_dataset(data or "sample", data_root, tokenizer=tokenizer)
    )
    if (dataset.input_kind == "tokens") != takes_tokens:
        kind = ("token", "image") if takes_tokens else ("image", "text")
        raise DataError(f"space {space.name!r} takes {kind[0]} inputs; {kind[1]} data cannot score it")
    if isinstance(dataset, TextDataset) and space.vocab_size is not None:
        check_token_ids(dataset, space.vocab_size, f"space {space.name!r}")
    return dataset
