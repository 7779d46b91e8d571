"""Throughput of the trainer's KD step, on CPU and (where there is one) on a GPU.

Measures what ``diswot distill`` and ``diswot bench kd-ground-truth`` run per batch: the teacher's
forward pass (no gradients) shared by the group, then each student's forward, cross-entropy +
Hinton KD, backward and SGD step (``Trainer._step``), on one fixed augmented CIFAR-10 batch.

Rows (each an images/second figure, configurations alternating block by block in one process,
so background load hits them alike and the ratios are what to read):

* ``step``: one ResNet-20 student, ResNet-56 teacher, batch 128 and 512, in every precision
  that the device runs (fp32 and bf16; on CUDA also fp32 with ``torch.compile``);
* ``old-step`` (CPU): the same step as the trainer ran it before the device-side loss sums
  (three ``float(loss)`` reads and a finiteness check per step), to show CPU did not regress;
* ``group``: 8 ResNet-20 students sharing one teacher pass (student-images/second).

On a GPU the FLOPs of one step are counted with ``torch.utils.flop_counter.FlopCounterMode`` and
reported as a fraction of the GPU's dense bf16 peak (``--peak-tflops``, default from its name).

Usage: python benchmarks/kd_throughput.py [--steps 10] [--blocks 3] [--out results/kd_throughput.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10, help="measured steps per configuration per block")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--batch-sizes", default="128,512")
    parser.add_argument("--group", type=int, default=8, help="students sharing the teacher pass")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--out", default=str(HERE / "results" / "kd_throughput.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path("/tmp/diswot_kd_throughput")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    configs = []  # (name, device, precision, compiled, students, batch size, old)
    for device in devices:
        for size in (int(s) for s in args.batch_sizes.split(",")):
            configs.append(("step", device, "fp32", False, 1, size, False))
            configs.append(("step", device, "bf16", False, 1, size, False))
            if device == "cpu":
                configs.append(("old-step", device, "fp32", False, 1, size, True))
            else:
                configs.append(("step", device, "fp32", True, 1, size, False))
                configs.append(("step", device, "bf16", True, 1, size, False))
        group_precision = "fp32" if device == "cpu" else "bf16"
        configs.append(("group", device, group_precision, False, args.group, 128, False))
    built = {}
    for config in configs:
        name, device, precision, compiled, students, size, _old = config
        trainer = make_trainer(students, precision, device, compiled, tmp)
        batch = fixed_batch(size, device)
        run_steps(trainer, batch, 2, config[6])  # warm-up (and compilation)
        built[config] = (trainer, batch)
    seconds = dict.fromkeys(configs, 0.0)
    for _block in range(args.blocks):
        for config in configs:
            trainer, batch = built[config]
            seconds[config] += run_steps(trainer, batch, args.steps, config[6])
    rows = []
    for config in configs:
        name, device, precision, compiled, students, size, _old = config
        images = args.blocks * args.steps * size * students
        row = {
            "row": name, "device": device, "precision": precision, "compiled": compiled,
            "students": students, "batch_size": size, "images_per_s": images / seconds[config],
        }  # fmt: skip
        if device == "cuda":
            trainer, batch = built[config]
            flops = step_flops(trainer, batch) * students
            gpu = torch.cuda.get_device_name()
            peak = args.peak_tflops or next((v for k, v in PEAKS.items() if k in gpu), float("nan"))
            achieved = flops * args.blocks * args.steps / seconds[config] / 1e12
            row.update({"gpu": gpu, "tflops": achieved, "fraction_of_bf16_peak": achieved / peak})
        rows.append(row)
    base = {(r["device"], r["batch_size"]): r["images_per_s"] for r in rows
            if r["row"] == "step" and r["precision"] == "fp32" and not r["compiled"]}  # fmt: skip
    for r in rows:
        if r["row"] != "group":
            r["vs_fp32"] = r["images_per_s"] / base[(r["device"], r["batch_size"])]
    result = {
        "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "teacher": "resnet56", "student": "resnet20",
        "steps": args.steps, "blocks": args.blocks, "rows": rows,
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    for r in rows:
        extra = f"  {r['fraction_of_bf16_peak']:.1%} of bf16 peak" if "tflops" in r else ""
        ratio = f"  x{r['vs_fp32']:.2f} vs fp32" if "vs_fp32" in r else ""
        speed = f"{r['images_per_s']:8.1f} img/s"
        print(f"{r['row']:<8} {r['device']:<5} {r['precision']:<5} compiled={r['compiled']!s:<5} "
              f"students={r['students']} batch={r['batch_size']:<4} {speed}{ratio}{extra}")  # fmt: skip


if __name__ == "__main__":
    main()
