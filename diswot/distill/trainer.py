"""The training loop shared by teacher training, distillation and the distillation ground truth.

One loop trains any number of students side by side on the same batches: the teacher's
forward pass runs once per batch for all of them (how the search's top-k winners are
distilled, and how ``bench kd-ground-truth`` trains a group of candidates). Each student keeps
its own optimizer, distillation loss and run directory.

Reproducible and resumable: the batch order and augmentation of epoch ``e`` come from a
generator seeded by ``(seed, e)``, the learning rate is a pure function of the epoch, and every
epoch ends with an atomic checkpoint (weights, optimizer, distiller projections, metrics). A
resumed run therefore continues bit-for-bit where the killed one stopped.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from diswot.atomic import save_figure, save_torch, write_json, write_with
from diswot.data import LabelledData
from diswot.data.batch import Batch
from diswot.devices import check_device
from diswot.distill.distillers import TeacherSetLoss, parse_distillers
from diswot.distill.transfer import TransferSet, ensemble_probs, subset_features
from diswot.errors import CheckpointError, DataError, DiswotError
from diswot.models.checkpoint import load_failure_reason, load_tensors, save_checkpoint
from diswot.models.features import FeatureExtractor, Features, network_on_batch
from diswot.models.profile import profile
from diswot.paths import make_dir

STATE_FILE = "last.pt"
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Recipe:
    """The standard CIFAR recipe (SGD + momentum, weight decay, cosine or step schedule,
    pad-crop-flip augmentation); ``lr`` is for ``batch_size`` 128 and scales linearly."""

    epochs: int = 240
    batch_size: int = 128
    lr: float = 0.1
    optimizer: str = "sgd"  # or "adamw" (Transformers: e.g. lr 5e-4, weight decay 0.01)
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # or "step": x0.1 at 50% and 75% of the epochs
    warmup_epochs: int = 0
    ce_weight: float = 1.0
    label_smoothing: float = 0.0  # of the cross-entropy targets ("tolerant", soft-target teachers)
    augment: bool = True
    seed: int = 0
    channels_last: bool = True
    eval_batch_size: int = 500
    # How the recipe runs; none of these change what is learned beyond float rounding.
    precision: str = "auto"  # fp32, bf16 or fp16 autocast; auto: bf16 on CUDA, fp32 elsewhere
    compile: bool = False  # torch.compile the student's blocks (pays on GPUs, costs minutes to build)
    eval_every: int = 1  # test accuracy every K epochs; the final epoch is always evaluated

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise DiswotError("epochs and batch size must be at least 1")
        if self.precision not in PRECISIONS:
            raise DiswotError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.eval_every < 1:
            raise DiswotError(f"eval_every must be at least 1, got {self.eval_every}")
        if self.optimizer not in {"sgd", "adamw"}:
            raise DiswotError(f"optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}")
        if self.schedule not in {"cosine", "step"}:
            raise DiswotError(f"schedule must be 'cosine' or 'step', got {self.schedule!r}")
        if not (self.lr > 0 and self.weight_decay >= 0 and 0 <= self.momentum < 1):
            raise DiswotError("lr must be > 0, weight decay >= 0 and momentum in [0, 1)")
        # inf passes the comparisons above but makes the first step NaN: refuse it up front
        if not all(math.isfinite(v) for v in (self.lr, self.weight_decay, self.ce_weight)):
            raise DiswotError("lr, weight decay and the cross-entropy weight must be finite numbers")
        if not self.ce_weight >= 0:
            raise DiswotError(f"the cross-entropy weight must be >= 0, got {self.ce_weight}")
        if not 0 <= self.label_smoothing < 1:
            raise DiswotError(f"label smoothing must lie in [0, 1), got {self.label_smoothing}")

    def lr_at(self, epoch: int) -> float:
        """The learning rate of (0-based) ``epoch``."""
        base = self.lr * self.batch_size / 128
        if epoch < self.warmup_epochs:
            return base * (epoch + 1) / (self.warmup_epochs + 1)
        if self.schedule == "step":
            return base * (0.1 ** sum(epoch >= m * self.epochs for m in (0.5, 0.75)))
        progress = (epoch - self.warmup_epochs) / max(1, self.epochs - self.warmup_epochs)
        return base * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass
class StudentRun:
    """One network being trained: its spec, its loss, its optimizer and its run directory."""

    name: str
    spec: str  # a model spec (zoo name or SPACE:ARCH), recorded in checkpoints
    model: nn.Module
    out: Path
    distillers: str = "none"
    space_options: dict[str, Any] = field(default_factory=dict)  # of a SPACE:ARCH spec, if not default
    loss: TeacherSetLoss | None = None
    optimizer: torch.optim.Optimizer | None = None
    extractor: FeatureExtractor | None = None
    metrics: list[dict[str, float]] = field(default_factory=list)
    started_epoch: int = 0
    wall_s: float = 0.0


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``auto`` made concrete: bf16 autocast on CUDA, fp32 elsewhere (CPU bf16 is slower)."""
    if precision not in PRECISIONS:
        raise DiswotError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if torch.device(device).type == "cuda" else "fp32"
    return precision


