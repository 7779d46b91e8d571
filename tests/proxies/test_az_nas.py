"""AZ-NAS's block-wise proxies: what each formula gives on networks whose answer is known."""

import math

import pytest
import torch
from torch import nn

from diswot.errors import DiswotError
from diswot.models import build_model
from diswot.models.blocks import find_blocks
from diswot.models.nb201 import Cell, ReductionBlock
from diswot.proxies import Batch, ProxyScorer
from diswot.proxies.az_nas import IDENTITY_BLOCK_TRAINABILITY, block_trainability, spectral_entropy
from diswot.search_spaces import get_space

AZ = ["az_expressivity", "az_progressivity", "az_trainability"]
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def batch(cifar10_train):
    x, y = cifar10_train.balanced_batch(20, seed=0)
    return Batch(x, y)


class Scale(nn.Module):
    """A block that multiplies its input by ``k``: its channel Jacobian is ``k`` times the identity."""

    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.k * x


class Chain(nn.Module):
    """A 1x1 convolution, then ``blocks``, then pooling and a classifier."""

    def __init__(self, *blocks: nn.Module) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 1)
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))


def test_blocks_are_the_outermost_modules_in_containers():
    nb201 = get_space("nb201", cells=2).build(get_space("nb201").decode(BEST))
    assert [type(b) for b in find_blocks(nb201)] == [
        Cell,
        Cell,
        ReductionBlock,
        Cell,
        Cell,
        ReductionBlock,
        Cell,
        Cell,
    ]
    resnet = build_model("resnet20")
    assert len(find_blocks(resnet)) == 9  # three stages of three residual blocks; no conv or BN


def test_a_network_without_blocks_is_refused_with_the_fix():
    with pytest.raises(DiswotError, match="block_modules"):
        find_blocks(build_model("vgg8"))  # convolutions and norms only: no block to compare


def test_a_model_can_name_its_blocks():
    model = Chain(Scale(1.0), Scale(2.0))
    model.block_modules = ("stem", "blocks.1")
    assert find_blocks(model) == [model.stem, model.blocks[1]]
    model.block_modules = ("stem", "blocks.7")
    with pytest.raises(DiswotError, match=r"blocks\.7"):
        find_blocks(model)


def test_spectral_entropy_is_log_channels_for_isotropic_features_and_zero_without_spread():
    torch.manual_seed(0)
    assert spectral_entropy(torch.randn(64, 8, 16, 16)) == pytest.approx(math.log(8), abs=1e-3)
    rank_one = torch.randn(64, 1, 16, 16) * torch.ones(1, 8, 1, 1)
    assert spectral_entropy(rank_one) == pytest.approx(0.0, abs=1e-6)
    assert spectral_entropy(torch.zeros(4, 8, 4, 4)) == 0.0


def test_trainability_is_two_minus_s_minus_one_over_s():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 8, 16, 16, requires_grad=True)
    # s = 2: 2 - 2 - 1/2, up to the estimate's noise: the off-diagonal sign products of 8,192
    # positions (about 0.02 each) raise the 8 x 8 matrix's norm by a few percent
    assert block_trainability(x, 2.0 * x, generator) == pytest.approx(-0.5, abs=0.1)
    assert block_trainability(x, x * 1.0, generator) == IDENTITY_BLOCK_TRAINABILITY
    assert block_trainability(x, x * 0.0, generator) == pytest.approx(2 - 1 / 1e-6)
    # a strided block: each output position reads a 2 x 2 patch of the input
    assert block_trainability(x, nn.functional.avg_pool2d(x, 2), generator) < 0


def test_the_three_proxies_share_one_forward_pass(batch):
    model = get_space("nb201", cells=1).build(get_space("nb201").decode(BEST))
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1))
    scores = ProxyScorer(AZ, batch).score_model(model)
    assert len(calls) == 1
    assert all(math.isfinite(r.value) for r in scores.values())
    # each is charged the pass it read, as if scored alone, not only the first to ask
    times = [r.ms for r in scores.values()]
    assert min(times) >= 0.9 * max(times)


def test_scores_are_reproducible_and_leave_the_model_unchanged(batch):
    space = get_space("nb201", cells=1)
    scorer = ProxyScorer(AZ, batch, seed=3)
    first = {k: r.value for k, r in scorer.score_arch(space, space.decode(BEST), 10).items()}
    model = space.build(space.decode(BEST))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    scorer.score_model(model)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert {k: r.value for k, r in scorer.score_arch(space, space.decode(BEST), 10).items()} == first


def test_identity_and_dead_cells_rank_last_on_trainability(batch):
    space = get_space("nb201", cells=1)
    scorer = ProxyScorer(["az_trainability"], batch)
    identity = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"  # the cell returns its input
    dead = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"  # node 3 is always zero
    scores = {
        a: scorer.score_arch(space, space.decode(a), 10)["az_trainability"].value
        for a in (BEST, identity, dead)
    }
    assert scores[identity] < -1e5 and scores[dead] < -1e5 < scores[BEST]
