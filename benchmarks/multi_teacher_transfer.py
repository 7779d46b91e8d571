"""Issue 27's experiments, small and on the CPU: two teachers, and distilling on a transfer pool.

``two-teachers``: teacher A (ResNet-20, hard labels) and teacher B (ResNet-20, label smoothing
0.2, another seed) trained on CIFAR-10 ``data_batch_1``; the student is ``resnet-depth:135``, the
best DisWOT ``resnet-depth`` student (kd_accuracy in benchmarks/ground_truth/
diswot_resnet_depth_cifar100.csv) with FLOPs <= ResNet-20's; it is distilled (CE + KD) from A,
from B and from A+B (weights 0.5/0.5), 3 seeds each, and evaluated on ``test_batch``.

``transfer``: the task is CIFAR-10 classes 0-4 (``cifar10:classes=0-4``); a ResNet-20 teacher is
trained on its labelled images; a ResNet-8 student is distilled (KD) on (a) the labelled 5-class
images, (b) the unlabelled 10-class pool (``data_batch_1``) with rule ``all``, (c) the pool with
``kd3`` and ``teacher_entropy`` keeping half of each batch; 3 seeds; evaluated on the 5-class test
images. The per-epoch kept fraction and in-distribution share come from each run's metrics.csv.

Both write a per-run CSV and a mean +- std summary to ``benchmarks/results/<name>/``; teachers
and runs go under ``--work`` (default /work/artifacts/issue27), never into git.

Usage: python benchmarks/multi_teacher_transfer.py {two-teachers,transfer} [--epochs N] [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DISWOT_DATA", "/work/shared/data"))
SEEDS = (0, 1, 2)


def diswot(*args: str, log: Path) -> None:
    """One CLI call (one thread, as the shared machine wants), its output appended to ``log``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    with open(log, "a") as f:
        f.write("$ diswot " + " ".join(args) + "\n")
        f.flush()
        subprocess.run(
            [sys.executable, "-m", "diswot", *args], env=env, stdout=f, stderr=subprocess.STDOUT, check=True
        )


def recipe_args(dataset: str, epochs: int, seed: int | None = None) -> list[str]:
    """The data and schedule flags every run here shares (test accuracy measured at the end only)."""
    args = [
        "--dataset",
        dataset,
        "--data-root",
        str(DATA),
        "--epochs",
        str(epochs),
        "--eval-every",
        str(epochs),
    ]
    return args if seed is None else [*args, "--seed", str(seed)]


def teacher(work: Path, name: str, model: str, dataset: str, epochs: int, seed: int, *extra: str) -> Path:
    out = work / f"{name}.pt"
    if not out.exists():
        args = ["--model", model, "--out", str(out), *recipe_args(dataset, epochs, seed), *extra]
        diswot("train-teacher", *args, log=work / f"{name}.log")
    return out


def student_run(work: Path, out: Path, args: list[str]) -> dict:
    if not (out / "result.json").exists():
        diswot("distill", *args, "--out", str(out), log=work / "distill.log")
    result = json.loads((out / "result.json").read_text())
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    result["metrics"] = rows
    return result


def summarise(rows: list[dict], key: str, out: Path, columns: list[str]) -> list[dict]:
    """Per-run CSV and the mean +- std (sample std over the seeds) of every ``columns`` per ``key``."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "runs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = []
    for name in dict.fromkeys(r[key] for r in rows):
        group = [r for r in rows if r[key] == name]
        line: dict = {key: name, "seeds": len(group)}
        for col in columns:
            values = [float(r[col]) for r in group if r[col] not in ("", None) and r[col] == r[col]]
            line[f"{col}_mean"] = round(statistics.mean(values), 3) if values else float("nan")
            line[f"{col}_std"] = round(statistics.stdev(values), 3) if len(values) > 1 else float("nan")
        summary.append(line)
    with open(out / "summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    print(json.dumps(summary, indent=2))
    return summary


def two_teachers(work: Path, epochs: int, teacher_epochs: int, subset: int) -> None:
    a = teacher(work, "teacherA_resnet20", "resnet20", "cifar10", teacher_epochs, 0)
    b = teacher(
        work, "teacherB_resnet20_ls0.2", "resnet20", "cifar10", teacher_epochs, 1, "--label-smoothing", "0.2"
    )
    sets = {"A": [f"{a}"], "B": [f"{b}"], "A+B": [f"{a}:0.5", f"{b}:0.5"]}
    rows = []
    for seed in SEEDS:
        for name, specs in sets.items():
            args = [x for spec in specs for x in ("--teacher", spec)]
            args += [
                "--student",
                "resnet-depth:135",
                "--distiller",
                "kd",
                *recipe_args("cifar10", epochs, seed),
            ]
            args += ["--train-subset", str(subset)]
            r = student_run(work, work / "two_teachers" / f"{name}-seed{seed}", args)
            rows.append(
                {"teachers": name, "seed": seed, "test_accuracy": r["test_accuracy"], "wall_s": r["wall_s"]}
            )
    summarise(rows, "teachers", ROOT / "benchmarks/results/multi_teacher", ["test_accuracy", "wall_s"])


def transfer(work: Path, epochs: int, teacher_epochs: int) -> None:
    task = "cifar10:classes=0-4"
    t = teacher(work, "teacher5_resnet20", "resnet20", task, teacher_epochs, 0)
    common = ["--teacher", str(t), "--student", "resnet8", "--distiller", "kd", *recipe_args(task, epochs)]

    def pool(rule: str, keep: str) -> list[str]:
        return ["--transfer", "cifar10", "--transfer-only", "--select", rule, "--keep", keep]

    settings = {
        "labelled-5class": [],
        "pool-all": pool("all", "1"),
        "pool-kd3": pool("kd3", "0.5"),
        "pool-teacher_entropy": pool("teacher_entropy", "0.5"),
    }
    rows = []
    for seed in SEEDS:
        for name, extra in settings.items():
            r = student_run(
                work, work / "transfer" / f"{name}-seed{seed}", [*common, *extra, "--seed", str(seed)]
            )
            metrics = r["metrics"]
            kept = [float(m["kept_fraction"]) for m in metrics] if "kept_fraction" in metrics[0] else []
            in_task = [float(m["kept_in_task"]) for m in metrics] if "kept_in_task" in metrics[0] else []
            rows.append(
                {
                    "setting": name,
                    "seed": seed,
                    "test_accuracy": r["test_accuracy"],
                    "kept_fraction": round(statistics.mean(kept), 4) if kept else "",
                    "kept_in_task_first_epoch": round(in_task[0], 4) if in_task else "",
                    "kept_in_task_last_epoch": round(in_task[-1], 4) if in_task else "",
                    "wall_s": r["wall_s"],
                }
            )
    cols = ["test_accuracy", "kept_fraction", "kept_in_task_first_epoch", "kept_in_task_last_epoch", "wall_s"]
    summarise(rows, "setting", ROOT / "benchmarks/results/transfer_selection", cols)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["two-teachers", "transfer"])
    parser.add_argument("--epochs", type=int, default=3, help="student epochs")
    parser.add_argument("--teacher-epochs", type=int, default=6)
    parser.add_argument(
        "--train-subset", type=int, default=5000, help="two-teachers: student training images"
    )
    parser.add_argument("--work", type=Path, default=Path("/work/artifacts/issue27"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.part == "two-teachers":
        two_teachers(args.work, args.epochs, args.teacher_epochs, args.train_subset)
    else:
        transfer(args.work, args.epochs, args.teacher_epochs)


if __name__ == "__main__":
    main()
