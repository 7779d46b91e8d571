"""Cost of padding on SST-2: batches trimmed to their longest text vs padded to ``max_len``.

Text is padded once to ``max_len`` (64) in the data layer; ``TextDataset.rows`` then cuts the
padding columns no row of a batch uses. Models are mask-aware, so the logits are the same (the
script checks it); only the time differs. Measured on the shared SST-2 data, alternating
trimmed and padded blocks in one process so background load hits both alike:

* a KD training step (bert-mini teacher forward without gradients; an AutoDistil-tiny student
  forward + backward + AdamW) on the training phrases;
* evaluation of the student on the full dev set, also shortest text first (what an unshuffled
  ``TextDataset.epoch`` does, so ``evaluate`` gets it).

Usage: python benchmarks/text_batch_speed.py [--steps 8] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from diswot import build_model, load_dataset
from diswot.similarity import kd_divergence

HERE = Path(__file__).resolve().parent


def kd_step(teacher, student, optimizer, ids, mask, labels) -> None:
    with torch.no_grad():
        teacher_logits = teacher(ids, mask)
    logits = student(ids, mask)
    loss = torch.nn.functional.cross_entropy(logits, labels) + kd_divergence(logits, teacher_logits, 4.0)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def timed_training(data, teacher, student, optimizer, steps: int, trim: bool, seed: int) -> float:
    batches = data.batches(64, seed=seed, drop_last=True, trim_padding=trim)
    start = time.perf_counter()
    for _, (ids, mask, labels) in zip(range(steps), batches, strict=False):
        kd_step(teacher, student, optimizer, ids, mask, labels)
    return time.perf_counter() - start


@torch.no_grad()
def timed_evaluation(data, student, trim: bool, by_length: bool) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    batches = data.batches(128, shuffle=False, trim_padding=trim, by_length=by_length)
    logits = torch.cat([student(ids, mask) for ids, mask, _ in batches])
    took = time.perf_counter() - start
    if by_length:  # back to the data's order, to compare
        logits = logits[torch.argsort(torch.argsort(data.attention_mask.sum(1), stable=True))]
    return took, logits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8, help="training steps per block")
    parser.add_argument("--blocks", type=int, default=3, help="alternating blocks of each kind")
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--out", default=str(HERE / "results" / "text_batch_speed.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    train = load_dataset("sst2", args.data)
    dev = load_dataset("sst2", args.data, train=False)
    teacher = build_model("bert-mini").eval()
    student = build_model("autodistil-tiny:L5-H192-A8-R3.0")
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-3)
    seconds: dict[str, float] = {"train_trimmed": 0.0, "train_padded": 0.0}
    timed_training(train, teacher, student, optimizer, 2, True, seed=99)  # warm-up
    for block in range(args.blocks):
        for trim in (True, False):
            key = "trimmed" if trim else "padded"
            took = timed_training(train, teacher, student, optimizer, args.steps, trim, block)
            seconds[f"train_{key}"] += took
    student.eval()
    outputs = {}
    variants = {"padded": (False, False), "trimmed": (True, False), "sorted": (True, True)}
    for _ in range(args.blocks):
        for key, (trim, by_length) in variants.items():
            took, outputs[key] = timed_evaluation(dev, student, trim, by_length)
            seconds[f"eval_{key}"] = seconds.get(f"eval_{key}", 0.0) + took
    mean_length = float(train.attention_mask.sum(1).float().mean())
    report = {
        "max_len": train.max_len,
        "mean_train_tokens": round(mean_length, 1),
        "train_steps_per_kind": args.steps * args.blocks,
        "train_speedup": round(seconds["train_padded"] / seconds["train_trimmed"], 2),
        "eval_speedup": round(seconds["eval_padded"] / seconds["eval_trimmed"], 2),
        "eval_speedup_shortest_first": round(seconds["eval_padded"] / seconds["eval_sorted"], 2),
        "max_abs_logit_difference": max(
            float((outputs[k] - outputs["padded"]).abs().max()) for k in ("trimmed", "sorted")
        ),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "torch_threads": torch.get_num_threads(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
