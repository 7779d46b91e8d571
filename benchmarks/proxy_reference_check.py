"""diswot's classic proxies beside straightforward re-implementations of their reference formulas.

Each reference function below is written from the paper's definition (and the conventions of
the authors' released code where the paper leaves a choice), independently of
``diswot.proxies``: plain forward/backward passes on a private copy of the network, no shared
pass. For N NB201 cells (sampled with seed 0, each built once with its diswot seed) both
implementations score the same weights on the same batch of 64 CIFAR-10 images; the script
reports, per proxy, the Spearman rank correlation between the two across cells and the time
ratio (reference time / diswot time, > 1 means diswot is faster), measured in one process with
the two sides alternating (which one goes first flips every cell). The reference side is timed
on a copy made before its clock starts; diswot's side includes everything it does (a single-proxy
ProxyScorer: its shared pass, state restoring).

Usage: OMP_NUM_THREADS=1 python benchmarks/proxy_reference_check.py [--cells 24] [--data DIR]
Writes benchmarks/results/proxy_reference_check.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

import diswot
from diswot.proxies import Batch, ProxyScorer
from diswot.proxies.scorer import arch_seed

HERE = Path(__file__).resolve().parent
LAYERS = (nn.Conv2d, nn.Linear)


def _layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, LAYERS)]


def _ce_backward(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    net.train()
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()


def ref_grad_norm(net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Abdelfattah et al.: sum over layers of the L2 norm of dL/dW."""
    _ce_backward(net, x, y)
    return float(sum(m.weight.grad.norm() for m in _layers(net)))


