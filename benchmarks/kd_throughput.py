"""Throughput of the trainer's KD step, on CPU and (where there is one) on a GPU.

Measures what ``diswot distill`` and ``diswot bench kd-ground-truth`` run per batch: the teacher's
forward pass (no gradients) shared by the group, then each student's forward, cross-entropy +
Hinton KD, backward and SGD step (``Trainer._step``), on one fixed augmented CIFAR-10 batch.

Rows (each an images/second figure; the eager configurations alternate block by block in one
process, so background load hits them alike and the ratios are what to read):

* ``step``: one ResNet-20 student, ResNet-56 teacher, batch 128 and 512, fp32 and bf16; on CUDA
  also with ``torch.compile`` (``--compiled-precisions``, measured after the eager rows, since
  building one costs seconds to minutes);
* ``old-step`` (CPU): the same step as the trainer ran it before the device-side loss sums
  (three ``float(loss)`` reads and a finiteness check per step), to show CPU did not regress;
* ``group``: 8 ResNet-20 students sharing one teacher pass (student-images/second);
* ``group-procs`` (``--processes N``): N processes at once, each training such a group, as
  ``bench kd-ground-truth --workers N`` shares a GPU (student-images/second of all together).

On a GPU the FLOPs of one step are counted with ``torch.utils.flop_counter.FlopCounterMode`` and
reported as a fraction of the GPU's dense bf16 peak (``--peak-tflops``, default from its name).
The JSON is rewritten after every block and row, and ``--time-limit-s`` starts no measurement
past its limit, so a run cut short keeps what it measured (``benchmarks/gpu_evidence.py`` uses
``--devices cuda --processes 8 --time-limit-s``).

Usage: python benchmarks/kd_throughput.py [--steps 10] [--blocks 3] [--out results/kd_throughput.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from diswot import build_model, load_sample
from diswot.data.batch import Batch
from diswot.distill import Recipe, StudentRun, Trainer

HERE = Path(__file__).resolve().parent
# dense bf16 tensor-core peak (TFLOP/s) by GPU name, from the vendors' data sheets
PEAKS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "RTX 4090": 165.0}


def fixed_batch(size: int, device: str) -> Batch:
    """``size`` augmented images of the embedded sample (repeated: content does not matter here)."""
    data = load_sample()
    batches = []
    seed = 0
    while sum(len(b.labels) for b in batches) < size:
        batches.extend(data.epoch(100, shuffle=True, augment=True, seed=seed, device=device))
        seed += 1
    inputs = torch.cat([b.inputs for b in batches])[:size].contiguous(memory_format=torch.channels_last)
    labels = torch.cat([b.labels for b in batches])[:size]
    return Batch(inputs, labels)


def make_trainer(students: int, precision: str, device: str, compiled: bool, tmp: Path) -> Trainer:
    train, test = load_sample().split(0.2)
    torch.manual_seed(0)
    teacher = build_model("resnet56")
    runs = [
        StudentRun(f"s{i}", "resnet20", build_model("resnet20"), tmp / f"s{i}", distillers="kd")
        for i in range(students)
    ]
    recipe = Recipe(batch_size=40, precision=precision, compile=compiled)
    trainer = Trainer(runs, train, test, recipe, teacher=teacher, device=device, progress=False)
    if compiled:
        trainer._compile()
    return trainer


def old_style_step(trainer: Trainer, run: StudentRun, batch: Batch, teacher) -> None:
    """The step as it was: the same work plus three host reads and a finiteness check."""
    values = trainer._step(run, batch, teacher)
    bool(torch.isfinite(values[0]))
    for v in values:
        float(v)


def run_steps(trainer: Trainer, batch: Batch, steps: int, old: bool = False) -> float:
    """Seconds for ``steps`` steps of every student (teacher pass shared), device synchronised."""
    device = torch.device(trainer.device)
    started = time.perf_counter()
    total = torch.zeros((), device=device)
    for _ in range(steps):
        teacher = trainer._teacher_features(batch)
        for run in trainer.students:
            if old:
                old_style_step(trainer, run, batch, teacher)
            else:
                total += trainer._step(run, batch, teacher)[0]
    float(total)  # one read at the end, as the trainer does once per epoch
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def step_flops(trainer: Trainer, batch: Batch) -> int:
    """Floating-point operations (2 x multiply-adds) of one teacher pass + one student step."""
    counter = FlopCounterMode(display=False)
    with counter:
        teacher = trainer._teacher_features(batch)
        trainer._step(trainer.students[0], batch, teacher)
    return int(counter.get_total_flops())


@dataclass(frozen=True)
class Config:
    """One measured configuration (a row of the output)."""

    row: str  # step, old-step, group or group-procs
    device: str
    precision: str
    compiled: bool
    students: int
    batch_size: int
    old: bool = False  # the step as it was before the device-side loss sums
    processes: int = 1


def plan_configs(args: argparse.Namespace, devices: list[str]) -> tuple[list[Config], list[Config]]:
    """``(eager, compiled)`` configurations: eager ones are measured first, block by block."""
    eager, compiled = [], []
    compiled_sizes = _ints(args.compiled_batch_sizes or args.batch_sizes)
    for device in devices:
        for size in _ints(args.batch_sizes):
            eager.append(Config("step", device, "fp32", False, 1, size))
            eager.append(Config("step", device, "bf16", False, 1, size))
            if device == "cpu":
                eager.append(Config("old-step", device, "fp32", False, 1, size, old=True))
        for size in compiled_sizes if device != "cpu" else ():
            for precision in _words(args.compiled_precisions):
                compiled.append(Config("step", device, precision, True, 1, size))
        eager.append(Config("group", device, group_precision(device), False, args.group, args.group_batch))
    return eager, compiled


def group_precision(device: str) -> str:
    """The precision the trainer picks by default (``auto``): bf16 on a GPU, fp32 on a CPU."""
    return "fp32" if device == "cpu" else "bf16"


def _ints(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def _words(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _procs_worker(config: Config, steps: int, threads: int, tmp: Path, barrier: Any, queue: Any) -> None:
    """One of ``config.processes`` processes: warm up, wait for the others, time ``steps`` steps."""
    try:
        torch.set_num_threads(threads)
        trainer = make_trainer(config.students, config.precision, config.device, False, tmp)
        batch = fixed_batch(config.batch_size, config.device)
        run_steps(trainer, batch, 2)
        barrier.wait(timeout=600)
        started = time.time()
        run_steps(trainer, batch, steps)
        queue.put((started, time.time()))
    except Exception as exc:  # reported by the parent as the row's error
        queue.put(f"{type(exc).__name__}: {exc}")


def measure_processes(config: Config, steps: int, tmp: Path) -> float:
    """Student-images/second of ``config.processes`` processes each training a group at once
    (how ``bench kd-ground-truth --workers N`` shares one GPU)."""
    context = multiprocessing.get_context("spawn")  # CUDA cannot be used in forked children
    barrier, queue = context.Barrier(config.processes), context.Queue()
    threads = max(1, (os.cpu_count() or 1) // config.processes)
    procs = [
        context.Process(target=_procs_worker, args=(config, steps, threads, tmp / f"p{i}", barrier, queue))
        for i in range(config.processes)
    ]
    for p in procs:
        p.start()
    try:
        spans = [queue.get(timeout=900) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    errors = [s for s in spans if isinstance(s, str)]
    if errors:
        raise RuntimeError(errors[0])
    seconds = max(end for _, end in spans) - min(start for start, _ in spans)
    return config.processes * steps * config.batch_size * config.students / seconds


def make_row(config: Config, images: int, seconds: float, built: tuple[Trainer, Batch] | None,
             args: argparse.Namespace, step_count: int) -> dict[str, Any]:  # fmt: skip
    """The output row of ``config``: images/second, and on a GPU TFLOP/s and the fraction of peak."""
    row: dict[str, Any] = {
        "row": config.row, "device": config.device, "precision": config.precision,
        "compiled": config.compiled, "students": config.students, "batch_size": config.batch_size,
        "images_per_s": images / seconds,
    }  # fmt: skip
    if config.processes > 1:
        row["processes"] = config.processes
    if config.device == "cuda" and built is not None:
        trainer, batch = built
        flops = step_flops(trainer, batch) * config.students
        gpu = torch.cuda.get_device_name()
        peak = args.peak_tflops or next((v for k, v in PEAKS.items() if k in gpu), float("nan"))
        achieved = flops * step_count / seconds / 1e12
        row.update({"gpu": gpu, "tflops": achieved, "fraction_of_bf16_peak": achieved / peak})
    return row


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``vs_fp32``: each single-student row against the eager fp32 step of its device and batch."""
    base = {(r["device"], r["batch_size"]): r["images_per_s"] for r in rows
            if r["row"] == "step" and r["precision"] == "fp32" and not r["compiled"]}  # fmt: skip
    for r in rows:
        key = (r["device"], r["batch_size"])
        if r["row"] in {"step", "old-step"} and key in base:
            r["vs_fp32"] = r["images_per_s"] / base[key]
    return rows


