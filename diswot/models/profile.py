"""Parameter and multiply-add counting with torch's FLOP counter.

:class:`torch.utils.flop_counter.FlopCounterMode` counts every matrix product and convolution
of a forward pass at the operator level (so the attention products ``QK^T`` and ``probs @ V``
are counted like any ``Linear``), and reports a multiply-add as two FLOPs. Multiply-adds are
its total halved: the convention of NAS-Bench-201's "FLOPs" column, where normalisation,
activations, pooling, biases and element-wise sums are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class Cost:
    """Size and compute of one network for one input (batch size 1)."""

    params: int
    flops: int  # multiply-adds

    def to_dict(self) -> dict[str, int]:
        return {"params": self.params, "flops": self.flops}


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, example_input: torch.Tensor) -> int:
    """Multiply-adds of one eval-mode forward pass on ``example_input`` (its first dim must be 1)."""
    if example_input.shape[0] != 1:
        raise ValueError("count_macs expects a batch of one example")
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(example_input)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def profile(model: nn.Module, example_input: torch.Tensor) -> Cost:
    """Parameters and multiply-adds of ``model`` for one example."""
    return Cost(params=count_params(model), flops=count_macs(model, example_input))
