"""Single-teacher distillation speed of a source tree, for a before/after comparison of issue 27.

Times ``Trainer.fit`` (ResNet-8 student, random ResNet-20 teacher, ``kd``, the embedded sample,
batch 40, 3 epochs, no figures) ``--repeats`` times and prints the median seconds as JSON. Run it
with PYTHONPATH pointing at each tree in turn (interleaved, same machine, same load):

    for i in 1 2 3; do for t in /tmp/old /work/wt/issue27; do OMP_NUM_THREADS=1 PYTHONPATH=$t \\
        python benchmarks/teacher_set_speed.py; done; done
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

import diswot
from diswot import build_model
from diswot.data import load_sample
from diswot.distill import Recipe, StudentRun, Trainer
from diswot.distill import trainer as trainer_module


def once() -> float:
    train, test = load_sample().split(0.2)
    torch.manual_seed(0)
    student, teacher = build_model("resnet8"), build_model("resnet20")
    with tempfile.TemporaryDirectory() as tmp:
        run = StudentRun("s", "resnet8", student, Path(tmp), distillers="kd")
        trainer = Trainer(
            [run], train, test, Recipe(epochs=3, batch_size=40), teacher=teacher, progress=False
        )
        started = time.perf_counter()
        trainer.fit()
        return time.perf_counter() - started


def main() -> None:
    trainer_module.write_metrics = lambda run, plot=True: None  # figures are not what is measured
    once()  # warm-up: first-call imports and allocations
    times = [once() for _ in range(3)]
    print(json.dumps({"tree": str(Path(diswot.__file__).parents[1]), "median_s": statistics.median(times),
                      "times_s": [round(t, 3) for t in times]}))  # fmt: skip


if __name__ == "__main__":
    main()
