"""Parameter and multiply-add counting with forward hooks.

Counts multiply-accumulate operations (MACs) of convolutions and linear layers, the convention
of NAS-Bench-201's "FLOPs" column (normalisation, activations and pooling are not counted).
Modules whose cost is not a Conv/Linear (e.g. the matrix products inside self-attention)
report their own count by defining ``extra_macs(inputs, output) -> int``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class CountsOwnMacs(Protocol):
    """A module doing multiply-adds that no Conv/Linear child accounts for."""

    def extra_macs(self, inputs: tuple[Any, ...], output: Any) -> int: ...


@dataclass(frozen=True)
class Cost:
    """Size and compute of one network for one input (batch size 1)."""

    params: int
    flops: int  # multiply-adds

    def to_dict(self) -> dict[str, int]:
        return {"params": self.params, "flops": self.flops}


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _conv_macs(module: nn.Module, output: torch.Tensor) -> int:
    assert isinstance(module, nn.modules.conv._ConvNd)
    per_output = (module.in_channels // module.groups) * int(torch.tensor(module.kernel_size).prod())
    return int(output[0].numel()) * per_output


def _linear_macs(module: nn.Module, output: torch.Tensor) -> int:
    assert isinstance(module, nn.Linear)
    return int(output[0].numel()) * module.in_features


def count_macs(model: nn.Module, example_input: torch.Tensor) -> int:
    """Multiply-adds of one forward pass on ``example_input`` (its first dim must be 1)."""
    if example_input.shape[0] != 1:
        raise ValueError("count_macs expects a batch of one example")
    total = 0

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        nonlocal total
        if isinstance(module, nn.modules.conv._ConvNd):
            total += _conv_macs(module, output)
        elif isinstance(module, nn.Linear):
            total += _linear_macs(module, output)
        if isinstance(module, CountsOwnMacs):
            total += int(module.extra_macs(inputs, output))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example_input)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total


def profile(model: nn.Module, example_input: torch.Tensor) -> Cost:
    """Parameters and multiply-adds of ``model`` for one example."""
    return Cost(params=count_params(model), flops=count_macs(model, example_input))
