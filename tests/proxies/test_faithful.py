"""The classic proxies follow their reference implementations' conventions."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from diswot.proxies import PROXIES, Batch, ProxyScorer


def _tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1, groups=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 5),
    )


@pytest.fixture(scope="module")
def tiny_batch() -> Batch:
    generator = torch.Generator().manual_seed(1)
    return Batch(torch.randn(8, 3, 6, 6, generator=generator), torch.arange(8) % 5)


def test_fisher_weights_each_channel_by_its_fan_in(tiny_batch):
    # Independent computation: per-channel fisher, broadcast onto every weight of the channel
    # (the zero-cost-nas convention), then summed.
    model = _tiny_net()
    outputs: list[torch.Tensor] = []
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    handles = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for m in layers]
    model.train()
    logits = model(tiny_batch.inputs)
    for h in handles:
        h.remove()
    for out in outputs:
        out.retain_grad()
    nn.functional.cross_entropy(logits, tiny_batch.labels).backward()
    expected = 0.0
    for layer, out in zip(layers, outputs, strict=True):
        product = out.detach() * out.grad
        per_channel = product.sum((2, 3)) if product.dim() == 4 else product
        channel = 0.5 * per_channel.pow(2).mean(0)
        broadcast = channel.view(-1, *([1] * (layer.weight.dim() - 1))).expand_as(layer.weight)
        expected += float(broadcast.sum())
    got = ProxyScorer(["fisher"], tiny_batch).score_model(_tiny_net())["fisher"].value
    assert got == pytest.approx(expected, rel=1e-5)
    assert PROXIES.get("fisher").cache_key == "fisher@2"  # old caches (unweighted) are not reused


def test_jacob_cov_floors_a_network_that_ignores_its_input(tiny_batch):
    from diswot.proxies.zero_cost import jacob_cov_is_degenerate

    scorer = ProxyScorer(["jacob_cov"], tiny_batch)
    healthy = scorer.score_model(_tiny_net())["jacob_cov"].value
    dead_net = _tiny_net()
    with torch.no_grad():
        dead_net[0].weight.zero_()  # every later activation is the same for every image
    dead = scorer.score_model(dead_net)["jacob_cov"].value
    n = len(tiny_batch.labels)
    assert dead == pytest.approx(-n * (1e5 + math.log(1e-5)))  # finite, every row NaN -> zero
    assert jacob_cov_is_degenerate(dead) and not jacob_cov_is_degenerate(healthy)
    assert dead < healthy


def test_zico_uses_the_population_std(tiny_batch):
    # ZiCo (numpy): sum over weights of mean|g| / std(g) with ddof=0, over the mini-batches.
    model = _tiny_net()
    model.train()
    grads: dict[nn.Module, list[np.ndarray]] = {}
    for idx in torch.arange(8).chunk(2):
        model.zero_grad()
        nn.functional.cross_entropy(model(tiny_batch.inputs[idx]), tiny_batch.labels[idx]).backward()
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                grads.setdefault(m, []).append(m.weight.grad.flatten().numpy().copy())
    expected = 0.0
    for per_batch in grads.values():
        stacked = np.stack(per_batch)
        std, mean_abs = stacked.std(0), np.abs(stacked).mean(0)
        nonzero = std != 0
        expected += float(np.log((mean_abs[nonzero] / std[nonzero]).sum()))
    got = ProxyScorer(["zico"], tiny_batch).score_model(_tiny_net())["zico"].value
    assert got == pytest.approx(expected, rel=1e-5)
    assert PROXIES.get("zico").cache_key == "zico@2"


class ReLUConv(nn.Sequential):
    """A wrapper whose class name contains 'ReLU' (like NB201's ReLUConvBN)."""

    def __init__(self) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))


def test_nwot_counts_every_relu_module_once_per_call_nested_ones_included(tiny_batch):
    torch.manual_seed(0)
    block = ReLUConv()
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), block, block, nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 5)
    )
    codes: list[torch.Tensor] = []
    relus = [m for m in model.modules() if type(m) is nn.ReLU]
    handles = [
        r.register_forward_pre_hook(lambda _m, i: codes.append((i[0] > 0).flatten(1).double())) for r in relus
    ]
    with torch.no_grad():
        model(tiny_batch.inputs)
    for h in handles:
        h.remove()
    assert len(codes) == 3  # the shared nested ReLU twice, the outer one once; the wrapper never
    kernel = sum(c @ c.T + (1 - c) @ (1 - c).T for c in codes)
    expected = torch.linalg.slogdet(kernel + 1e-6 * torch.eye(len(kernel), dtype=kernel.dtype))[1]
    got = ProxyScorer(["nwot"], tiny_batch).score_model(model)["nwot"].value
    assert got == pytest.approx(float(expected), rel=1e-9)


def test_zico_is_bit_identical_whatever_else_is_scored(tiny_batch):
    # zico's two-half-batch ratio is ill-conditioned (one near-tied weight can carry a layer's
    # whole sum), so any change in arithmetic would show; none may come from the scorer.
    from diswot.models import build_model
    from diswot.proxies import TeacherContext
    from diswot.search_spaces import get_space

    space = get_space("nb201", cells=1)
    arch = space.decode(
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    )
    torch.manual_seed(0)
    ctx = TeacherContext(build_model("resnet8", num_classes=5), tiny_batch)
    others = ["grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot", "zen", "diswot", "kd"]
    orders = [["zico"], ["zico"], ["zico", *others], [*others, "zico"], [*reversed(others), "zico", "params"]]
    values = [ProxyScorer(o, tiny_batch, ctx).score_arch(space, arch, 5)["zico"].value for o in orders]
    assert len(set(values)) == 1, values
