"""The GPU evidence job (issue 24): one foreground command that ends by itself within a budget.

    bash benchmarks/gpu_evidence.sh --budget-s 500          # the device machine; see benchmarks/README.md

Stages, most valuable first; each result lands in ``--out`` (default ``$OUT``) as soon as it
exists, so a run cut short still returns what it finished:

0. set-up: ``source .device-kit/env.sh`` (unpack the data, install the kit's wheels);
1. ``kd_throughput.py`` on the GPU: fp32 vs bf16 vs compiled steps, a group of 8, 8 such
   groups in 8 processes at once, the fraction of bf16 peak (at most 60 s);
2. a ResNet-56 teacher on the 10,000 shared images;
3. all 64 ``resnet-depth`` students x {vanilla, KD}, seed 0;
4. the same for seed 1 (same epochs, so the two seeds measure the table's own noise);
5. as many NB201 cells (the seed-0 sample) as the time left allows, KD;
6. ``bench proxies`` on the resnet-depth table with the trained teacher (``PROXIES``).

Before a stage starts, the planner estimates its cost from what was measured so far (stage 1's
rows, the teacher's epochs, seed 0's wall time) and skips it with a line in the log when the
budget left cannot hold it; no stage starts past the budget, and a running stage is stopped at
the budget's end (its finished groups are kept). The log ends with the stage reached and the
throughput of each stage, so a trainer too slow for the lease shows where and by how much.

Files in ``--out`` (7, flat, within the device's 8-file limit): ``log.txt``, ``summary.json``
(per stage: status, reason, estimate, wall time, sizes chosen, throughput; the GPU; the teacher's
accuracy; the seed-to-seed Spearman), ``kd_throughput.json``, ``resnet_depth_gt.csv``,
``nb201_gt_seed0.csv``, ``proxies_results.json``, ``proxies_scores.csv``. Checkpoints and run
folders stay in ``--work``.

Sizing (every size is a field of :class:`Sizes`, changeable with ``--set name=value``)
----------------------------------------------------------------------------------------
The kit measured, on one H200, fp32: a 60-epoch ResNet-56 teacher plus 64 students x {vanilla,
KD} x 20 epochs (2,560 student-epochs of 10,000 images), 8 processes of 8 students, in 24
minutes. Even counting all 1,440 s as the students', that is 17.8k student-images/s, 72 s per
epoch of one seed's 128 student runs: the old 20-epoch, two-seed job needs 48 minutes of
students alone. The command has 9 minutes (540 s): ``--budget-s 500`` leaves 40 s of them spare
(stages are stopped 8 s before the budget ends, so the driver is done by ~500 s); set-up (~30 s:
xz of two CIFAR batches, six wheels) and the throughput rows (60 s) come first, the teacher gets
at most 15% of the rest, and 90 s is kept for stage 6 (64 archs x 8 proxies on one batch of 64,
plus the calibration reference, tens of ms each on a GPU, plus start-up and 1,000 bootstrap
resamples: a guess). About 260 s are left for the two seeds, 130 s each, of which ~20 s are a
command's start-up (Python, torch, CUDA context, data) and ~6 s per wave of groups (data,
teacher, models, the final plot and FLOPs count per student). At the kit's speed that is ~1
epoch per seed, so sizes must shrink and the GPU must be faster:

* bf16 autocast (the trainer's default on CUDA) and its device-side loss sums (issue 11);
* students and teacher at batch 256 (lr scaled linearly to 0.2): half the steps per epoch,
  which is what costs while small CIFAR ResNets are launch-bound rather than FLOP-bound;
* the test set trimmed to its first images (5,500 with today's checkout: the transfer limit
  needs it anyway, see ``--prepare-kit``) and evaluated at the last epoch only;
* epochs chosen by the planner, not fixed: the most (2 to 20) for which both seeds and the
  proxy reserve fit in the time left, costed from stage 1's ``group-procs`` row (8 processes x
  8 ResNet-20 students at the students' batch) x 12/9 (the average resnet-depth student has 12
  blocks to ResNet-20's 9) x 1.25 (the epoch loop: augmentation, checkpoints, evaluation).
  When two seeds of 2 epochs do not fit, seed 0 alone gets the most that do (3 at the kit's
  speed) and seed 1 is skipped; when not even 2 epochs of one seed fit, the table is skipped
  and the log gives the measured speed;
* the teacher: 10 to 60 epochs (60 = the kit's), costed as 1.5 x the measured KD step (a
  ResNet-56 training step is 81 block passes; the KD step, ResNet-56 forward + ResNet-20
  training step, 54);
* NB201: each cell costed at 3 x a measured resnet-depth student-epoch (15 cells of 6 edges:
  ~3x the layers), rounded down to whole waves of workers x group size, capped at 200.

At 3x the kit's speed (bf16 and batch 256 buying that is plausible, not measured) each seed
gets ~4 epochs; at 6x, ~8. Where stage 1 measured nothing, the kit's figure is the prior.

``SMOKE=1`` (or ``--smoke``) runs every stage on the CPU with tiny sizes (500 training and 500
test images, 1 epoch, 3 students, 2 NB201 cells, 2 workers) and the same planner, in 4 to 5
minutes on 2 busy cores; a tiny ``--budget-s`` skips every stage cleanly. ``--prepare-kit`` copies
the device kit to ``.device-kit/`` with the test batch trimmed so that the checkout plus the
kit travel within the device's 64 MiB.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import lzma
import math
import os
import pickle
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

REPO = Path(__file__).resolve().parents[1]
KIT_DIR = REPO / ".device-kit"

# Stage 6's proxies: DisWOT's forms against the trained teacher (the _trained twins keep it; the
# authors' own forms re-initialise it), the KD loss, the baselines, the default fitness ("auto",
# as a search with this teacher takes it) and the calibrated aggregate recommended on NB201
# (one constant; --proxies overrides it).
PROXIES = (
    "auto,diswot_trained,diswot_resnet_trained,diswot_map_trained,diswot_relational_trained,"
    "diswot_semantic_trained,diswot,diswot_resnet,diswot_map,kd,params,flops,synflow,"
    "cal:az_progressivity+synflow+flops"
)

TRAIN_IMAGES = 10_000  # data_batch_1: the shared training images
RESNET_DEPTH_ARCHS = 64
# the device's transfer limit (working tree + carried paths) and what prepare-kit keeps spare
TRAVEL_LIMIT_BYTES = 64 * 2**20
TRAVEL_MARGIN_BYTES = 2**20

# cost model (see the module docstring)
DEPTH_FACTOR = 12 / 9  # average resnet-depth student blocks / ResNet-20's
LOOP_FACTOR = 1.25  # the epoch loop around the timed step
TEACHER_STEP_FACTOR = 1.5  # ResNet-56 training step / (ResNet-56 forward + ResNet-20 step)
NB201_FACTOR = 3.0  # NB201 network / average resnet-depth student
ASSUMED_CONCURRENCY = 2.0  # aggregate / one process, when stage 1 timed no processes row
PRIOR_STUDENT_IMAGES_PER_S = 17_800.0  # the kit's fp32 figure, all of it taken as students'
PRIOR_TEACHER_EPOCH_S = 2.0  # the kit's 60-epoch teacher in at most ~2 of its 24 minutes
END_MARGIN_S = 8.0  # stopping a stage (SIGTERM, 3 s grace, SIGKILL) and the last writes

OUT_FILES = {
    "log": "log.txt",
    "summary": "summary.json",
    "throughput": "kd_throughput.json",
    "resnet": "resnet_depth_gt.csv",
    "nb201": "nb201_gt_seed0.csv",
    "proxies": "proxies_results.json",
    "scores": "proxies_scores.csv",
}


class InputError(Exception):
    """Bad input: one line naming the problem and the fix, exit status 2."""


# sizes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """Every size and cost guess of the job (``--set name=value`` changes one)."""

    device: str = "cuda"
    train_images: int | None = None  # None: all 10,000
    test_images: int | None = None  # smoke: trim the test batch to this many (GPU: the kit's trim)
    teacher_model: str = "resnet56"
    teacher_batch: int = 256
    teacher_epochs_min: int = 10
    teacher_epochs_max: int = 60
    teacher_share: float = 0.15  # of the time left when the teacher starts
    student_batch: int = 256
    student_epochs_min: int = 2
    student_epochs_max: int = 20
    archs: str = "all"  # or a comma list of resnet-depth keys
    workers: int = 8
    group_size: int = 8
    nb201_max: int = 200
    throughput_s: float = 60.0
    throughput_args: str = (
        "--devices cuda --batch-sizes 128,512 --steps 10 --blocks 3 "
        "--compiled-precisions bf16 --compiled-batch-sizes 128"
    )
    setup_s: float = 30.0
    startup_s: float = 20.0
    wave_overhead_s: float = 6.0
    proxies_s: float = 90.0
    proxies: str = PROXIES
    reference_size: int = 128
    bootstrap: int = 1000
    budget_bands: int = 4  # FLOPs bands of the within-budget Kendall
    truth_column: str = "kd_accuracy"
    gain_column: str = "vanilla_accuracy"  # "" for none

    @property
    def n_train(self) -> int:
        return self.train_images or TRAIN_IMAGES

    @property
    def n_archs(self) -> int:
        return RESNET_DEPTH_ARCHS if self.archs == "all" else len(self.archs.split(","))

    @property
    def precision(self) -> str:
        """What the trainer's ``auto`` resolves to: bf16 on CUDA, fp32 on a CPU."""
        return "fp32" if self.device == "cpu" else "bf16"


