"""The NAS-Bench-201 network: one cell (6 edges, 5 operations) repeated on the benchmark's macro
skeleton (C=16, N=5): a 3x3 stem, three stages of N cells joined by residual reduction blocks,
BN-ReLU, global pooling and a linear classifier, so parameter counts equal the benchmark's.
``diswot.search_spaces.nb201`` encodes, samples and builds these cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from diswot.errors import InvalidArchError

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: the cell's edges as (to, from) node pairs, in the order of the arch string
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


class ReLUConvBN(nn.Sequential):
    """ReLU, convolution (``kernel // 2`` padding, no bias), BatchNorm: the benchmark's conv op."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The ``none`` operation: zeros shaped like the input (keeps the graph for gradients)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int) -> nn.Module:
    """The module of operation ``name`` (one of :data:`OPS`) on ``channels`` channels."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    raise InvalidArchError(f"unknown NB201 operation {name!r}; valid: {', '.join(OPS)}")


class Cell(nn.Module):
    """Node i sums its incoming edges from every earlier node; the cell returns node 3.

    ``ops`` lists the 6 edges in the benchmark string's order: node 1 from 0, node 2 from 0 and 1,
    node 3 from 0, 1 and 2.
    """

    def __init__(self, ops: Sequence[str], channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(make_op(op, channels) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        edge = 0
        for to_node in range(1, 4):
            total = 0
            for from_node in range(to_node):
                total = total + self.edges[edge](nodes[from_node])
                edge += 1
            nodes.append(total)  # type: ignore[arg-type]
        return nodes[3]


class ReductionBlock(nn.Module):
    """The benchmark's residual block between stages (stride 2, doubles the channels)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2, 0), nn.Conv2d(c_in, c_out, 1, 1, 0, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The cell ``ops`` on the benchmark's skeleton: ``cells`` cells per stage, ``channels`` wide
    at the first stage."""

    # where FeatureExtractor reads the last feature map and the classifier (no discovery pass)
    feature_map_module, classifier_module = "lastact", "classifier"

    def __init__(self, ops: Sequence[str], channels: int = 16, cells: int = 5, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))
        layers: list[nn.Module] = []
        c = channels
        for stage in range(3):
            if stage:
                layers.append(ReductionBlock(c, c * 2))
                c *= 2
            layers += [Cell(ops, c) for _ in range(cells)]
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.pool(x), 1))