def write_result(args: argparse.Namespace, rows: list[dict[str, Any]], skipped: list[str]) -> None:
    """The JSON so far, written atomically (a run cut short keeps every finished row)."""
    result = {
        "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "teacher": "resnet56", "student": "resnet20",
        "steps": args.steps, "blocks": args.blocks, "rows": with_ratios([dict(r) for r in rows]),
        "skipped": skipped,
    }  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(out)


def print_row(r: dict[str, Any]) -> None:
    extra = f"  {r['fraction_of_bf16_peak']:.1%} of bf16 peak" if "tflops" in r else ""
    ratio = f"  x{r['vs_fp32']:.2f} vs fp32" if "vs_fp32" in r else ""
    procs = f" processes={r['processes']}" if "processes" in r else ""
    speed = f"{r['images_per_s']:8.1f} img/s"
    print(f"{r['row']:<11} {r['device']:<5} {r['precision']:<5} compiled={r['compiled']!s:<5} "
          f"students={r['students']}{procs} batch={r['batch_size']:<4} {speed}{ratio}{extra}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10, help="measured steps per configuration per block")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--batch-sizes", default="128,512")
    parser.add_argument("--devices", default=None, help="comma list (default: cpu, and cuda if present)")
    parser.add_argument("--compiled-precisions", default="fp32,bf16",
                        help="torch.compile rows on a GPU, after the eager ones ('' for none)")  # fmt: skip
    parser.add_argument("--compiled-batch-sizes", default=None, help="default: --batch-sizes")
    parser.add_argument("--group", type=int, default=8, help="students sharing the teacher pass")
    parser.add_argument("--group-batch", type=int, default=128, help="batch size of the group rows")
    parser.add_argument("--processes", type=int, default=0,
                        help="also time N processes each training a group at once (0: not)")  # fmt: skip
    parser.add_argument("--time-limit-s", type=float, default=None,
                        help="start no measurement after this many seconds (rows so far stay)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--out", default=str(HERE / "results" / "kd_throughput.json"))
    args = parser.parse_args()
    started = time.perf_counter()

    def time_left() -> float:
        limit = float("inf") if args.time_limit_s is None else args.time_limit_s
        return limit - (time.perf_counter() - started)

    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="diswot_kd_throughput_"))
    present = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    devices = _words(args.devices) if args.devices else present
    eager, compiled = plan_configs(args, devices)
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []

    # eager rows, block by block in one process, so background load hits them alike
    built = {c: (make_trainer(c.students, c.precision, c.device, False, tmp),
                 fixed_batch(c.batch_size, c.device)) for c in eager}  # fmt: skip
    for config, (trainer, batch) in built.items():
        run_steps(trainer, batch, 2, config.old)  # warm-up
    seconds = dict.fromkeys(eager, 0.0)
    blocks = 0
    while blocks < args.blocks and (blocks == 0 or time_left() > 0):
        for config in eager:
            trainer, batch = built[config]
            seconds[config] += run_steps(trainer, batch, args.steps, config.old)
        blocks += 1
        rows = [make_row(c, blocks * args.steps * c.batch_size * c.students, seconds[c], built[c], args,
                         blocks * args.steps) for c in eager]  # fmt: skip
        write_result(args, rows, skipped)
    if blocks < args.blocks:
        skipped.append(f"eager blocks {blocks + 1}-{args.blocks} (time limit)")

    # several processes at once, each with its own group (the ground truth's --workers)
    if args.processes > 0:
        device = devices[-1]
        config = Config("group-procs", device, group_precision(device), False, args.group, args.group_batch,
                        processes=args.processes)  # fmt: skip
        if time_left() > 0:
            speed = measure_processes(config, args.steps * args.blocks, tmp)
            rows.append(make_row(config, 1, 1 / speed, None, args, 1))
        else:
            skipped.append(f"group-procs x{args.processes} (time limit)")
        write_result(args, rows, skipped)

    # compiled rows last: building one costs seconds to minutes of compilation
    for config in compiled:
        if time_left() <= 0:
            skipped.append(f"compiled {config.precision} batch {config.batch_size} (time limit)")
            write_result(args, rows, skipped)
            continue
        trainer = make_trainer(config.students, config.precision, config.device, True, tmp)
        batch = fixed_batch(config.batch_size, config.device)
        run_steps(trainer, batch, 2)  # compilation
        spent = sum(run_steps(trainer, batch, args.steps) for _ in range(args.blocks))
        images = args.blocks * args.steps * config.batch_size
        rows.append(make_row(config, images, spent, (trainer, batch), args, args.blocks * args.steps))
        write_result(args, rows, skipped)
    write_result(args, rows, skipped)
    shutil.rmtree(tmp, ignore_errors=True)
    for r in with_ratios(rows):
        print_row(r)
    for note in skipped:
        print(f"skipped: {note}")


if __name__ == "__main__":
    main()
