"""One labelled batch, for images and for tokens alike, and the tokenizer interface text data uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import torch

#: what a network reads: images (float tensors) or tokens (integer ids with a padding mask)
InputKind = Literal["images", "tokens"]


@dataclass
class Batch:
    """One labelled batch; ``attention_mask`` only for token inputs."""

    inputs: torch.Tensor
    labels: torch.Tensor
    attention_mask: torch.Tensor | None = None
    kind: InputKind = "images"

    def __post_init__(self) -> None:
        # the kind is declared by whoever makes the batch; a contradiction is a bug, not a guess
        if self.kind not in ("images", "tokens"):
            raise ValueError(f"a batch's kind is 'images' or 'tokens', not {self.kind!r}")
        if (self.kind == "tokens") == self.inputs.is_floating_point():
            raise ValueError(f"a batch of {self.kind} with {self.inputs.dtype} inputs")

    def model_args(self) -> tuple[torch.Tensor, ...]:
        return (self.inputs,) if self.attention_mask is None else (self.inputs, self.attention_mask)

    def to(self, device: torch.device | str) -> Batch:
        mask = None if self.attention_mask is None else self.attention_mask.to(device)
        return Batch(self.inputs.to(device), self.labels.to(device), mask, self.kind)

    @property
    def num_classes_seen(self) -> int:
        return int(self.labels.max()) + 1


class Tokenizer(Protocol):
    """Turns texts into ``(input_ids, attention_mask)`` of length ``max_len``."""

    vocab_size: int

    def encode(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]: ...