GPU_SIZES = Sizes()
SMOKE_SIZES = dataclasses.replace(
    GPU_SIZES, device="cpu", train_images=500, test_images=500, teacher_batch=64, teacher_epochs_min=1,
    teacher_epochs_max=1, student_batch=64, student_epochs_min=1, student_epochs_max=1, archs="111,135,333",
    workers=2, group_size=2, nb201_max=2, throughput_s=90.0,
    throughput_args="--devices cpu --batch-sizes 32 --steps 1 --blocks 1 --compiled-precisions ''",
    setup_s=2.0, startup_s=5.0, wave_overhead_s=3.0, proxies_s=30.0, reference_size=4, bootstrap=100,
    budget_bands=1, truth_column="vanilla_accuracy", gain_column="",  # KD from a 1-epoch teacher is chance
)  # fmt: skip


def apply_settings(sizes: Sizes, settings: Sequence[str]) -> Sizes:
    """``sizes`` with each ``name=value`` of ``settings`` applied (typed like the field)."""
    hints = typing.get_type_hints(Sizes)
    changes: dict[str, Any] = {}
    for setting in settings:
        name, sep, text = setting.partition("=")
        if not sep or name not in hints:
            known = ", ".join(hints)
            raise InputError(f"--set {setting!r}: expected name=value with a name among {known}")
        hint = hints[name]
        try:
            if text.lower() == "none" and type(None) in typing.get_args(hint):
                changes[name] = None
            elif hint in (int, int | None):
                changes[name] = int(text)
            elif hint is float:
                changes[name] = float(text)
            else:
                changes[name] = text
        except ValueError:
            raise InputError(f"--set {setting!r}: {text!r} is not a valid {name}") from None
    return dataclasses.replace(sizes, **changes)


# the planner ---------------------------------------------------------------------------------


@dataclass
class Clock:
    """Seconds left of a budget, on an injectable monotonic clock (tests pass a fake one)."""

    budget_s: float
    now: Callable[[], float] = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.now()

    def elapsed(self) -> float:
        return self.now() - self.started

    def left(self) -> float:
        return self.budget_s - self.elapsed()


@dataclass(frozen=True)
class StagePlan:
    """What a stage would cost: ``estimate_s``, plus ``reserve_s`` kept for later stages.

    ``blocked`` names a missing prerequisite (it skips the stage whatever the budget);
    ``timeout_s`` caps an elastic stage (default: the whole time left); ``params`` are the sizes
    chosen for this run (recorded in the summary)."""

    estimate_s: float
    reserve_s: float = 0.0
    timeout_s: float | None = None
    blocked: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    run: bool
    reason: str
    timeout_s: float = 0.0


def decide(plan: StagePlan, left_s: float, margin_s: float = END_MARGIN_S) -> Decision:
    """Start a stage only when its estimate (and the reserve) fits in the time left."""
    usable = left_s - margin_s
    if plan.blocked:
        return Decision(False, plan.blocked)
    if usable <= 0:
        return Decision(False, f"the budget is spent: {left_s:.0f} s left, {margin_s:.0f} s kept to stop")
    if not math.isfinite(plan.estimate_s) or plan.estimate_s + plan.reserve_s > usable:
        kept = f" + {plan.reserve_s:.0f} s kept for later stages" if plan.reserve_s else ""
        return Decision(False, f"needs ~{plan.estimate_s:.0f} s{kept}; {usable:.0f} s usable")
    timeout = usable if plan.timeout_s is None else min(plan.timeout_s, usable)
    return Decision(True, f"estimate {plan.estimate_s:.0f} s of {usable:.0f} s usable", timeout)


