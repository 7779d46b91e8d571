"""Record the issue-6 comparison on SST-2: the searched Transformer student vs a hand-picked one.

1. A ``bert-mini`` teacher trained on this CPU (``benchmarks/results/teacher/bert_mini_sst2.pt``,
   made by ``diswot train-teacher --model bert-mini --dataset sst2 ...``).
2. ``diswot.run_search`` over ``autodistil-tiny`` with the ``minilm`` proxy against it, under the
   multiply-adds of the hand-picked student (``bert-mini``'s shape: 4 layers, hidden 256), for
   128-token inputs.
3. Both students distilled together (one teacher pass per batch) with ``kd:0.5,minilm:0.5`` and
   the same AdamW recipe (3 epochs on 4,000 phrases by default, the kd-ground-truth schedule);
   accuracy on the full SST-2 dev set.

Writes ``benchmarks/results/distill_sst2/summary.json`` and a run folder per search and student;
``python benchmarks/regenerate_attic.py --merge --prune`` then folds those into the committed
``distill_sst2/<folder>.csv`` and ``runs.json``. Usage:
python benchmarks/distill_sst2.py [--epochs 3] [--train-subset 4000] [--evaluations 60] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import diswot
from diswot.distill import Recipe, distill
from diswot.models import profile

HERE = Path(__file__).resolve().parent
TEACHER = HERE / "results" / "teacher" / "bert_mini_sst2.pt"
OUT = HERE / "results" / "distill_sst2"
HAND_PICKED = "bert-mini"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-subset", type=int, default=4000)
    parser.add_argument("--evaluations", type=int, default=60)
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    args = parser.parse_args()
    data = diswot.load_dataset("sst2", args.data)
    reference = profile(diswot.build_model(HAND_PICKED, num_classes=2), torch.zeros(1, 128, dtype=torch.long))
    search_dir = OUT / "search"
    found = diswot.run_search(
        "autodistil-tiny", teacher=str(TEACHER), data=data, proxy="minilm", record=["diswot_relational"],
        budget=diswot.Budget(max_flops=float(reference.flops)), evaluations=args.evaluations, batch_size=32,
        seed=0, out=search_dir, resume=(search_dir / "run.json").exists(),
    )  # fmt: skip
    students = [f"autodistil-tiny:{found.arch}", HAND_PICKED]
    recipe = Recipe(epochs=args.epochs, batch_size=64, lr=1e-3, optimizer="adamw", weight_decay=0.01, seed=0)
    results = distill(str(TEACHER), students, "kd:0.5,minilm:0.5", dataset="sst2", data_root=args.data,
                      recipe=recipe, train_subset=args.train_subset, out=OUT / "kd", resume=True)  # fmt: skip
    teacher_accuracy = diswot.load_teacher(TEACHER).meta.get("test_accuracy")
    rows = {
        r["model"]: {"params": r["params"], "flops_64_tokens": r["flops"], "dev_accuracy": r["test_accuracy"]}
        for r in results
    }
    summary = {
        "teacher": {"model": "bert-mini", "dev_accuracy": teacher_accuracy},
        "search": {"arch": found.arch, "score": found.score, "flops_128_tokens": found.flops,
                   "budget_flops_128_tokens": reference.flops, "evaluations": found.evaluations},
        "recipe": {"epochs": args.epochs, "train_phrases": args.train_subset, "dev_sentences": 872},
        "students": rows,
    }  # fmt: skip
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
