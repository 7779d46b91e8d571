"""In-memory image datasets held as uint8 tensors, batched with tensor ops."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import torch

from diswot.data.batch import Batch, InputKind
from diswot.data.transforms import CIFAR10_MEAN, CIFAR10_STD, augment, normalize
from diswot.errors import DataError


def round_robin(labels: torch.Tensor, num_classes: int, count: int, generator: torch.Generator) -> list[int]:
    """Up to ``count`` indices taking one shuffled example of each class in turn: class-balanced
    draws for proxy batches, subsets and held-out splits (images and texts alike)."""
    counts = torch.bincount(labels, minlength=num_classes).tolist()
    pools = [
        (labels == c).nonzero().flatten()[torch.randperm(n, generator=generator)]
        for c, n in enumerate(counts)
    ]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < count and any(depth < len(p) for p in pools):
        chosen += [int(p[depth]) for p in pools if depth < len(p)][: count - len(chosen)]
        depth += 1
    return chosen


D = TypeVar("D", bound="BalancedDraws")


@runtime_checkable
class LabelledData(Protocol):
    """What the trainer, the proxies' setup and the readers need of a dataset, images or texts
    alike (:class:`ImageDataset`, :class:`~diswot.data.text.TextDataset`)."""

    name: str
    labels: torch.Tensor
    #: what its examples are: images or token ids (declared by the class, never guessed)
    input_kind: ClassVar[InputKind]

    @property
    def num_classes(self) -> int: ...

    @property
    def example_inputs(self) -> torch.Tensor: ...

    def __len__(self) -> int: ...

    def subset(self, indices: Sequence[int] | torch.Tensor) -> LabelledData: ...

    def balanced_indices(self, count: int, seed: int = 0) -> torch.Tensor: ...

    def split(self, held_out: float, seed: int = 0) -> tuple[LabelledData, LabelledData]: ...

    def scoring_batch(self, batch_size: int, seed: int = 0, device: torch.device | str = "cpu") -> Batch: ...

    def epoch(
        self, batch_size: int, *, seed: int = 0, augment: bool = False, shuffle: bool = True,
        drop_last: bool = False, device: torch.device | str = "cpu",
    ) -> Iterator[Batch]: ...  # fmt: skip


class BalancedDraws:
    """Class-balanced subsets and splits for any labelled dataset (images or texts).

    Needs ``labels``, ``num_classes``, ``subset(indices)`` and ``len()`` from the class it mixes into.
    """

    labels: torch.Tensor
    num_classes: int
    subset: Any

    def balanced_indices(self, count: int, seed: int = 0) -> torch.Tensor:
        """``count`` sorted indices taking (as far as possible) equally many examples of every class."""
        chosen = round_robin(self.labels, self.num_classes, count, torch.Generator().manual_seed(seed))
        return torch.tensor(sorted(chosen), dtype=torch.long)

    def split(self: D, held_out: float, seed: int = 0) -> tuple[D, D]:
        """A class-balanced ``(rest, held_out)`` split, e.g. a test set for data without one."""
        if not 0 < held_out < 1:
            raise DataError(f"the held-out fraction must be in (0, 1), got {held_out}")
        test = self.balanced_indices(max(self.num_classes, round(len(self) * held_out)), seed)
        mask = torch.ones(len(self), dtype=torch.bool)
        mask[test] = False
        return self.subset(mask.nonzero().flatten()), self.subset(test)


@dataclass
class ImageDataset(BalancedDraws):
    """Images ``(N, C, H, W)`` uint8 with int64 labels, class names and normalisation stats."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    name: str = "images"
    input_kind: ClassVar[InputKind] = "images"
    mean: tuple[float, ...] = CIFAR10_MEAN
    std: tuple[float, ...] = CIFAR10_STD
    source: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        where = f" ({self.source})" if self.source else ""
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise DataError(f"{self.name}{where}: images must be uint8 (N, C, H, W)")
        if len(self.images) == 0:
            raise DataError(f"{self.name}{where} holds no images")
        if self.labels.shape != (len(self.images),):
            raise DataError(f"{self.name}{where}: {len(self.images)} images but {self.labels.numel()} labels")
        self.labels = self.labels.long()
        if int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.classes):
            raise DataError(
                f"{self.name}{where}: labels must lie in 0..{len(self.classes) - 1}, "
                f"found {int(self.labels.min())}..{int(self.labels.max())}"
            )

    def __repr__(self) -> str:
        shape = "x".join(str(d) for d in self.images.shape[1:])
        return f"ImageDataset({self.name!r}, {len(self)} images of {shape}, {self.num_classes} classes)"

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def __len__(self) -> int:
        return len(self.images)

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=self.num_classes).tolist()

    def subset(self, indices: Sequence[int] | torch.Tensor) -> ImageDataset:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return ImageDataset(
            self.images[idx],
            self.labels[idx],
            self.classes,
            self.name,
            self.mean,
            self.std,
            self.source,
        )

    def with_classes(self, keep: Sequence[int]) -> ImageDataset:
        """Only the images of classes ``keep`` (relabelled 0..k-1 in that order, names kept)."""
        bad = [c for c in keep if not 0 <= c < self.num_classes]
        if bad:
            raise DataError(f"{self.name} has classes 0..{self.num_classes - 1}; no class {bad[0]}")
        mapping = torch.full((self.num_classes,), -1, dtype=torch.long)
        mapping[torch.as_tensor(list(keep), dtype=torch.long)] = torch.arange(len(keep))
        new_labels = mapping[self.labels]
        idx = (new_labels >= 0).nonzero().flatten()
        if len(idx) == 0:
            raise DataError(f"{self.name} holds no image of classes {list(keep)}")
        return ImageDataset(
            self.images[idx], new_labels[idx], [self.classes[c] for c in keep], self.name, self.mean,
            self.std, self.source,
        )  # fmt: skip

    # the interface the proxies and the trainer use, shared with TextDataset --------------------
    def scoring_batch(self, batch_size: int, seed: int = 0, device: torch.device | str = "cpu") -> Batch:
        """The reproducible class-balanced batch proxies score on."""
        return Batch(*self.balanced_batch(batch_size, seed=seed, device=device))

    def epoch(
        self, batch_size: int, *, seed: int = 0, augment: bool = False, shuffle: bool = True,
        drop_last: bool = False, device: torch.device | str = "cpu",
    ) -> Iterator[Batch]:  # fmt: skip
        """One epoch of :class:`Batch` es (pad-crop-flip when ``augment``)."""
        for images, labels in self.batches(
            batch_size, shuffle=shuffle, train_augment=augment, seed=seed, drop_last=drop_last, device=device
        ):
            yield Batch(images, labels)

    @property
    def example_inputs(self) -> torch.Tensor:
        """One input as the models take it (for counting FLOPs)."""
        return self.images[:1].float()

    def prepare(
        self,
        images: torch.Tensor,
        *,
        train_augment: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> torch.Tensor:
        """uint8 images -> normalised float on ``device`` (optionally augmented first)."""
        images = images.to(device, non_blocking=True)
        if train_augment:
            images = augment(images, padding=4, generator=generator)
        return normalize(images, self.mean, self.std)

    def balanced_batch(
        self, batch_size: int, seed: int = 0, device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A reproducible batch with (as far as possible) equally many images of every class.

        Proxies score on one batch; drawing it class-balanced keeps class-by-class statistics
        defined for every class.
        """
        if batch_size < 1:
            raise DataError(f"batch size must be positive, got {batch_size}")
        generator = torch.Generator().manual_seed(seed)
        chosen = round_robin(self.labels, self.num_classes, batch_size, generator)
        if len(chosen) < batch_size:
            raise DataError(f"{self.name} has {len(self)} images, fewer than the batch size {batch_size}")
        order = torch.tensor(chosen)[torch.randperm(len(chosen), generator=generator)]
        return self.prepare(self.images[order], device=device), self.labels[order].to(device)

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = True,
        train_augment: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        device: torch.device | str = "cpu",
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of ``(images, labels)`` batches, normalised on ``device``."""
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        stop = len(self) - (len(self) % batch_size if drop_last else 0)
        for start in range(0, stop, batch_size):
            idx = order[start : start + batch_size]
            x = self.prepare(
                self.images[idx], train_augment=train_augment, generator=generator, device=device
            )
            yield x, self.labels[idx].to(device)
