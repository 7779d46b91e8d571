"""One labelled batch, for images and for tokens alike."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Batch:
    """One labelled batch; ``attention_mask`` only for token inputs."""

    inputs: torch.Tensor
    labels: torch.Tensor
    attention_mask: torch.Tensor | None = None

    def model_args(self) -> tuple[torch.Tensor, ...]:
        return (self.inputs,) if self.attention_mask is None else (self.inputs, self.attention_mask)

    def to(self, device: torch.device | str) -> Batch:
        mask = None if self.attention_mask is None else self.attention_mask.to(device)
        return Batch(self.inputs.to(device), self.labels.to(device), mask)

    @property
    def num_classes_seen(self) -> int:
        return int(self.labels.max()) + 1
