"""Multiply-adds from torch's FlopCounterMode: the recorded NB201 values, attention, the convention."""

import csv
import itertools
from pathlib import Path

import pytest
import torch
from torch import nn

from diswot import get_space
from diswot.models import TransformerClassifier, count_macs, profile

RECORDED = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "nb201_space" / "scores.csv"


def test_nb201_reference_cells_keep_their_recorded_values():
    # the smallest and the largest cell of the benchmark (7.78M and 220.11M in the NB201 paper)
    space = get_space("nb201")
    smallest = space.decode("|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|")
    assert space.cost(smallest).to_dict() == {"params": 73306, "flops": 7783040}
    assert space.cost(("nor_conv_3x3",) * 6).to_dict() == {"params": 1531546, "flops": 220119680}


def test_nb201_counts_equal_the_recorded_whole_space_table():
    # results/nb201_space/scores.csv: the flops column written by the earlier forward-hook counter
    space = get_space("nb201")
    with open(RECORDED, newline="") as f:
        rows = list(itertools.islice(csv.DictReader(f), 0, 5342, 300))
    assert len(rows) == 18
    for row in rows:
        assert space.cost(space.decode(row["arch"])).flops == int(float(row["flops"])), row["arch"]


def test_attention_products_are_counted_without_a_protocol():
    tokens, hidden, heads, head_dim, ffn = 16, 32, 3, 8, 48
    model = TransformerClassifier(vocab_size=50, hidden=hidden, layers=2, heads=heads, ffn=ffn,
                                  num_classes=2, max_len=tokens, head_dim=head_dim)  # fmt: skip
    inner = heads * head_dim
    per_layer = tokens * (3 * hidden * inner + inner * hidden + 2 * hidden * ffn)  # the Linears
    per_layer += 2 * tokens * tokens * inner  # QK^T and probs @ V
    head = hidden * hidden + hidden * 2  # pooler and classifier on the first token
    assert count_macs(model, torch.zeros(1, tokens, dtype=torch.long)) == 2 * per_layer + head


def test_functional_products_count_and_pooling_does_not():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(4, 6))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            pooled = nn.functional.avg_pool2d(x, 2).flatten(1)  # 1x6: not counted (NB201 convention)
            return torch.relu(pooled @ self.weight.T) + 1  # 6x4 multiply-adds

    model = Functional().train()
    assert profile(model, torch.ones(1, 6, 2, 2)).to_dict() == {"params": 24, "flops": 24}
    assert model.training  # counted in eval mode, left as found


def test_count_macs_wants_one_example():
    with pytest.raises(ValueError, match="batch of one"):
        count_macs(nn.Linear(2, 2), torch.zeros(2, 2))