@dataclass
class StageRecord:
    """One stage's outcome, as the summary lists it."""

    name: str
    status: str  # done, cut (stopped at its time limit), failed, skipped
    reason: str = ""
    estimate_s: float | None = None
    timeout_s: float | None = None
    started_s: float | None = None
    wall_s: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)


class Stage(Protocol):
    name: str

    def plan(self, job: Any) -> StagePlan: ...

    def run(self, job: Any, plan: StagePlan, timeout_s: float) -> StageRecord: ...


def run_stages(
    stages: Sequence[Stage],
    job: Any,
    clock: Clock,
    say: Callable[[str], None],
    on_record: Callable[[StageRecord], None] = lambda record: None,
    margin_s: float = END_MARGIN_S,
) -> list[StageRecord]:
    """Plan and run ``stages`` in order; a stage that cannot fit is skipped with a logged reason."""
    records = []
    for stage in stages:
        plan = stage.plan(job)
        left = clock.left()
        decision = decide(plan, left, margin_s)
        if not decision.run:
            say(f"skip {stage.name}: {decision.reason}")
            record = StageRecord(stage.name, "skipped", decision.reason, plan.estimate_s, params=plan.params)
        else:
            say(f"start {stage.name}: {decision.reason}, limit {decision.timeout_s:.0f} s, {plan.params}")
            started = clock.elapsed()
            record = stage.run(job, plan, decision.timeout_s)
            record = dataclasses.replace(
                record, estimate_s=plan.estimate_s, timeout_s=decision.timeout_s, params=plan.params,
                started_s=started, wall_s=clock.elapsed() - started,
            )  # fmt: skip
            say(f"end {stage.name}: {record.status} after {record.wall_s:.0f} s {record.results}")
        records.append(record)
        on_record(record)
    return records


# the cost model (pure functions of what was measured) ----------------------------------------


@dataclass
class Rates:
    """What earlier stages measured."""

    rows: list[dict[str, Any]] = field(default_factory=list)  # kd_throughput.json's rows
    teacher_epoch_s: float | None = None
    student_epoch_s: float | None = None  # all workers together, per student-epoch
    seed_wall_s: dict[int, float] = field(default_factory=dict)


def step_seconds(rows: Sequence[dict[str, Any]], device: str, precision: str, batch: int) -> float | None:
    """Seconds of one eager KD step at ``batch``, interpolated linearly between measured batches."""
    times = {
        int(r["batch_size"]): r["batch_size"] / r["images_per_s"]
        for r in rows
        if r.get("row") == "step"
        and r.get("device") == device
        and r.get("precision") == precision
        and not r.get("compiled")
        and r.get("images_per_s")
    }
    if not times:
        return None
    if batch in times:
        return times[batch]
    sizes = sorted(times)
    if len(sizes) == 1:  # one point: assume time grows with the batch beyond it (the safe side)
        return times[sizes[0]] * max(1.0, batch / sizes[0])
    lower = max([s for s in sizes if s < batch], default=sizes[0])
    upper = min([s for s in sizes if s > batch], default=sizes[-1])
    if lower == upper:
        lower, upper = (sizes[-2], sizes[-1]) if batch > sizes[-1] else (sizes[0], sizes[1])
    slope = (times[upper] - times[lower]) / (upper - lower)
    return max(times[lower] + slope * (batch - lower), min(times.values()))


def teacher_epoch_s(rates: Rates, sizes: Sizes) -> float:
    """Seconds per teacher epoch: measured, else from the KD step of stage 1, else the prior."""
    if rates.teacher_epoch_s:
        return rates.teacher_epoch_s
    step = step_seconds(rates.rows, sizes.device, sizes.precision, sizes.teacher_batch)
    if step is None:
        return PRIOR_TEACHER_EPOCH_S
    return (sizes.n_train // sizes.teacher_batch) * step * TEACHER_STEP_FACTOR * LOOP_FACTOR


def student_epoch_s(rates: Rates, sizes: Sizes) -> float:
    """Seconds per resnet-depth student-epoch, all workers together (measured when possible)."""
    if rates.student_epoch_s:
        return rates.student_epoch_s
    found = {
        r["row"]: r["images_per_s"]
        for r in rates.rows
        if r.get("row") in {"group", "group-procs"}
        and r.get("device") == sizes.device
        and r.get("batch_size") == sizes.student_batch
    }
    if "group-procs" in found:
        speed = found["group-procs"]
    elif "group" in found:
        speed = found["group"] * min(ASSUMED_CONCURRENCY, sizes.workers)
    else:
        return sizes.n_train / PRIOR_STUDENT_IMAGES_PER_S
    return sizes.n_train / speed * DEPTH_FACTOR * LOOP_FACTOR


def seed_fixed_s(sizes: Sizes, students: int) -> float:
    """A table command's cost that does not grow with epochs: start-up and per-wave set-up."""
    groups = math.ceil(students / sizes.group_size)
    return sizes.startup_s + math.ceil(groups / sizes.workers) * sizes.wave_overhead_s


def choose_epochs(
    available_s: float, epoch_s: float, fixed_s: float, lo: int, hi: int, copies: int = 1
) -> int:
    """The most epochs in ``[lo, hi]`` for which ``copies`` runs fit in ``available_s`` (0: none)."""
    if epoch_s <= 0:
        return hi
    epochs = math.floor((available_s / copies - fixed_s) / epoch_s)
    return min(epochs, hi) if epochs >= lo else 0


def nb201_cells(available_s: float, cell_epoch_s: float, epochs: int, sizes: Sizes) -> int:
    """How many NB201 cells fit: whole waves of workers x group size when possible, else groups."""
    fixed = sizes.startup_s + sizes.wave_overhead_s
    fits = (
        math.floor((available_s - fixed) / (cell_epoch_s * epochs)) if cell_epoch_s > 0 else sizes.nb201_max
    )
    fits = min(fits, sizes.nb201_max)
    for unit in (sizes.workers * sizes.group_size, sizes.group_size, 1):
        if fits >= unit and unit <= sizes.nb201_max:
            return fits - fits % unit
    return 0


# the device kit ------------------------------------------------------------------------------


def read_cifar_batch(path: Path) -> dict[str, Any]:
    """A CIFAR python batch (``.xz`` or raw) through diswot's restricted unpickler."""
    sys.path.insert(0, str(REPO))
    from diswot.data.safe_pickle import safe_load

    if path.suffix == ".xz":
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / path.stem
            raw.write_bytes(lzma.decompress(path.read_bytes()))
            batch = safe_load(raw)
    else:
        batch = safe_load(path)
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}


