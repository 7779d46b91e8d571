"""Images per second of one KD training step: diswot's pipeline vs a plain per-image pipeline.

Both run the same step (ResNet-56 teacher forward without gradients, ResNet-20 student forward
+ backward + SGD, cross-entropy + Hinton KD) on the shared CIFAR-10 training batch with
pad-crop-flip augmentation. What differs is the data path and memory layout:

* diswot: uint8 tensors, augmentation and normalisation as batched tensor ops
  (``ImageDataset.batches``), channels-last models and inputs;
* reference: a ``torch.utils.data.Dataset`` that augments and normalises one image at a time,
  batched by a ``DataLoader`` (``num_workers=0``), contiguous (NCHW) models.

The two alternate block by block in one process, so background load affects both alike; the
ratio is what to read. Usage: python benchmarks/kd_step_speed.py [--steps 10] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from diswot import build_model, load_dataset
from diswot.data.transforms import CIFAR10_MEAN, CIFAR10_STD
from diswot.similarity import kd_divergence

HERE = Path(__file__).resolve().parent


class PerImageCifar(Dataset):
    """The common reference: numpy HWC images, augmented and normalised one at a time."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, seed: int = 0) -> None:
        self.images, self.labels = images, labels
        self.rng = np.random.default_rng(seed)
        self.mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
        self.std = torch.tensor(CIFAR10_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = torch.from_numpy(self.images[i]).permute(2, 0, 1).float().div(255)
        padded = F.pad(image, (4, 4, 4, 4))
        top, left = self.rng.integers(0, 9, size=2)
        image = padded[:, top : top + 32, left : left + 32]
        if self.rng.random() < 0.5:
            image = image.flip(2)
        return (image - self.mean) / self.std, int(self.labels[i])


def kd_step(teacher, student, optimizer, images, labels) -> None:
    with torch.no_grad():
        teacher_logits = teacher(images)
    logits = student(images)
    loss = F.cross_entropy(logits, labels) + kd_divergence(logits, teacher_logits)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10, help="measured steps per pipeline per block")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    args = parser.parse_args()
    data = load_dataset("cifar10", args.data)

    def models(channels_last: bool):
        torch.manual_seed(0)
        teacher, student = build_model("resnet56").eval(), build_model("resnet20").train()
        if channels_last:
            teacher = teacher.to(memory_format=torch.channels_last)
            student = student.to(memory_format=torch.channels_last)
        return teacher, student, torch.optim.SGD(student.parameters(), lr=0.05, momentum=0.9)

    ours = models(channels_last=True)
    reference = models(channels_last=False)
    loader = DataLoader(
        PerImageCifar(data.images.permute(0, 2, 3, 1).numpy(), data.labels.numpy()),
        batch_size=args.batch_size, shuffle=True, num_workers=0, drop_last=True,
    )  # fmt: skip

    def run_ours(steps: int, epoch: int) -> float:
        batches = data.batches(args.batch_size, train_augment=True, seed=epoch, drop_last=True)
        started = time.perf_counter()
        for _, (images, labels) in zip(range(steps), batches, strict=False):
            kd_step(*ours, images.contiguous(memory_format=torch.channels_last), labels)
        return time.perf_counter() - started

    def run_reference(steps: int) -> float:
        started = time.perf_counter()
        for _, (images, labels) in zip(range(steps), loader, strict=False):
            kd_step(*reference, images, labels)
        return time.perf_counter() - started

    run_ours(2, 0)  # warm-up: allocator and kernel selection
    run_reference(2)
    ours_s, reference_s = 0.0, 0.0
    for block in range(args.blocks):
        ours_s += run_ours(args.steps, block + 1)
        reference_s += run_reference(args.steps)
    images = args.blocks * args.steps * args.batch_size
    result = {
        "teacher": "resnet56", "student": "resnet20", "batch_size": args.batch_size,
        "images_per_pipeline": images, "torch_threads": torch.get_num_threads(),
        "diswot_images_per_s": images / ours_s, "reference_images_per_s": images / reference_s,
        "speedup": reference_s / ours_s,
    }  # fmt: skip
    out = HERE / "results" / "kd_step_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
