"""``train_teacher`` and ``distill``: what ``diswot train-teacher`` and ``diswot distill`` run."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from diswot.atomic import write_json
from diswot.data import ImageDataset, LabelledData, load_dataset
from diswot.data.readers import split_dataset_spec
from diswot.data.text import Tokenizer, check_token_ids
from diswot.distill.distillers import parse_distillers
from diswot.distill.trainer import STATE_FILE, Recipe, StudentRun, Trainer
from diswot.distill.transfer import TransferConfig, TransferSet
from diswot.errors import DataError, DiswotError, RunDirError
from diswot.models.checkpoint import Teacher, build_model
from diswot.models.huggingface import teacher_tokenizer
from diswot.models.teachers import TeacherSet, parse_teacher_args
from diswot.runlock import is_lock_file, locked_folder
from diswot.search.result import SearchResult, Student


def load_split(
    dataset: str | ImageDataset,
    data_root: str | Path | None,
    train_subset: int | None = None,
    seed: int = 0,
    tokenizer: Tokenizer | None = None,
) -> tuple[LabelledData, LabelledData]:
    """``(train, test)`` sets. The embedded sample has no test split: 20% of it is held out.

    ``train_subset`` keeps that many class-balanced training examples (for short CPU runs);
    ``tokenizer`` tokenises a text dataset (a Hugging Face teacher's own, for instance).
    """
    if isinstance(dataset, LabelledData):
        train, test = dataset.split(0.2, seed)
    elif split_dataset_spec(dataset)[0] == "sample":  # one split only: hold 20% out
        train, test = load_dataset(dataset).split(0.2, seed)
    else:
        train, test = (
            load_dataset(dataset, data_root, train=True, tokenizer=tokenizer),
            load_dataset(dataset, data_root, train=False, tokenizer=tokenizer),
        )
    if train_subset is not None:
        if train_subset < train.num_classes:
            raise DataError(f"--train-subset {train_subset} is below one image per class")
        train = train.subset(train.balanced_indices(train_subset, seed))
    return train, test


def student_specs(student: str, top_k: int = 1) -> list[str | Student]:
    """The students named by ``SPACE:ARCH`` or a zoo name (kept as the spec), or the top-k of a
    search's ``result.json`` (as :class:`Student` objects carrying the options of the space searched)."""
    path = Path(student)
    if path.suffix == ".json":
        return list(SearchResult.load(path).students(top_k))
    if top_k != 1:
        raise DiswotError("--top-k needs a search result.json as --student")
    return [student]


def _embedding_rows(model: torch.nn.Module) -> int:
    """Rows of the first embedding table: the token vocabulary a text model can read."""
    tables = [m for m in model.modules() if isinstance(m, torch.nn.Embedding)]
    if not tables:
        raise DataError(f"{type(model).__name__} has no token embedding, so it cannot read text")
    return tables[0].num_embeddings


def _safe_name(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", spec).strip("_")[:80]


def _check_out(out: Path, resume: bool) -> None:
    states = list(out.glob(f"**/{STATE_FILE}")) if out.exists() else []
    if states and not resume:
        raise RunDirError(
            f"{out} already holds a training run; pass --resume to continue it, or another --out"
        )


#: one teacher (a spec, possibly ``SPEC:WEIGHT``, or a loaded one), several specs, or a loaded set
TeacherSpec = str | Path | Teacher | TeacherSet | Sequence[str]


def _teacher_pairs(teacher: str | Path | Sequence[str]) -> list[tuple[str, float]]:
    return parse_teacher_args(
        [str(teacher)] if isinstance(teacher, str | Path) else [str(t) for t in teacher]
    )


def load_transfer(cfg: TransferConfig, task: LabelledData, tokenizer: Tokenizer | None = None) -> TransferSet:
    """The transfer set of ``cfg`` (its training split), checked against the task's images."""
    root = None if split_dataset_spec(cfg.dataset)[0] == "sample" else cfg.root
    data = load_dataset(cfg.dataset, root, train=True, tokenizer=tokenizer)
    return TransferSet.build(cfg, task, data)


def distill(
    teacher: TeacherSpec,
    students: Sequence[str | Student],
    distillers: str = "kd",
    *,
    dataset: str | ImageDataset = "sample",
    data_root: str | Path | None = None,
    recipe: Recipe | None = None,
    out: str | Path = "runs/distill",
    resume: bool = False,
    device: str = "cpu",
    train_subset: int | None = None,
    teacher_model: str | None = None,
    progress: bool = True,
    export: bool = False,
    transfer: TransferConfig | None = None,
) -> list[dict[str, Any]]:
    """Distill ``teacher`` into every student at once (one teacher pass per batch).

    ``teacher`` may be several teachers (``["a.pt:0.7", "b.pt:0.3"]`` or a :class:`TeacherSet`):
    every distiller term is then applied per teacher with its weight. ``transfer`` distils on a
    second, unlabelled dataset as well (or only, ``transfer.only``), keeping per batch the images
    its selection rule picks (:mod:`diswot.distill.transfer`).

    A student is a model spec (a zoo name or ``SPACE:ARCH``) or a :class:`Student` from a search
    result (built in the options of the space searched).

    Each student trains in ``out`` (one student) or ``out/<name>/`` (several) and leaves
    ``model.pt`` (a checkpoint usable as ``--teacher``), ``last.pt`` (for ``resume``),
    ``metrics.csv``, ``metrics.png`` and ``result.json``. ``distillers="none"`` trains without a
    teacher (the vanilla baseline of the same recipe). ``export`` also writes each trained student
    as a standalone artifact into ``<its run folder>/export`` (see :mod:`diswot.export`).
    """
    recipe = recipe or Recipe()
    out = Path(out)
    parse_distillers(distillers)  # fail early on a bad spec
    with locked_folder(out) as lock:  # one run per folder, taken before any setup
        _check_out(out, resume)
        pairs = None if isinstance(teacher, Teacher | TeacherSet) else _teacher_pairs(teacher)
        # a text task is tokenised as the (first) teacher reads it
        tokenizer = None if pairs is None else teacher_tokenizer(pairs[0][0])
        train, test = load_split(dataset, data_root, train_subset, recipe.seed, tokenizer)
        teachers: TeacherSet | None = None
        if parse_distillers(distillers):
            if isinstance(teacher, Teacher):
                teachers = TeacherSet.single(teacher)
            elif isinstance(teacher, TeacherSet):
                teachers = teacher
            else:
                assert pairs is not None
                teachers = TeacherSet.load(pairs, train.num_classes, model=teacher_model, seed=recipe.seed)
        transfer_set = None if transfer is None else load_transfer(transfer, train, tokenizer)
        runs = []
        for i, student in enumerate(students):
            spec = student if isinstance(student, str) else student.spec
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(recipe.seed * 7919 + i)
                if isinstance(student, str):
                    model = build_model(student, num_classes=train.num_classes)
                else:
                    model = student.build(num_classes=train.num_classes)
            for split in (train, test) if train.input_kind == "tokens" else ():
                check_token_ids(split, _embedding_rows(model), f"student {spec!r}")
            run_dir = out if len(students) == 1 else out / f"{i}-{_safe_name(spec)}"
            options = {} if isinstance(student, str) else dict(student.options)
            runs.append(StudentRun(spec, spec, model, run_dir, distillers=distillers, space_options=options))
        try:
            networks = None if teachers is None else [(t.model, w) for t, w in teachers.members()]
            trainer = Trainer(runs, train, test, recipe, networks, device, progress, transfer=transfer_set)
        except BaseException:
            if lock.made_folder:  # a failed start leaves no folder behind
                for child in out.iterdir():
                    if is_lock_file(child):
                        continue
                    shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
            raise
        summaries = trainer.fit(resume=resume)
        for run, summary in zip(runs, summaries, strict=True):
            # "teacher" stays one string (the first teacher's, as before); "teachers" lists the set
            summary["teacher"] = None if teachers is None else str(teachers.teachers[0].source)
            summary["teachers"] = None if teachers is None else teachers.describe()
            if transfer is not None:
                summary["transfer"] = {"dataset": transfer.dataset, "select": transfer.select,
                                       "keep": transfer.keep, "only": transfer.only}  # fmt: skip
            write_json(run.out / "result.json", summary)  # the card again, now naming the teachers
        if export:
            _export_students(runs, summaries, teachers)
        return summaries


def _export_students(
    runs: Sequence[StudentRun], summaries: list[dict[str, Any]], teachers: TeacherSet | None
) -> None:
    """Each student's ``model.pt`` as ``export/`` beside it, its card naming the teacher(s)."""
    from diswot.export import export_student, load_source

    named = None
    if teachers is not None:
        first = teachers.teachers[0]
        named = first.source if first.pretrained else f"{first.spec} (random init)"
    for run, summary in zip(runs, summaries, strict=True):
        source = load_source(run.out)
        source.facts["teacher"] = named
        source.facts["teachers"] = None if teachers is None else teachers.describe()
        summary["export"] = str(export_student(source, run.out / "export", overwrite=True).program)


def train_teacher(
    model: str,
    out: str | Path,
    *,
    dataset: str | ImageDataset = "sample",
    data_root: str | Path | None = None,
    recipe: Recipe | None = None,
    resume: bool = False,
    device: str = "cpu",
    train_subset: int | None = None,
    progress: bool = True,
    distill_from: TeacherSpec | None = None,
    distillers: str = "kd",
) -> dict[str, Any]:
    """Train ``model`` with cross-entropy; the checkpoint goes to ``out`` (e.g. ``teacher.pt``),
    logs and the resumable state to ``<out stem>_run/`` beside it.

    Soft-target ("tolerant") teachers: ``recipe.label_smoothing`` smooths the cross-entropy
    targets, and ``distill_from`` (a teacher or teacher set) adds ``distillers`` from it.
    """
    out = Path(out)
    if out.suffix not in {".pt", ".pth"}:
        raise DiswotError(f"--out {out} should be a checkpoint file name ending in .pt")
    run_dir = out.with_name(out.stem + "_run")
    if out.exists() and not resume:
        raise RunDirError(f"{out} exists; pass --resume to continue its run, or choose another --out")
    summary = distill(
        model if distill_from is None else distill_from, [model],
        "none" if distill_from is None else distillers,
        dataset=dataset, data_root=data_root, recipe=recipe, out=run_dir,
        resume=resume, device=device, train_subset=train_subset, progress=progress,
    )[0]  # fmt: skip
    shutil.copyfile(run_dir / "model.pt", out)
    summary["checkpoint"] = str(out)
    return summary
