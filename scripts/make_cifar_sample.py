"""Regenerate the embedded CIFAR-10 sample (``diswot/data/assets/cifar10_sample.npz``).

Takes the first 30 images of each class from a CIFAR-10 training batch.
Usage: ``python scripts/make_cifar_sample.py ../shared/data``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from diswot.data.readers import load_cifar10

PER_CLASS = 30


def main(root: str) -> None:
    data = load_cifar10(root)
    labels = data.labels.numpy()
    chosen = np.concatenate([np.flatnonzero(labels == c)[:PER_CLASS] for c in range(10)])
    out = Path(__file__).resolve().parents[1] / "diswot/data/assets/cifar10_sample.npz"
    np.savez_compressed(
        out,
        images=data.images[chosen].numpy(),
        labels=labels[chosen].astype(np.uint8),
        classes=np.array(data.classes),
    )
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(chosen)} images)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
