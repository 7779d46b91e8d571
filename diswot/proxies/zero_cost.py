"""The classic zero-cost proxies, following their papers (higher is better for all).

grad_norm, snip, fisher, nwot read the shared pass; synflow, zen, jacob_cov, grasp and zico
run their own passes inside :func:`preserved_state`, which restores weights, buffers and dtype.
Values that span hundreds of orders of magnitude (synflow) are reported as ``log1p``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from diswot.models.profile import count_macs, count_params
from diswot.proxies.base import (
    Probe,
    preserved_state,
    register_proxy,
    restored_buffers,
    scoring_mode,
    weight_layers,
)


@register_proxy("grad_norm", needs=("grads",), formula="sum over layers of ||dCE/dW||_2 (Abdelfattah et al.)")
def grad_norm(probe: Probe) -> float:
    return float(sum(g.norm() for g in probe.weight_grads.values()))


@register_proxy("snip", needs=("grads",), formula="sum |W * dCE/dW| (Lee et al. 2019)")
def snip(probe: Probe) -> float:
    return float(sum((m.weight.detach() * g).abs().sum() for m, g in probe.weight_grads.items()))


@register_proxy(
    "fisher",
    needs=("fisher",),
    formula="sum over channels of fan_in * 0.5 E[(sum_hw a*dCE/da)^2] (Turner et al.; zero-cost-nas)",
    version=2,  # version 1 summed channels without the fan-in weight
)
def fisher(probe: Probe) -> float:
    return float(sum(probe.fisher_terms))


@register_proxy(
    "nwot", needs=("relu_codes",), formula="log|det K_H| of ReLU binary codes (NASWOT, Mellor et al.)"
)
def nwot(probe: Probe) -> float:
    assert probe.relu_kernel is not None
    kernel = probe.relu_kernel
    if not torch.count_nonzero(kernel):
        raise ValueError("network has no ReLU activations for nwot")
    # A tiny ridge keeps networks whose codes coincide (e.g. cells of only 'none') finite and last.
    ridge = 1e-6 * torch.eye(kernel.shape[0], dtype=kernel.dtype)
    return float(torch.linalg.slogdet(kernel + ridge)[1])


@register_proxy("params", formula="number of parameters")
def params(probe: Probe) -> float:
    return float(count_params(probe.model))


@register_proxy("flops", formula="multiply-adds of one example")
def flops(probe: Probe) -> float:
    return float(count_macs(probe.model, probe.batch.inputs[:1]))


@register_proxy(
    "synflow", formula="log1p(sum |W * dR/dW|), R = sum of outputs of |W| on ones (Tanaka et al.)"
)
def synflow(probe: Probe) -> float:
    model = probe.model
    with preserved_state(model):
        for m in model.modules():  # fresh BN statistics make eval-mode BN the identity, as BN-free
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
        model.eval().double()
        with torch.no_grad():
            for p in model.parameters():
                p.abs_()
        ones = torch.ones_like(probe.batch.inputs[:1], dtype=torch.float64)
        if probe.batch.kind == "tokens":  # token models: ones are token ids
            ones = torch.ones_like(probe.batch.inputs[:1])
        model(ones).sum().backward()
        total = sum(
            (m.weight * m.weight.grad).abs().sum().item()
            for m in weight_layers(model)
            if m.weight.grad is not None
        )
    return math.log1p(total)


@register_proxy(
    "jacob_cov",
    formula="-sum(log(v+k) + 1/(v+k)), v = eigenvalues of the input-Jacobian correlation (Mellor et al. v1)",
)
def jacob_cov(probe: Probe) -> float:
    model, batch = probe.model, probe.batch
    if batch.kind == "tokens":
        raise ValueError("jacob_cov needs continuous inputs (images), not token ids")
    with preserved_state(model):
        scoring_mode(model)
        x = batch.inputs.clone().requires_grad_(True)
        # The gradient with respect to the input alone: skipping the weight gradients makes the
        # backward pass about 1.5x cheaper, and the value is the same.
        (input_grad,) = torch.autograd.grad(model(x).sum(), x)
        jacobian = input_grad.reshape(x.shape[0], -1).double().numpy()
    if not np.isfinite(jacobian).all():  # NaN weights: the floor below would hide them
        raise ValueError("the input gradients are not finite (NaN or infinite weights or outputs)")
    # An image whose input gradient is constant (every image, when the output ignores the
    # input) has a NaN correlation row. The paper drops such networks; here the row counts as
    # zero, which adds at least 1/k - log(1/k) to the penalty, so a search can still rank them last.
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.corrcoef(jacobian)
    eigenvalues = np.linalg.eigvalsh(np.nan_to_num(correlation))
    k = JACOB_COV_K
    return float(-np.sum(np.log(eigenvalues + k) + 1.0 / (eigenvalues + k)))


#: the ridge ``k`` of jacob_cov
JACOB_COV_K = 1e-5


def jacob_cov_is_degenerate(score: float) -> bool:
    """Whether a jacob_cov score comes from a Jacobian with a constant row: the paper's NaN.

    Every eigenvalue contributes ``log(v+k) + 1/(v+k) > 0``; a zero one contributes
    ``1/k + log k`` (about 1e5), which no healthy network reaches (they score about -65 to -3e4
    with 64 images).
    """
    return score <= -(1.0 / JACOB_COV_K + math.log(JACOB_COV_K))


@register_proxy("grasp", formula="-sum(W * Hg): Hessian-gradient product (Wang et al. 2020)")
def grasp(probe: Probe) -> float:
    model, batch = probe.model, probe.batch
    with preserved_state(model):
        scoring_mode(model)
        layers = weight_layers(model)
        weights = [m.weight for m in layers]
        loss = F.cross_entropy(model(*batch.model_args()), batch.labels)
        first = torch.autograd.grad(loss, weights, allow_unused=True)
        first = [
            torch.zeros_like(w) if g is None else g.detach() for g, w in zip(first, weights, strict=True)
        ]
        loss = F.cross_entropy(model(*batch.model_args()), batch.labels)
        grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
        z = sum((g * f).sum() for g, f in zip(grads, first, strict=True) if g is not None)
        if isinstance(z, torch.Tensor) and z.requires_grad:
            z.backward()
        total = sum((-w.detach() * w.grad).sum().item() for w in weights if w.grad is not None)
    return float(total)


@register_proxy(
    "zico",
    formula="sum over layers of log(sum mean|g| / std(g)) across 2 mini-batches (Li et al.)",
    version=2,  # version 1 used the unbiased std; ZiCo's numpy code uses the population std
)
def zico(probe: Probe) -> float:
    model, batch = probe.model, probe.batch
    halves = torch.arange(batch.inputs.shape[0]).chunk(2)
    per_layer: dict[nn.Module, list[torch.Tensor]] = {}
    layers = weight_layers(model)
    was_training = model.training
    # Only BN statistics and gradients change here: restoring the buffers is enough.
    with restored_buffers(model):
        scoring_mode(model)
        for idx in halves:
            model.zero_grad(set_to_none=True)  # fresh gradient tensors: no copy needed to keep them
            args = [a[idx] for a in batch.model_args()]
            F.cross_entropy(model(*args), batch.labels[idx]).backward()
            for m in layers:
                if m.weight.grad is not None:
                    per_layer.setdefault(m, []).append(m.weight.grad.detach().flatten())
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    score = 0.0
    for grads in per_layer.values():
        # two samples: mean|g| / std = (|g1| + |g2|) / |g1 - g2|, whose difference is exact even
        # for nearly tied pairs (the terms that dominate a layer), unlike std's rounding
        if len(grads) == 2:
            g1, g2 = grads
            mean_abs, std = g1.abs() + g2.abs(), (g1 - g2).abs()
        else:
            stacked = torch.stack(grads)
            std, mean_abs = stacked.std(0, correction=0), stacked.abs().mean(0)  # numpy's ddof=0
        # weights whose gradient is the same in both halves are skipped, as in ZiCo (where()
        # is cheaper than masking; its discarded branch divides by zero)
        if not (torch.isfinite(mean_abs).all() and torch.isfinite(std).all()):
            # NaN weights: where() would skip every weight and report a plausible 0
            raise ValueError("the gradients are not finite (NaN or infinite weights or outputs)")
        total = float(torch.where(std != 0, mean_abs / std, 0.0).sum())
        if total > 0:
            score += math.log(total)
    return score


@register_proxy(
    "zen", formula="log E||f(x) - f(x + 0.01e)|| + sum log sqrt(mean BN var), Gaussian weights (Lin et al.)"
)
def zen(probe: Probe) -> float:
    model, batch = probe.model, probe.batch
    if batch.kind == "tokens":
        raise ValueError("zen needs continuous inputs (images), not token ids")
    generator = torch.Generator().manual_seed(probe.seed)
    with preserved_state(model), torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()
        scoring_mode(model)
        x = torch.randn(batch.inputs.shape, generator=generator)
        noise = torch.randn(batch.inputs.shape, generator=generator)
        extractor = probe.extractor
        if not extractor.resolved:
            # Find the feature layer on two images in eval mode (buffers untouched): discovery
            # keeps every intermediate output alive, which would slow a full-batch pass down.
            scoring_mode(model, train=False)
            extractor(x[:2])
            scoring_mode(model)
        base = extractor(x).feature_map
        mixed = extractor(x + 0.01 * noise).feature_map
        delta = (base - mixed).abs().flatten(1).sum(1).mean()
        log_bn = sum(
            math.log(math.sqrt(float(m.running_var.mean())))
            for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_var is not None
        )
    # 1e-30 floors networks whose output ignores the input (log 0) at a finite, lowest score.
    return math.log(float(delta) + 1e-30) + log_bn