def cifar_prefix_pickle(batch: dict[str, Any], count: int) -> bytes:
    """The first ``count`` images of ``batch`` as a CIFAR pickle that numpy 1 and 2 both read
    (protocol 3, the array rebuilt through ``numpy.core.multiarray`` as the original files do)."""
    import numpy as np

    subset = {
        "batch_label": f"first {count} of {batch.get('batch_label', 'the test batch')}",
        "labels": [int(v) for v in batch["labels"][:count]],
        "data": np.ascontiguousarray(batch["data"][:count], dtype=np.uint8),
    }
    if "filenames" in batch:
        subset["filenames"] = list(batch["filenames"][:count])
    raw = pickle.dumps(subset, protocol=3)
    new, old = b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core.multiarray\n_reconstruct\n"
    return raw.replace(new, old)


def travel_bytes(repo: Path, exclude: Path) -> int:
    """Bytes the device tool sends: tracked and untracked-not-ignored files (``exclude`` aside)."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise InputError(f"{repo} is not a git checkout ({exc}); run --prepare-kit inside one") from None
    total = 0
    for name in filter(None, listed.decode().split("\0")):
        path = repo / name
        if path.is_file() and exclude not in path.parents:
            total += path.stat().st_size
    return total


def prepare_kit(source: Path, dest: Path, test_images: int | None, repo: Path = REPO) -> dict[str, Any]:
    """Copy the device kit to ``dest`` with the test batch cut to its first ``test_images``
    images (``None``: the most, in steps of 500, that keep the checkout + kit within the
    device's transfer limit); the kit's ``env.sh`` is copied unchanged."""
    test_xz = source / "data" / "test_batch.xz"
    for needed in (source / "env.sh", test_xz, source / "data" / "data_batch_1.xz"):
        if not needed.is_file():
            raise InputError(
                f"{needed} is missing: --kit-source must be the device kit (../shared/device-kit)"
            )
    tmp = Path(tempfile.mkdtemp(prefix="diswot_device_kit_")) / "kit"  # outside the checkout
    shutil.copytree(source, tmp, ignore=lambda d, names: [n for n in names if Path(d, n) == test_xz])
    for path in [tmp, *tmp.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the shared kit is read-only
    others = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    checkout = travel_bytes(repo, dest)
    room = TRAVEL_LIMIT_BYTES - TRAVEL_MARGIN_BYTES - checkout - others
    batch = read_cifar_batch(test_xz)
    total = len(batch["labels"])
    count = total if test_images is None else min(test_images, total)
    if test_images is None:  # start from the original's bytes per image, then check the real size
        count = min(total, max(0, math.floor(room / (test_xz.stat().st_size / total) / 500) * 500))
    while True:
        if count < 500 and test_images is None:
            shutil.rmtree(tmp.parent)
            raise InputError(
                f"the checkout ({checkout / 2**20:.1f} MiB) and the kit's other files leave "
                f"{room / 2**20:.1f} MiB of the device's 64 MiB for the test batch; remove untracked "
                "files or pass --test-images N"
            )
        packed = lzma.compress(cifar_prefix_pickle(batch, count))  # preset 6, as the kit's own
        if test_images is not None or len(packed) <= room:
            break
        count -= 500
    (tmp / "data" / "test_batch.xz").write_bytes(packed)
    travel = (checkout + others + len(packed)) / 2**20
    info = {"test_images": count, "source": str(source), "travel_mib": round(travel, 1)}
    (tmp / "trimmed.json").write_text(json.dumps(info))
    shutil.rmtree(dest, ignore_errors=True)
    shutil.move(tmp, dest)
    shutil.rmtree(tmp.parent, ignore_errors=True)
    return info


def smoke_source() -> Path:
    """The shared data the smoke run reads: $DISWOT_DATA, $DISWOT_SHARED_DATA or ../shared/data."""
    source = Path(os.environ.get("DISWOT_DATA") or os.environ.get("DISWOT_SHARED_DATA")
                  or REPO.parent / "shared" / "data")  # fmt: skip
    folder = source / "cifar-10-batches-py"
    if not (folder / "data_batch_1").is_file() or not (folder / "test_batch").is_file():
        raise InputError(f"no CIFAR-10 batches under {source}; set DISWOT_DATA=/work/shared/data")
    return source


def smoke_data(source: Path, dest: Path, test_images: int | None) -> Path:
    """A CIFAR-10 folder for the CPU smoke run: the shared training batch, a trimmed test batch."""
    folder = source / "cifar-10-batches-py"
    target = dest / "cifar-10-batches-py"
    target.mkdir(parents=True, exist_ok=True)
    (target / "data_batch_1").unlink(missing_ok=True)
    (target / "data_batch_1").symlink_to(folder / "data_batch_1")
    shutil.copyfile(folder / "batches.meta", target / "batches.meta")
    batch = read_cifar_batch(folder / "test_batch")
    (target / "test_batch").write_bytes(cifar_prefix_pickle(batch, test_images or len(batch["labels"])))
    return dest


# running one command within its time ---------------------------------------------------------


def run_command(cmd: Sequence[str], env: dict[str, str], log: Any, timeout_s: float,
                on_poll: Callable[[], None], poll_s: float = 1.0) -> tuple[str, int | None]:  # fmt: skip
    """Run ``cmd`` (its output to ``log``) for at most ``timeout_s``; ``("done"|"failed"|"cut", rc)``.

    It runs in its own process group, so stopping it stops its worker processes too; the group
    stays in the caller's session, so whatever ends the caller's session ends it as well."""
    started = time.monotonic()
    proc = subprocess.Popen(list(cmd), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=os.setpgrp)  # fmt: skip
    try:
        while True:
            try:
                rc = proc.wait(timeout=poll_s)
                break
            except subprocess.TimeoutExpired:
                on_poll()
                if time.monotonic() - started >= timeout_s:
                    _stop(proc)
                    on_poll()
                    return "cut", None
    except BaseException:  # the job itself is being stopped (SIGTERM, Ctrl-C): take the stage along
        _stop(proc)
        raise
    on_poll()
    return ("done" if rc == 0 else "failed"), rc


def _stop(proc: subprocess.Popen) -> None:
    """End ``proc``'s whole process group: SIGTERM, then SIGKILL for whatever outlives the grace.

    The leader ending is not enough: its workers received the same signal but may not have been
    scheduled to die yet, so the group is watched until no live member is left."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        while _group_alive(proc.pid):
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        else:
            return


def _group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` has a member that has not ended (zombies have ended)."""
    proc_root = Path("/proc")
    if not proc_root.is_dir():  # no procfs (macOS): a signal 0 answers, zombies counted as alive
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for stat in proc_root.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it ended while being read
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def copy_if_newer(src: Path, dst: Path) -> bool:
    """Copy ``src`` over ``dst`` (atomically) when it is newer; whether it copied."""
    if not src.is_file() or (dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime):
        return False
    tmp = dst.with_name("." + dst.name + ".part")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    return True


def metrics_rows(root: Path, groups: str = "") -> int:
    """Epochs finished: the rows of the ``metrics.csv`` in ``root`` or, given ``groups``, in each
    folder under it that matches (a group of one student trains in the group's folder, larger
    groups one level below it)."""
    total = 0
    for folder in root.glob(groups) if groups else [root]:
        for path in [folder / "metrics.csv", *folder.glob("*/metrics.csv")]:
            if path.is_file():
                with open(path) as f:
                    total += max(0, sum(1 for _ in f) - 1)
    return total


def table_stats(path: Path, truth: str = "kd_accuracy") -> dict[str, Any]:
    """Finished students per column, means, and the seed-0 vs seed-1 Spearman of a truth table."""
    if not path.is_file():
        return {}
    try:
        import pandas as pd

        table = pd.read_csv(path, dtype={"arch": str})
    except Exception as exc:  # the summary must not die of a table it only reports on
        return {"error": f"{type(exc).__name__}: {exc}"}
    stats: dict[str, Any] = {"rows": len(table)}
    for column in table.columns:
        if "_accuracy_seed" in column:
            values = table[column].dropna()
            stats[column] = {
                "finished": len(values),
                "mean": round(float(values.mean()), 2) if len(values) else None,
            }
    for measure in (truth, "vanilla_accuracy"):
        pair = [f"{measure}_seed0", f"{measure}_seed1"]
        if all(c in table for c in pair):
            both = table[pair].dropna()
            if len(both) >= 3:
                rho = both[pair[0]].corr(both[pair[1]], method="spearman")
                stats[f"{measure}_spearman_seed0_seed1"] = None if pd.isna(rho) else round(float(rho), 3)
    return stats


# the job -------------------------------------------------------------------------------------


@dataclass
class Job:
    """The state the stages share: sizes, folders, the clock, what was measured, the summary."""

    sizes: Sizes
    out: Path
    work: Path
    clock: Clock
    smoke: bool
    log: Any = None  # the open log.txt (the stages' commands write into it too)
    data_root: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    rates: Rates = field(default_factory=Rates)
    student_epochs: int | None = None  # chosen by seed 0; seed 1 and NB201 train as long
    records: list[StageRecord] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    running: dict[str, Any] = field(default_factory=dict)
    _summary_at: float = 0.0

    @property
    def teacher(self) -> Path:
        return self.work / "teacher.pt"

    @property
    def resnet_table(self) -> Path:
        return self.work / OUT_FILES["resnet"]

    def say(self, message: str) -> None:
        line = f"[{self.clock.elapsed():6.1f} s] {message}"
        print(line, flush=True)
        if self.log is not None:
            self.log.write(line + "\n")
            self.log.flush()

    def data_args(self, train_subset: bool = True) -> list[str]:
        s = self.sizes
        args = ["--dataset", "cifar10", "--data-root", str(self.data_root), "--device", s.device]
        return args + (["--train-subset", str(s.train_images)] if train_subset and s.train_images else [])

    def write_summary(self) -> None:
        summary = {
            "budget_s": self.clock.budget_s, "elapsed_s": round(self.clock.elapsed(), 1), "smoke": self.smoke,
            "reached": next((r.name for r in reversed(self.records) if r.status != "skipped"), None),
            **self.info, "sizes": dataclasses.asdict(self.sizes), "student_epochs": self.student_epochs,
            "running": self.running or None, "stages": [dataclasses.asdict(r) for r in self.records],
        }  # fmt: skip
        tmp = self.out / ("." + OUT_FILES["summary"] + ".part")
        tmp.write_text(json.dumps(summary, indent=2, default=str))
        os.replace(tmp, self.out / OUT_FILES["summary"])
        self._summary_at = time.monotonic()

    def command(self, name: str, args: Sequence[str], timeout_s: float,
                copies: Sequence[tuple[Path, str]] = (),
                progress: Callable[[], dict] | None = None) -> StageRecord:  # fmt: skip
        """Run ``python args`` for at most ``timeout_s``, copying ``copies`` (work file, name in
        ``out``) whenever they change and the summary (with ``progress``) every 10 s."""
        cmd = [sys.executable, *args]
        self.say(f"  $ {shlex.join(cmd)}")
        self.running = {"stage": name, "since_s": round(self.clock.elapsed(), 1)}
        log_start = self.log.tell() if self.log is not None else 0

        def poll() -> None:
            for src, dst in copies:
                copy_if_newer(src, self.out / dst)
            if time.monotonic() - self._summary_at > 10:
                if progress:
                    self.running["progress"] = progress()
                self.write_summary()

        status, rc = run_command(cmd, self.env, self.log, timeout_s, poll)
        self.running = {}
        if status == "cut":
            return StageRecord(name, status, f"stopped at its limit of {timeout_s:.0f} s")
        if status == "failed":
            tail = _last_line(self.out / OUT_FILES["log"], log_start)
            self.say(f"  failed: {tail}")
            return StageRecord(name, status, f"exit status {rc}: {tail}")
        return StageRecord(name, status)


def _last_line(path: Path, start: int) -> str:
    """The last non-empty line written to ``path`` after byte ``start`` (a command's error)."""
    with open(path, "rb") as f:
        f.seek(start)
        lines = [line.strip() for line in f.read().decode(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def ground_truth_args(job: Job, space: str, selection: Sequence[str], table: Path) -> list[str]:
    """``bench kd-ground-truth`` in the students' recipe (``selection``: archs, seeds, --vanilla)."""
    s, epochs = job.sizes, str(job.student_epochs)
    return [
        "-m", "diswot", "bench", "kd-ground-truth", "--space", space, "--teacher", str(job.teacher),
        *selection, "--epochs", epochs, "--eval-every", epochs, "--batch-size", str(s.student_batch),
        "--workers", str(s.workers), "--group-size", str(s.group_size), *job.data_args(), "--out", str(table),
    ]  # fmt: skip


def training_results(student_epochs: int, wall_s: float, sizes: Sizes) -> dict[str, Any]:
    """A training stage's throughput: student-epochs finished, student-images/s over its wall time."""
    speed = student_epochs * sizes.n_train / wall_s if wall_s > 0 else 0.0
    return {"student_epochs": student_epochs, "student_images_per_s": round(speed)}


# the stages ----------------------------------------------------------------------------------


class SetupStage:
    """Stage 0: the kit's env.sh and the GPU's name (GPU), or a trimmed CIFAR-10 copy (smoke)."""

    name = "setup"

    def plan(self, job: Job) -> StagePlan:
        return StagePlan(job.sizes.setup_s)

    def run(self, job: Job, plan: StagePlan, timeout_s: float) -> StageRecord:
        env = dict(os.environ, PYTHONUNBUFFERED="1", TQDM_MININTERVAL="20")  # a short log
        if job.smoke:
            job.data_root = smoke_data(smoke_source(), job.work / "data", job.sizes.test_images)
            job.env = dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
            return StageRecord(self.name, "done", results={"data": str(job.data_root)})
        dump = "import json, os; print(json.dumps(dict(os.environ)))"
        script = f"source {shlex.quote(str(job.info['kit_dir']))}/env.sh >&2 && {sys.executable} -c '{dump}'"
        try:
            done = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                  stderr=job.log, timeout=timeout_s, check=True, text=True)  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            return StageRecord(self.name, "failed", f"env.sh: {exc}")
        job.env = dict(json.loads(done.stdout.strip().splitlines()[-1]), TQDM_MININTERVAL="20")
        job.data_root = Path(job.env["DISWOT_DATA"])
        trimmed = Path(job.info["kit_dir"]) / "trimmed.json"
        job.info["kit"] = json.loads(trimmed.read_text()) if trimmed.is_file() else {"test_images": "all"}
        query = ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]
        try:
            gpu = subprocess.run(query, capture_output=True, text=True, timeout=20)
            job.info["gpu"] = gpu.stdout.strip() or gpu.stderr.strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            job.info["gpu"] = f"nvidia-smi failed: {exc}"
        job.say(f"  GPU: {job.info['gpu']}; data in {job.data_root}; kit {job.info['kit']}")
        return StageRecord(self.name, "done", results={"gpu": job.info["gpu"]})


def _needs_setup(job: Job) -> str:
    return "" if job.env else "the set-up did not run"


class ThroughputStage:
    """Stage 1: kd_throughput.py rows, at most ``throughput_s``."""

    name = "throughput"

    def plan(self, job: Job) -> StagePlan:
        return StagePlan(job.sizes.throughput_s, blocked=_needs_setup(job), timeout_s=job.sizes.throughput_s)

    def run(self, job: Job, plan: StagePlan, timeout_s: float) -> StageRecord:
        s, out = job.sizes, job.out / OUT_FILES["throughput"]
        # a measurement starts only in the first 60% of the limit, so that it ends inside it
        args = [
            "benchmarks/kd_throughput.py", *shlex.split(s.throughput_args), "--group", str(s.group_size),
            "--group-batch", str(s.student_batch), "--processes", str(s.workers if s.workers > 1 else 0),
            "--time-limit-s", f"{0.6 * timeout_s:.0f}", "--out", str(out),
        ]  # fmt: skip
        record = job.command(self.name, args, timeout_s)
        if out.is_file():
            job.rates.rows = json.loads(out.read_text())["rows"]
            record.results = {_row_name(r): round(r["images_per_s"]) for r in job.rates.rows}
            peaks = [r["fraction_of_bf16_peak"] for r in job.rates.rows if "fraction_of_bf16_peak" in r]
            if peaks:
                record.results["best_fraction_of_bf16_peak"] = round(max(peaks), 4)
        return record


def _row_name(row: dict[str, Any]) -> str:
    compiled = " compiled" if row["compiled"] else ""
    procs = f" x{row['processes']}" if "processes" in row else ""
    return f"{row['row']}{procs} {row['precision']}{compiled} b{row['batch_size']}"


class TeacherStage:
    """Stage 2: the ResNet-56 teacher, its epochs sized to its share of the time left."""

    name = "teacher"

    def plan(self, job: Job) -> StagePlan:
        s = job.sizes
        epoch = teacher_epoch_s(job.rates, s)
        share = s.teacher_share * (job.clock.left() - END_MARGIN_S)
        epochs = choose_epochs(share, epoch, s.startup_s, s.teacher_epochs_min, s.teacher_epochs_max)
        epochs = epochs or s.teacher_epochs_min
        params = {"epochs": epochs, "batch": s.teacher_batch, "epoch_s_estimate": round(epoch, 2)}
        return StagePlan(s.startup_s + epochs * epoch, blocked=_needs_setup(job), params=params)

    def run(self, job: Job, plan: StagePlan, timeout_s: float) -> StageRecord:
        s, epochs, run_dir = job.sizes, str(plan.params["epochs"]), job.work / "teacher_run"
        args = [
            "-m", "diswot", "train-teacher", "--model", s.teacher_model, *job.data_args(), "--epochs", epochs,
            "--batch-size", str(s.teacher_batch), "--eval-every", epochs, "--out", str(job.teacher),
        ]  # fmt: skip
        record = job.command(self.name, args, timeout_s,
                             progress=lambda: {"epochs": metrics_rows(run_dir)})  # fmt: skip
        done = metrics_rows(run_dir)
        record.results = {"epochs_done": done}
        if done:
            with open(run_dir / "metrics.csv") as f:
                train_s = float(list(csv.DictReader(f))[-1]["wall_s"])
            job.rates.teacher_epoch_s = train_s / done
            record.results.update(train_s=round(train_s, 1), images_per_s=round(done * s.n_train / train_s))
        result = run_dir / "result.json"
        if job.teacher.is_file() and result.is_file():
            record.results["test_accuracy"] = json.loads(result.read_text())["test_accuracy"]
            job.info["teacher"] = {"model": s.teacher_model, **record.results}
        return record


class StudentsStage:
    """Stages 3 and 4: every resnet-depth student x {vanilla, KD} under one training seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.name = f"resnet-depth-seed{seed}"

    def plan(self, job: Job) -> StagePlan:
        s = job.sizes
        students = 2 * s.n_archs  # vanilla and KD
        blocked = "" if job.teacher.is_file() else "no trained teacher"
        epoch, fixed = students * student_epoch_s(job.rates, s), seed_fixed_s(s, students)
        if self.seed == 0:  # the most epochs for which both seeds and the proxy study fit
            room = job.clock.left() - END_MARGIN_S - s.proxies_s
            lo, hi = s.student_epochs_min, s.student_epochs_max
            both_seeds = choose_epochs(room, epoch, fixed, lo, hi, copies=2)
            epochs = both_seeds or choose_epochs(room, epoch, fixed, lo, hi)  # else seed 0 alone
            if not epochs and not blocked:
                blocked = (
                    f"even {lo} epoch(s) of one seed need ~{fixed + lo * epoch:.0f} s ({epoch:.0f} s an "
                    f"epoch at {s.n_train * students / epoch:.0f} student-images/s) + {s.proxies_s:.0f} s "
                    f"for the proxies; {room + s.proxies_s:.0f} s usable"
                )
            estimate = fixed + (epochs or lo) * epoch
            return StagePlan(estimate, s.proxies_s, blocked=blocked, params={"epochs": epochs})
        if not job.student_epochs:
            return StagePlan(math.inf, blocked=blocked or "seed 0 did not run, so no epochs were chosen")
        estimate = job.rates.seed_wall_s.get(0) or fixed + job.student_epochs * epoch
        return StagePlan(estimate, blocked=blocked, params={"epochs": job.student_epochs})

    def run(self, job: Job, plan: StagePlan, timeout_s: float) -> StageRecord:
        s = job.sizes
        job.student_epochs = plan.params["epochs"]
        archs = ["--all"] if s.archs == "all" else ["--archs", s.archs]
        args = ground_truth_args(job, "resnet-depth", [*archs, "--seeds", str(self.seed), "--vanilla"],
                                 job.resnet_table)  # fmt: skip
        runs, pattern = job.work / "resnet_depth_gt_runs", f"*-seed{self.seed}-from-*"
        started = time.monotonic()
        record = job.command(self.name, args, timeout_s, [(job.resnet_table, OUT_FILES["resnet"])],
                             lambda: {"student_epochs": metrics_rows(runs, pattern)})  # fmt: skip
        wall, done = time.monotonic() - started, metrics_rows(runs, pattern)
        if record.status == "done":
            job.rates.seed_wall_s[self.seed] = wall
        if done >= 2 * s.n_archs:  # at least an epoch of every student: a fair rate for what follows
            job.rates.student_epoch_s = max(wall - seed_fixed_s(s, 2 * s.n_archs), 1e-3) / done
        record.results = training_results(done, wall, s)
        record.results["table"] = table_stats(job.resnet_table, s.truth_column)
        return record


class NB201Stage:
    """Stage 5: as many sampled NB201 cells (seed 0) as fit, KD only, the students' recipe."""

    name = "nb201-seed0"

    def plan(self, job: Job) -> StagePlan:
        s = job.sizes
        if not job.teacher.is_file() or not job.student_epochs:
            return StagePlan(math.inf, blocked="no trained teacher, or no student epochs chosen by seed 0")
        room = job.clock.left() - END_MARGIN_S - s.proxies_s  # kept to the end: the proxies come next
        cell_epoch = NB201_FACTOR * student_epoch_s(job.rates, s)
        cells = nb201_cells(room, cell_epoch, job.student_epochs, s)
        fixed = s.startup_s + s.wave_overhead_s
        estimate = fixed + max(cells, min(s.group_size, s.nb201_max)) * job.student_epochs * cell_epoch
        params = {"cells": cells, "epochs": job.student_epochs}
        return StagePlan(estimate, s.proxies_s, timeout_s=room, params=params)

    def run(self, job: Job, plan: StagePlan, timeout_s: float) -> StageRecord:
        table, runs = job.work / OUT_FILES["nb201"], job.work / "nb201_gt_seed0_runs"
        sample = ["--num-archs", str(plan.params["cells"]), "--seed", "0"]
        args = ground_truth_args(job, "nb201", sample, table)
        started = time.monotonic()
        record = job.command(self.name, args, timeout_s, [(table, OUT_FILES["nb201"])],
                             lambda: {"student_epochs": metrics_rows(runs, "*")})  # fmt: skip
        done = metrics_rows(runs, "*")
        record.results = training_results(done, time.monotonic() - started, job.sizes)
        record.results["table"] = table_stats(table)
        return record


class ProxiesStage:
    """Stage 6: ``bench proxies`` on the resnet-depth table, with the trained teacher."""

    name = "proxies"

    def plan(self, job: Job) -> StagePlan:
        s = job.sizes
        stats = table_stats(job.resnet_table, s.truth_column)
        finished = max((v["finished"] for k, v in stats.items() if k.startswith(s.truth_column + "_seed")),
                       default=0)  # fmt: skip
        blocked = "" if job.teacher.is_file() and finished >= 2 else f"no {s.truth_column} table to judge"
        return StagePlan(s.proxies_s, blocked=blocked, params={"students": finished, "proxies": s.proxies})

    def run(self, job: Job, plan: StagePlan, timeout_s: float) -> StageRecord:
        s, out = job.sizes, job.work / "proxies"
        stats = table_stats(job.resnet_table, s.truth_column)
        gain = s.gain_column and any(v["finished"] for k, v in stats.items() if k.startswith(s.gain_column))
        args = [
            "-m", "diswot", "bench", "proxies", "--space", "resnet-depth", "--num-archs", "all",
            "--ground-truth", str(job.resnet_table), "--gt-column", s.truth_column,
            *(["--gain-column", s.gain_column] if gain else []), "--teacher", str(job.teacher),
            "--proxies", s.proxies, "--reference-size", str(s.reference_size),
            "--bootstrap", str(s.bootstrap), "--budget-bands", str(s.budget_bands), "--no-plots",
            *job.data_args(train_subset=False), "--out", str(out),
        ]  # fmt: skip
        copies = [(out / "results.json", OUT_FILES["proxies"]), (out / "scores.csv", OUT_FILES["scores"])]
        record = job.command(self.name, args, timeout_s, copies)
        if (out / "results.json").is_file():
            report = json.loads((out / "results.json").read_text())
            record.results = {name: {k: v.get(k) for k in ("kendall", "spearman")}
                              for name, v in report.get("proxies", {}).items()}  # fmt: skip
        return record


class Unselected:
    """A stage left out by ``--stages``: always skipped."""

    def __init__(self, stage: Stage) -> None:
        self.name = stage.name

    def plan(self, job: Job) -> StagePlan:
        return StagePlan(0.0, blocked="not selected (--stages)")

    def run(self, job: Job, plan: StagePlan, timeout_s: float) -> StageRecord:
        raise AssertionError("an unselected stage never runs")


def select_stages(stages: list[Stage], names: str | None) -> list[Stage]:
    """``stages`` with those not named in ``names`` (a comma list; None: all) left out."""
    if names is None:
        return stages
    chosen = {n.strip() for n in names.split(",") if n.strip()}
    unknown = chosen - {s.name for s in stages}
    if unknown or not chosen:
        raise InputError(f"--stages {names!r}: name some of {', '.join(s.name for s in stages)}")
    return [s if s.name in chosen else Unselected(s) for s in stages]


STAGES: tuple[Callable[[], Stage], ...] = (
    SetupStage, ThroughputStage, TeacherStage, lambda: StudentsStage(0), lambda: StudentsStage(1),
    NB201Stage, ProxiesStage,
)  # fmt: skip


# command line --------------------------------------------------------------------------------


def _budget(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"--budget-s must be a positive number of seconds (e.g. 500), got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        raise InputError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gpu_evidence", description=__doc__.split("\n\n")[0])
    p.add_argument("--budget-s", default=None,
                   help="seconds the whole job may take (default: 500; SMOKE=1: 330)")  # fmt: skip
    p.add_argument("--out", default=os.environ.get("OUT"), help="where the results go (default: $OUT)")
    p.add_argument("--work", default=None, help="checkpoints and run folders (default: a new /tmp folder)")
    p.add_argument("--smoke", action="store_true", default=os.environ.get("SMOKE") == "1",
                   help="tiny sizes on the CPU (also SMOKE=1); data from $DISWOT_DATA")  # fmt: skip
    p.add_argument("--kit", default=str(KIT_DIR), help="the device kit copied into the checkout")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="change one of Sizes")
    p.add_argument("--proxies", default=None, help=f"stage 6's proxies (default: {PROXIES})")
    p.add_argument("--stages", default=None, help="comma list of the stages to run (default: all)")
    p.add_argument("--prepare-kit", action="store_true", help="copy the device kit to .device-kit/ and exit")
    p.add_argument("--kit-source", default=str(REPO.parent / "shared" / "device-kit"))
    p.add_argument("--test-images", type=int, default=None,
                   help="--prepare-kit: test images kept (default: the most that travel)")  # fmt: skip
    return p


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except InputError as exc:
        print(f"gpu_evidence: error: {exc}", file=sys.stderr)
        return 2


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.prepare_kit:
        if args.test_images is not None and args.test_images < 1:
            raise InputError(f"--test-images must be at least 1, got {args.test_images}")
        info = prepare_kit(Path(args.kit_source), KIT_DIR, args.test_images)
        over = " (OVER the limit: the device call will refuse it)" if info["travel_mib"] > 64 else ""
        print(f"device kit in {KIT_DIR}: {info['test_images']} test images; checkout + kit "
              f"{info['travel_mib']} MiB of the device's 64 MiB{over}; carry .device-kit")  # fmt: skip
        return 0
    budget = _budget(args.budget_s) if args.budget_s is not None else (330.0 if args.smoke else 500.0)
    sizes = apply_settings(SMOKE_SIZES if args.smoke else GPU_SIZES, args.set)
    if args.proxies:
        sizes = dataclasses.replace(sizes, proxies=args.proxies)
    if not args.smoke and not (Path(args.kit) / "env.sh").is_file():
        raise InputError(
            f"no device kit at {args.kit}: run python3 benchmarks/gpu_evidence.py --prepare-kit "
            "and carry .device-kit (or set SMOKE=1 for the CPU smoke run)"
        )
    if not args.out:
        raise InputError("no output folder: pass --out DIR (on the device machine $OUT is set)")
    if args.smoke:
        smoke_source()  # the data must be there before anything is written
    stages = select_stages([make() for make in STAGES], args.stages)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in OUT_FILES.values():  # nothing stale from an earlier run in the same folder
        (out / name).unlink(missing_ok=True)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="diswot_gpu_evidence_"))
    work.mkdir(parents=True, exist_ok=True)
    clock = Clock(budget)
    with open(out / OUT_FILES["log"], "a", buffering=1) as log:
        job = Job(sizes, out, work, clock, args.smoke, log=log)
        job.info.update(started=time.strftime("%Y-%m-%d %H:%M:%S"), kit_dir=args.kit)
        job.say(
            f"gpu evidence: budget {budget:.0f} s, {'SMOKE (CPU)' if args.smoke else 'GPU'}, "
            f"results in {out}, work in {work}"
        )
        job.write_summary()

        def on_record(record: StageRecord) -> None:
            job.records.append(record)
            job.write_summary()

        if not args.smoke and budget > 560:
            job.say(f"note: the device runs a command for at most 600 s; {budget:.0f} s leaves no slack")
        signal.signal(signal.SIGTERM, _terminated)
        try:
            records = run_stages(stages, job, clock, job.say, on_record)
        except SystemExit:
            job.info["interrupted"] = f"stopped by SIGTERM after {clock.elapsed():.0f} s"
            job.say(job.info["interrupted"])
            job.write_summary()
            raise
        reached = [r for r in records if r.status != "skipped"]
        job.say(f"reached {reached[-1].name if reached else 'no stage'}; per stage:")
        for r in records:
            speed = r.results.get("student_images_per_s") or r.results.get("images_per_s")
            rate = f", {speed} images/s" if speed else ""
            took = f" in {r.wall_s:.0f} s" if r.wall_s is not None else ""
            job.say(f"  {r.name}: {r.status}{took}{rate}{' (' + r.reason + ')' if r.reason else ''}")
        job.write_summary()
    return 1 if any(r.status == "failed" for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
