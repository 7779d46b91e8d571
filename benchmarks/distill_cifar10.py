"""Record the issue-5 distillation results on the shared CIFAR-10 batch.

1. The teacher, trained on this CPU beforehand (checkpoints are not committed; about 37 min)::

       diswot train-teacher --model resnet56 --dataset cifar10 --data-root ../shared/data \
           --epochs 8 --out benchmarks/results/teacher/resnet56_cifar10.pt

2. ``diswot.run_search`` over DisWOT's ``resnet-depth`` space with the ``diswot`` proxy against that
   teacher, under ResNet-20's FLOPs (40.8 M multiply-adds).
3. The found student and ResNet-20 (``resnet-depth:333``), distilled together with KD (one teacher
   pass per batch) and trained without a teacher, all with the same short recipe.

Writes ``benchmarks/results/distill_cifar10/summary.json`` and a run folder per search and student;
``python benchmarks/regenerate_attic.py --merge --prune`` then folds those into the committed
``distill_cifar10/<folder>.csv`` and ``runs.json``. Usage:
python benchmarks/distill_cifar10.py [--epochs 3] [--train-subset 5000] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import diswot
from diswot.distill import Recipe, distill

HERE = Path(__file__).resolve().parent
TEACHER = HERE / "results" / "teacher" / "resnet56_cifar10.pt"
OUT = HERE / "results" / "distill_cifar10"
RESNET20 = "resnet-depth:333"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-subset", type=int, default=5000)
    parser.add_argument("--evaluations", type=int, default=40)
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    args = parser.parse_args()
    if not TEACHER.is_file():
        raise SystemExit(
            f"{TEACHER} is missing; train it first: diswot train-teacher --model resnet56 --dataset cifar10 "
            f"--data-root {args.data} --epochs 8 --out {TEACHER}"
        )
    data = diswot.load_dataset("cifar10", args.data)
    budget = diswot.Budget(max_flops=float(diswot.get_space("resnet-depth").cost((3, 3, 3)).flops))
    search_dir = OUT / "search"
    found = diswot.run_search(
        "resnet-depth", teacher=str(TEACHER), data=data, proxy="diswot", budget=budget,
        evaluations=args.evaluations, seed=0, out=search_dir, resume=(search_dir / "run.json").exists(),
        record=["diswot_semantic", "diswot_relational"],
    )  # fmt: skip
    student = f"resnet-depth:{found.arch}"
    students = [student] if found.arch == "333" else [student, RESNET20]
    recipe = Recipe(epochs=args.epochs, seed=0)
    common = {
        "dataset": "cifar10",
        "data_root": args.data,
        "recipe": recipe,
        "train_subset": args.train_subset,
    }
    kd = distill(str(TEACHER), students, "kd", out=OUT / "kd", resume=True, **common)
    vanilla = distill(str(TEACHER), students, "none", out=OUT / "vanilla", resume=True, **common)
    rows = {}
    for spec, with_kd, without in zip(students, kd, vanilla, strict=True):
        rows[spec] = {
            "params": with_kd["params"], "flops": with_kd["flops"], "kd_accuracy": with_kd["test_accuracy"],
            "vanilla_accuracy": without["test_accuracy"],
            "kd_gain": with_kd["test_accuracy"] - without["test_accuracy"],
        }  # fmt: skip
    teacher_meta = diswot.load_teacher(TEACHER).meta
    teacher = {"model": "resnet56", "test_accuracy": teacher_meta.get("test_accuracy"), "file": TEACHER.name}
    summary = {
        "teacher": teacher,
        "search": {"arch": found.arch, "score": found.score, "flops": found.flops,
                   "budget_flops": budget.max_flops, "evaluations": found.evaluations},
        "recipe": {"epochs": args.epochs, "train_images": args.train_subset, "test_images": 10000},
        "students": rows,
    }  # fmt: skip
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