def ref_snip(net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Lee et al.: connection sensitivity |dL/dc| at c = 1, i.e. |W * dL/dW|, summed."""
    _ce_backward(net, x, y)
    return float(sum((m.weight * m.weight.grad).abs().sum().item() for m in _layers(net)))


def ref_grasp(net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Wang et al.: -W * (H g), H the Hessian and g the gradient of the loss, summed."""
    net.train()
    weights = [m.weight for m in _layers(net)]
    g = torch.autograd.grad(F.cross_entropy(net(x), y), weights, allow_unused=True)
    g = [torch.zeros_like(w) if gi is None else gi.detach() for gi, w in zip(g, weights, strict=True)]
    grads = torch.autograd.grad(F.cross_entropy(net(x), y), weights, create_graph=True, allow_unused=True)
    z = sum((gi * g0).sum() for gi, g0 in zip(grads, g, strict=True) if gi is not None)
    hg = torch.autograd.grad(z, weights, allow_unused=True)
    return float(sum((-w.detach() * h).sum() for w, h in zip(weights, hg, strict=True) if h is not None))


def ref_fisher(net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Turner et al. / zero-cost-nas: per channel 0.5 E_batch[(sum_hw a dL/da)^2] of each layer
    output, copied onto every weight of the channel and summed."""
    outputs: dict[nn.Module, torch.Tensor] = {}

    def keep(m: nn.Module, _i: object, out: torch.Tensor) -> None:
        out.retain_grad()
        outputs[m] = out

    handles = [m.register_forward_hook(keep) for m in _layers(net)]
    _ce_backward(net, x, y)
    for h in handles:
        h.remove()
    total = 0.0
    for m, out in outputs.items():
        if out.grad is None:
            continue
        prod = out.detach() * out.grad
        per_channel = prod.sum(tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
        channel = 0.5 * per_channel.pow(2).mean(0)
        view = channel.view(-1, *([1] * (m.weight.dim() - 1)))
        total += float(view.expand_as(m.weight).sum())
    return total


def ref_synflow(net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Tanaka et al.: R = 1ᵀ(prod |W|)1 on an all-ones input, BN removed, score sum |W dR/dW|
    (float64; reported as log1p like diswot)."""
    for module in list(net.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(module, child_name, nn.Identity())
    net.double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net(torch.ones_like(x[:1], dtype=torch.float64)).sum().backward()
    return math.log1p(sum(float((m.weight * m.weight.grad).abs().sum()) for m in _layers(net)))


def ref_jacob_cov(net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Mellor et al. v1: eigenvalues v of the correlation of per-image input Jacobians,
    -sum(log(v + k) + 1/(v + k)), k = 1e-5; NaN (then dropped) when a row is constant."""
    net.train()
    x = x.clone().requires_grad_(True)
    out = net(x)
    out.backward(torch.ones_like(out))
    jacobian = x.grad.reshape(x.shape[0], -1).numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(jacobian)
    if not np.isfinite(corr).all():
        return float("nan")
    v = np.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


def ref_nwot(net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Mellor et al. (NASWOT, released code): hook every module whose class name contains
    'ReLU', K += c cᵀ + (1-c)(1-c)ᵀ of its input's binary codes, score log|det K|."""
    n = x.shape[0]
    kernel = np.zeros((n, n))

    def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        c = (inputs[0].reshape(n, -1) > 0).float()
        kernel[:] += (c @ c.t() + (1 - c) @ (1 - c).t()).numpy()

    handles = [m.register_forward_pre_hook(hook) for m in net.modules() if "ReLU" in str(type(m))]
    net.train()
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    return float(np.linalg.slogdet(kernel)[1])


def ref_zen(net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Lin et al. (Zen-NAS): Gaussian weights, BN at identity affine, train mode;
    log E||f(z) - f(z + 0.01 e)||_1 of the pre-pooling feature map + sum log sqrt(mean BN var).
    Draws its Gaussians in diswot's order from the same seed, so both see the same inputs."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, LAYERS):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()
        net.train()
        z = torch.randn(x.shape, generator=gen)
        e = torch.randn(x.shape, generator=gen)

        def trunk(t: torch.Tensor) -> torch.Tensor:  # NB201: everything before global pooling
            return net.lastact(net.cells(net.stem(t)))

        delta = (trunk(z) - trunk(z + 0.01 * e)).abs().sum((1, 2, 3)).mean()
        log_bn = sum(
            math.log(math.sqrt(float(m.running_var.mean())))
            for m in net.modules()
            if isinstance(m, nn.BatchNorm2d)
        )
    return math.log(float(delta)) + log_bn


def ref_zico(net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """Li et al. (ZiCo): per layer log(sum over weights of mean|g| / std(g)) across mini-batches
    (here the two halves of the batch; numpy's population std; weights with std 0 skipped)."""
    grads: dict[nn.Module, list[np.ndarray]] = {}
    for idx in torch.arange(x.shape[0]).chunk(2):
        _ce_backward(net, x[idx], y[idx])
        for m in _layers(net):
            grads.setdefault(m, []).append(m.weight.grad.reshape(-1).numpy().copy())
    score = 0.0
    for per_batch in grads.values():
        g = np.stack(per_batch)
        std, mean_abs = g.std(0), np.abs(g).mean(0)
        nonzero = std != 0
        total = np.sum(mean_abs[nonzero] / std[nonzero])
        if total != 0:
            score += math.log(total)
    return score


REFERENCES: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor, int], float]] = {
    "grad_norm": ref_grad_norm,
    "snip": ref_snip,
    "grasp": ref_grasp,
    "fisher": ref_fisher,
    "synflow": ref_synflow,
    "jacob_cov": ref_jacob_cov,
    "nwot": ref_nwot,
    "zen": ref_zen,
    "zico": ref_zico,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=24)
    parser.add_argument("--proxies", default=",".join(REFERENCES))
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--out", default=str(HERE / "results" / "proxy_reference_check.json"))
    args = parser.parse_args()
    names = args.proxies.split(",")
    data = diswot.load_dataset("cifar10", args.data)
    batch = Batch(*data.balanced_batch(64, seed=0))
    x, y = batch.inputs, batch.labels
    space = diswot.get_space("nb201")
    rng = random.Random(0)
    scorers = {p: ProxyScorer([p], batch, seed=0) for p in names}
    values: dict[str, dict[str, list[float]]] = {p: {"diswot": [], "reference": []} for p in names}
    times: dict[str, dict[str, float]] = {p: {"diswot": 0.0, "reference": 0.0} for p in names}
    archs = []
    for cell in range(args.cells):
        arch = space.sample(rng)
        key = space.encode(arch)
        archs.append(key)
        torch.manual_seed(arch_seed(0, key))
        model = space.build(arch, num_classes=10)
        for name in names:
            twin = copy.deepcopy(model)
            sides = ["diswot", "reference"] if cell % 2 == 0 else ["reference", "diswot"]
            for side in sides:
                torch.manual_seed(0)
                started = time.perf_counter()
                if side == "diswot":
                    value = scorers[name].score_model(model, key)[name].value
                else:
                    value = REFERENCES[name](twin, x, y, 0)
                times[name][side] += time.perf_counter() - started
                values[name][side].append(value)
        print(f"cell {cell + 1}/{args.cells} {key}", flush=True)
    report: dict[str, object] = {
        "cells": args.cells,
        "batch_size": 64,
        "torch_threads": torch.get_num_threads(),
        "archs": archs,
        "proxies": {},
    }
    for name in names:
        ours, ref = np.array(values[name]["diswot"]), np.array(values[name]["reference"])
        kept = np.isfinite(ref)  # the reference's NaN cells (jacob_cov) are dropped, as its paper does
        rho = float(stats.spearmanr(ours[kept], ref[kept]).statistic) if kept.sum() > 2 else float("nan")
        report["proxies"][name] = {  # type: ignore[index]
            "spearman_between_implementations": rho,
            "cells_compared": int(kept.sum()),
            "max_relative_difference": float(np.max(np.abs(ours[kept] - ref[kept]) / np.abs(ref[kept]))),
            "reference_over_diswot_time": times[name]["reference"] / times[name]["diswot"],
            "diswot_ms_per_cell": 1e3 * times[name]["diswot"] / args.cells,
            "reference_ms_per_cell": 1e3 * times[name]["reference"] / args.cells,
        }
        row = report["proxies"][name]  # type: ignore[index]
        print(f"{name:10s} rho {row['spearman_between_implementations']:.4f} "
              f"time ratio ref/diswot {row['reference_over_diswot_time']:.2f}")  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