def autocast(device: str | torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context of a concrete ``precision`` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=_AUTOCAST_DTYPES[precision])


def evaluate(
    model: nn.Module, data: LabelledData, batch_size: int = 500, device: str = "cpu", precision: str = "fp32"
) -> float:
    """Top-1 accuracy (%) of ``model`` on ``data`` (images or texts)."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)  # summed on the device, read once
    with torch.no_grad(), autocast(device, resolve_precision(precision, device)):
        for batch in data.epoch(batch_size, shuffle=False, device=device):
            correct += (model(*batch.model_args()).argmax(1) == batch.labels).sum()
    model.train(was_training)
    return 100.0 * int(correct) / len(data)


#: a teacher network, or a teacher set: ``[(network, weight), ...]`` with weights summing to 1
TeacherArg = nn.Module | Sequence[tuple[nn.Module, float]] | None


class Trainer:
    """Trains ``students`` (optionally distilling from ``teacher``, one network or several with
    weights) with one ``recipe``; ``transfer`` adds (or, with ``transfer.only``, substitutes) a
    filtered unlabelled transfer set on which only the distiller terms apply."""

    def __init__(
        self,
        students: Sequence[StudentRun],
        train_data: LabelledData,
        test_data: LabelledData,
        recipe: Recipe,
        teacher: TeacherArg = None,
        device: str = "cpu",
        progress: bool = True,
        transfer: TransferSet | None = None,
    ) -> None:
        if not students:
            raise DiswotError("nothing to train")
        for data, role in ((train_data, "training"), (test_data, "test")):
            if len(data) == 0:
                raise DataError(f"the {role} set is empty")
        if len(train_data) < recipe.batch_size:
            raise DataError(
                f"the training set has {len(train_data)} examples, fewer than one batch of "
                f"{recipe.batch_size}; lower --batch-size"
            )
        if train_data.num_classes != test_data.num_classes:
            raise DataError("training and test sets have different class counts")
        self.students, self.train_data, self.test_data = list(students), train_data, test_data
        self.recipe, self.device, self.progress = recipe, device, progress
        self.precision = resolve_precision(recipe.precision, check_device(device))
        if torch.device(device).type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True  # fp32 matmuls on tensor cores
            torch.backends.cudnn.allow_tf32 = True
        # fp16 needs loss scaling (bf16 has fp32's range and does not)
        self.scaler = torch.amp.GradScaler(torch.device(device).type) if self.precision == "fp16" else None
        pairs = (
            [] if teacher is None else [(teacher, 1.0)] if isinstance(teacher, nn.Module) else list(teacher)
        )
        self.teachers = [(model, float(weight), FeatureExtractor(model)) for model, weight in pairs]
        self.teacher = self.teachers[0][0] if self.teachers else None  # the first (the only one, mostly)
        for model, _, _ in self.teachers:
            model.to(device).eval()
            for p in model.parameters():
                p.requires_grad_(False)
        self.transfer = transfer
        if transfer is not None and not self.teachers:
            raise DiswotError("a transfer set is distilled on; it needs a teacher and distillers")
        if transfer is not None and len(transfer.data) < recipe.batch_size:
            raise DataError(
                f"the transfer set has {len(transfer.data)} images, fewer than one batch of "
                f"{recipe.batch_size}; lower --batch-size"
            )
        self._prepare()

    # set-up --------------------------------------------------------------------------------------
    def _format(self, model: nn.Module) -> nn.Module:
        model.to(self.device)
        return model.to(memory_format=torch.channels_last) if self.recipe.channels_last else model

    def _prepare(self) -> None:
        num_classes = self.train_data.num_classes
        example = self.train_data.scoring_batch(min(32, len(self.train_data)), seed=0, device=self.device)
        teacher_feats = self._teacher_features(example) if self.teachers else None
        for feats in teacher_feats or []:
            if not torch.isfinite(feats.logits).all():
                # NaN/inf weights would only show as a NaN loss after an epoch of wasted training
                raise CheckpointError(
                    "the teacher's outputs on a real batch are not finite (NaN or inf): its weights are "
                    "corrupt or its training diverged; use another --teacher"
                )
            if feats.logits.shape[1] != num_classes:
                raise DataError(
                    f"the teacher predicts {feats.logits.shape[1]} classes but the data has "
                    f"{num_classes}; use a teacher trained on this dataset"
                )
        for run in self.students:
            self._format(run.model)
            run.extractor = FeatureExtractor(run.model)
            with torch.no_grad():
                feats = self._features(run.model, run.extractor, example)
            if feats.logits.shape[1] != num_classes:
                raise DataError(
                    f"student {run.name} predicts {feats.logits.shape[1]} classes but the data has "
                    f"{num_classes}"
                )
            terms = parse_distillers(run.distillers)
            if terms and teacher_feats is None:
                raise DiswotError(f"distillers {run.distillers!r} need a teacher (--teacher)")
            if self.transfer is not None and not terms:
                raise DiswotError(
                    "a transfer set is only distilled on; give distillers (e.g. --distiller kd)"
                )
            run.loss = None
            if terms:
                assert teacher_feats is not None
                weights = [w for _, w, _ in self.teachers]
                run.loss = TeacherSetLoss(terms, feats, teacher_feats, weights).to(self.device)
            params = list(run.model.parameters()) + (list(run.loss.parameters()) if run.loss else [])
            run.optimizer = self._optimizer(params)
            make_dir(run.out)

    def _optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        r = self.recipe
        if r.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=r.lr_at(0), weight_decay=r.weight_decay)
        nesterov = r.nesterov and r.momentum > 0
        return torch.optim.SGD(params, lr=r.lr_at(0), momentum=r.momentum, nesterov=nesterov,
                               weight_decay=r.weight_decay)  # fmt: skip

    def _features(self, model: nn.Module, extractor: FeatureExtractor, batch: Batch) -> Features:
        """Features of one batch, with the padding mask and (for Transformers) attention relations."""
        return network_on_batch(extractor, batch)

    def _teacher_features(self, batch: Batch) -> list[Features]:
        """Every teacher's features of ``batch`` (in the order of the set): the one place the
        teachers run, once per batch for all students."""
        with torch.no_grad(), autocast(self.device, self.precision):
            return [self._features(model, extractor, batch) for model, _, extractor in self.teachers]

    # resume ----------------------------------------------------------------------------------------
    def resume(self) -> int:
        """Load every student's last checkpoint; the epoch to continue from (0 when none)."""
        epochs = set()
        for run in self.students:
            path = run.out / STATE_FILE
            if not path.exists():
                epochs.add(0)
                continue
            try:
                state = load_tensors(path, map_location=self.device)
            except Exception as exc:
                raise CheckpointError(
                    f"cannot read training state {path}: {load_failure_reason(exc)}; "
                    "delete it to start over, or use another --out"
                ) from exc
            if state.get("spec") != run.spec or state.get("distillers") != run.distillers:
                raise CheckpointError(
                    f"{path} was written for {state.get('spec')!r} with {state.get('distillers')!r}, "
                    f"not {run.spec!r} with {run.distillers!r}; use another --out"
                )
            run.model.load_state_dict(state["model"])
            if run.loss is not None:
                run.loss.load_state_dict(state["loss"])
            assert run.optimizer is not None
            run.optimizer.load_state_dict(state["optimizer"])
            run.metrics = list(state["metrics"])
            run.wall_s = float(state["wall_s"])
            epochs.add(int(state["epoch"]))
        if len(epochs) > 1:
            raise CheckpointError(f"the students' checkpoints are at different epochs {sorted(epochs)}")
        start = epochs.pop()
        for run in self.students:
            run.started_epoch = start
            write_metrics(run)  # the figure of the epochs so far, drawn once on resume
        return start

    def _save_state(self, run: StudentRun, epoch: int) -> None:
        assert run.optimizer is not None
        state: dict[str, Any] = {
            "spec": run.spec, "distillers": run.distillers, "epoch": epoch,
            "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
            "loss": run.loss.state_dict() if run.loss else {}, "metrics": run.metrics, "wall_s": run.wall_s,
            "recipe": asdict(self.recipe),
        }  # fmt: skip
        save_torch(state, run.out / STATE_FILE)

    # the loop --------------------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> list[dict[str, Any]]:
        """Train to ``recipe.epochs``; returns each student's final summary (also ``result.json``).

        Losses are summed on the device and read once per epoch (a read is a host sync that
        stalls a GPU); test accuracy is measured every ``recipe.eval_every`` epochs and at the
        last one, and ``metrics.png`` is drawn at the end (``metrics.csv`` every epoch).
        """
        from tqdm import tqdm

        start = self.resume() if resume else 0
        if self.recipe.compile:
            self._compile()
        steps = self._steps_per_epoch()
        bar = tqdm(total=(self.recipe.epochs - start) * steps, disable=not self.progress, unit="batch",
                   desc=f"training {len(self.students)} model(s)")  # fmt: skip
        for epoch in range(start, self.recipe.epochs):
            lr = self.recipe.lr_at(epoch)
            for run in self.students:
                assert run.optimizer is not None
                for group in run.optimizer.param_groups:
                    group["lr"] = lr
                run.model.train()
            # (total, cross-entropy, distillation, transfer images kept, kept in the task's classes,
            # transfer images seen) per student, float64 so the sum is exact enough
            sums = {r.name: torch.zeros(6, dtype=torch.float64, device=self.device) for r in self.students}
            seconds = dict.fromkeys(sums, 0.0)
            for batch, transfer_batch in self._epoch_batches(epoch):
                teacher_started = time.perf_counter()
                teacher_feats = self._teacher_features(batch) if self.teachers and batch is not None else None
                transfer_feats = None
                if transfer_batch is not None:
                    transfer_feats = self._teacher_features(transfer_batch)
                teacher_s = (time.perf_counter() - teacher_started) / len(self.students)
                extra = () if transfer_batch is None else (transfer_batch, transfer_feats)
                for run in self.students:
                    started = time.perf_counter()
                    sums[run.name] += self._step(run, batch, teacher_feats, *extra)
                    seconds[run.name] += time.perf_counter() - started + teacher_s
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, refresh=False)
            last = epoch + 1 == self.recipe.epochs
            for run in self.students:
                started = time.perf_counter()
                totals = sums[run.name].tolist()  # the epoch's one read
                loss, ce, distill = (v / steps for v in totals[:3])
                if not math.isfinite(loss):
                    raise DiswotError(
                        f"the training loss of {run.name} became {loss} in epoch {epoch + 1}; "
                        "lower --lr or the distiller weights"
                    )
                accuracy = float("nan")
                if last or (epoch + 1) % self.recipe.eval_every == 0:
                    accuracy = evaluate(
                        run.model, self.test_data, self.recipe.eval_batch_size, self.device, self.precision
                    )
                run.wall_s += seconds[run.name] + time.perf_counter() - started
                row = {"epoch": epoch + 1, "lr": lr, "loss": loss, "ce": ce, "distill": distill,
                       "test_accuracy": accuracy, "wall_s": run.wall_s}  # fmt: skip
                if self.transfer is not None:
                    kept, in_task, seen = totals[3:]
                    row["kept_fraction"] = kept / seen
                    row["kept_in_task"] = in_task / kept  # NaN when the transfer labels name no task class
                run.metrics.append(row)
                self._save_state(run, epoch + 1)
                write_metrics(run, plot=last)
        bar.close()
        return [self._finish(run) for run in self.students]

    def _steps_per_epoch(self) -> int:
        data = self.transfer.data if self.transfer is not None and self.transfer.only else self.train_data
        return len(data) // self.recipe.batch_size

    def _epoch_batches(self, epoch: int) -> Iterator[tuple[Batch | None, Batch | None]]:
        """``(labelled, transfer)`` batches of one epoch; either is ``None`` when not used.

        Beside the labelled set the transfer set is cycled (reshuffled each pass) so that every
        labelled batch has a transfer batch; with ``transfer.only`` an epoch is one transfer pass.
        """
        seed = self.recipe.seed * 100_003 + epoch

        def passes(data: LabelledData, first_seed: int, cycle: bool) -> Iterator[Batch]:
            for k in itertools.count():
                yield from data.epoch(
                    self.recipe.batch_size, shuffle=True, augment=self.recipe.augment,
                    seed=first_seed + k * 7, drop_last=True, device=self.device,
                )  # fmt: skip
                if not cycle:
                    return

        labelled: Iterator[Batch | None] = itertools.repeat(None)
        transfer: Iterator[Batch | None] = itertools.repeat(None)
        if self.transfer is None or not self.transfer.only:
            labelled = passes(self.train_data, seed, cycle=False)  # sets the epoch's length
        if self.transfer is not None:
            transfer = passes(self.transfer.data, seed + 50_021, cycle=not self.transfer.only)
        for batch, transfer_batch in zip(labelled, transfer, strict=False):  # one side may be endless
            for b in (batch, transfer_batch):
                if b is not None and self.recipe.channels_last and b.inputs.dim() == 4:
                    b.inputs = b.inputs.contiguous(memory_format=torch.channels_last)
            yield batch, transfer_batch

    def _transfer_loss(
        self, run: StudentRun, batch: Batch, teachers: list[Features]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The distiller terms on the images of a transfer batch that the rule keeps (labels: the
        teacher set's predicted classes); also how many were kept and how many are in the task."""
        assert self.transfer is not None and run.loss is not None and run.extractor is not None
        feats = self._features(run.model, run.extractor, batch)
        probs = ensemble_probs(teachers, [w for _, w, _ in self.teachers])
        kept = self.transfer.choose(probs, feats.logits)
        loss = run.loss(
            subset_features(feats, kept), [subset_features(t, kept) for t in teachers], probs[kept].argmax(1)
        ).float()
        count = torch.tensor(float(len(kept)), dtype=torch.float64, device=loss.device)
        return loss, count, self.transfer.in_task_count(batch.labels, kept)

    def _step(
        self,
        run: StudentRun,
        batch: Batch | None,
        teacher: list[Features] | None,
        transfer_batch: Batch | None = None,
        transfer_teacher: list[Features] | None = None,
    ) -> torch.Tensor:
        """One optimisation step; the detached ``(loss, ce, distill, kept, kept in task, seen)``,
        left on the device."""
        assert run.optimizer is not None and run.extractor is not None
        zero = torch.zeros((), device=self.device)
        loss = ce = distill = zero
        transfer_stats = [zero, zero, zero]
        with autocast(self.device, self.precision):
            if batch is not None:
                labels = batch.labels
                feats = self._features(run.model, run.extractor, batch)
                ce = F.cross_entropy(
                    feats.logits.float(), labels, label_smoothing=self.recipe.label_smoothing
                )
                loss = self.recipe.ce_weight * ce
                if run.loss is not None:
                    assert teacher is not None
                    distill = run.loss(feats, teacher, labels).float()
                    loss = loss + distill
            if transfer_batch is not None:
                assert transfer_teacher is not None
                on_transfer, kept, in_task = self._transfer_loss(run, transfer_batch, transfer_teacher)
                distill = distill + on_transfer
                loss = loss + on_transfer
                seen = torch.tensor(
                    float(len(transfer_batch.labels)), dtype=torch.float64, device=kept.device
                )
                transfer_stats = [kept, in_task, seen]
        run.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(run.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            run.optimizer.step()
        return torch.stack([t.double() for t in (loss, ce, distill, *transfer_stats)]).detach()

    def _compile(self) -> None:
        """``torch.compile`` every block of each student that holds no feature hook.

        The feature extractor hooks two modules per call; compiling the whole network would
        trace those hooks and recompile on every step, so the hooked modules (and the modules
        around them) stay eager and everything beneath them is compiled once.
        """
        for run in self.students:
            assert run.extractor is not None
            hooked = {run.extractor.classifier_name, run.extractor.feature_layer_name}
            _compile_around(run.model, hooked)

    def _finish(self, run: StudentRun) -> dict[str, Any]:
        cost = profile(
            run.model.to(memory_format=torch.contiguous_format).cpu(), self.train_data.example_inputs
        )
        run.model.to(self.device)
        final = run.metrics[-1]["test_accuracy"] if run.metrics else float("nan")
        summary = {
            "name": run.name, "model": run.spec, "space_options": run.space_options,
            "distillers": run.distillers,
            "test_accuracy": final, "best_test_accuracy": max(
                (m["test_accuracy"] for m in run.metrics if math.isfinite(m["test_accuracy"])),
                default=float("nan"),
            ),
            "epochs": self.recipe.epochs, "params": cost.params, "flops": cost.flops,
            "wall_s": run.wall_s, "dataset": self.train_data.name, "train_images": len(self.train_data),
            "test_images": len(self.test_data), "recipe": asdict(self.recipe),
        }  # fmt: skip
        save_checkpoint(
            run.out / "model.pt", run.model, run.spec, self.train_data.num_classes,
            space_options=run.space_options, test_accuracy=final, distillers=run.distillers,
            epochs=self.recipe.epochs,
        )  # fmt: skip
        write_json(run.out / "result.json", summary)
        return summary


def _compile_around(model: nn.Module, keep: set[str | None]) -> None:
    """Compile the largest submodules of ``model`` that contain none of the ``keep`` names."""
    names = [n for n in keep if n]

    def visit(prefix: str, module: nn.Module) -> None:
        for name, child in module.named_children():
            full = f"{prefix}.{name}" if prefix else name
            if any(n == full or n.startswith(full + ".") for n in names):
                visit(full, child)  # an ancestor of a hooked module: descend
            elif any(p.numel() for p in child.parameters()):
                child.compile()

    visit("", model)


def write_metrics(run: StudentRun, plot: bool = True) -> None:
    """``metrics.csv`` and, when ``plot``, ``metrics.png`` (training loss and test top-1 per epoch).

    The figure costs far more than an epoch of a small student on a GPU, so the trainer draws
    it at the end of training (and on resume) rather than every epoch.
    """
    if not run.metrics:
        return

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(run.metrics[0]))
            writer.writeheader()
            writer.writerows(run.metrics)

    write_with(run.out / "metrics.csv", write)
    if not plot:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [m["epoch"] for m in run.metrics]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), dpi=100)
    left.plot(epochs, [m["loss"] for m in run.metrics], label="total")
    left.plot(epochs, [m["ce"] for m in run.metrics], label="cross-entropy")
    left.set_xlabel("epoch")
    left.set_ylabel("training loss")
    left.legend()
    evaluated = [m for m in run.metrics if math.isfinite(m["test_accuracy"])]
    right.plot([m["epoch"] for m in evaluated], [m["test_accuracy"] for m in evaluated], "o-",
               color="tab:green", markersize=3)  # fmt: skip
    right.set_xlabel("epoch")
    right.set_ylabel("test top-1 (%)")
    fig.suptitle(f"{run.name} ({run.distillers})")
    fig.tight_layout()
    save_figure(fig, run.out / "metrics.png")
    plt.close(fig)
