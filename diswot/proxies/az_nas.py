"""AZ-NAS's block-wise proxies (Lee and Ham, CVPR 2024), higher is better for all three.

One forward pass records the input of the first block and the output of every block
(:func:`diswot.models.blocks.find_blocks`); the three proxies read that pass, computed once per
candidate however many of them are asked for:

* ``az_expressivity``: the sum over those features of the entropy of the normalised eigenvalues
  of their channel covariance (over images and positions). Features spread over many directions
  score high; a collapsed (low-rank) feature scores low.
* ``az_progressivity``: the smallest increase of that entropy from one feature to the next. A
  network whose blocks keep adding directions scores high.
* ``az_trainability``: the mean over blocks of ``2 - s - 1/s``, where ``s`` is the largest
  singular value of the block's channel Jacobian, estimated by back-propagating random signs
  through the block. It is 0 when the block preserves gradient norms (``s = 1``) and falls as the
  block explodes or damps them.

Complexity, AZ-NAS's fourth proxy, is ``flops``; its rank aggregate is ``log:`` (see
:mod:`diswot.proxies.aggregate`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from diswot.errors import DiswotError
from diswot.models.blocks import find_blocks
from diswot.proxies.base import Probe, register_proxy, restored_buffers, scoring_mode

#: keeps ``1/s`` finite for a block that passes no gradient (``s = 0``)
_S_GUARD = 1e-6

#: the trainability of a block whose input gradient is exactly its output gradient (an identity
#: block): the formula would give it the best score, 0, although it adds nothing. AZ-NAS gives
#: such networks minus infinity; this finite floor equals a block that passes no gradient at all
#: (``s = 0``), so both rank last.
IDENTITY_BLOCK_TRAINABILITY = 2.0 - 1.0 / _S_GUARD


@dataclass(frozen=True)
class BlockScores:
    expressivity: float
    progressivity: float
    trainability: float


def _channels_by_positions(t: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (C, N*H*W) in float64: one row per channel, one column per image position."""
    return t.transpose(0, 1).reshape(t.shape[1], -1).double()


def spectral_entropy(feature: torch.Tensor) -> float:
    """Entropy of the normalised eigenvalues of the channel covariance of ``feature`` (N, C, H, W).

    A feature without variance (all zeros, say) has no spread to measure: its entropy is 0, the
    lowest possible value."""
    rows = _channels_by_positions(feature.detach())
    rows = rows - rows.mean(1, keepdim=True)
    covariance = rows @ rows.t() / rows.shape[1]
    eigenvalues = torch.linalg.eigvalsh(covariance).clamp_min(0.0)
    total = eigenvalues.sum()
    if not torch.isfinite(total):
        raise ValueError("the block features are not finite (NaN or infinite weights or outputs)")
    if total <= 0:
        return 0.0
    p = eigenvalues[eigenvalues > 0] / total
    return float(-(p * p.log()).sum())


def block_trainability(f_in: torch.Tensor, f_out: torch.Tensor, generator: torch.Generator) -> float:
    """``2 - s - 1/s`` for the block mapping ``f_in`` to ``f_out`` (both (N, C, H, W))."""
    signs = torch.randint(0, 2, f_out.shape, generator=generator).to(f_out) * 2 - 1
    (g_in,) = torch.autograd.grad(f_out, f_in, grad_outputs=signs, retain_graph=True, allow_unused=True)
    if g_in is None:  # the output does not depend on the input
        g_in = torch.zeros_like(f_in)
    if g_in.shape == signs.shape and torch.equal(g_in, signs):
        return IDENTITY_BLOCK_TRAINABILITY
    if g_in.shape[2:] != signs.shape[2:]:
        # a strided block: fold each stride x stride patch of the input into channels, so every
        # output position is compared with the input positions it reads
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // signs.shape[2])
    g_in, g_out = _channels_by_positions(g_in), _channels_by_positions(signs)
    jacobian = g_in @ g_out.t() / g_out.shape[1]  # E[g_in g_out^T] = the channel Jacobian^T
    if not torch.isfinite(jacobian).all():
        raise ValueError("the block gradients are not finite (NaN or infinite weights or outputs)")
    s = float(torch.linalg.matrix_norm(jacobian, ord=2))
    return 2.0 - s - 1.0 / (s + _S_GUARD)


def block_scores(probe: Probe) -> BlockScores:
    """The three scores of ``probe``'s network, from one forward pass (memoised on the probe)."""
    return probe.once("az_nas", lambda: _block_scores(probe))


def _block_scores(probe: Probe) -> BlockScores:
    model, batch = probe.model, probe.batch
    if batch.kind == "tokens":
        raise ValueError("the AZ-NAS proxies read convolutional feature maps (images), not token ids")
    features: list[torch.Tensor] = []

    def keep_input(_m: Any, inputs: tuple[torch.Tensor, ...]) -> None:
        if not features:
            features.append(inputs[0])

    def keep_output(_m: Any, _i: Any, out: torch.Tensor) -> None:
        features.append(out)

    try:
        blocks = find_blocks(model)
    except DiswotError as exc:  # as a ValueError, the scorer's message names the proxy
        raise ValueError(str(exc)) from exc
    handles = [b.register_forward_pre_hook(keep_input) for b in blocks]
    handles += [b.register_forward_hook(keep_output) for b in blocks]
    generator = torch.Generator().manual_seed(probe.seed)
    with restored_buffers(model):
        scoring_mode(model)
        try:
            # the input takes part in the graph, so every feature has a gradient path to it
            model(batch.inputs.clone().requires_grad_(True))
        finally:
            for h in handles:
                h.remove()
        if any(f.dim() != 4 for f in features):
            raise ValueError("the AZ-NAS proxies need (N, C, H, W) block outputs")
        entropies = [spectral_entropy(f) for f in features]
        # from the last block back, as the gradients flow
        pairs = list(itertools.pairwise(features))[::-1]
        # autograd.grad with respect to the features leaves the weights' .grad untouched
        trainability = [block_trainability(f_in, f_out, generator) for f_in, f_out in pairs]
    steps = [b - a for a, b in itertools.pairwise(entropies)]
    return BlockScores(sum(entropies), min(steps), sum(trainability) / len(trainability))


@register_proxy(
    "az_expressivity",
    formula="sum over block outputs of the entropy of their channel-covariance eigenvalues (AZ-NAS)",
)
def az_expressivity(probe: Probe) -> float:
    return block_scores(probe).expressivity


@register_proxy(
    "az_progressivity",
    formula="smallest block-to-block increase of that eigenvalue entropy (AZ-NAS)",
)
def az_progressivity(probe: Probe) -> float:
    return block_scores(probe).progressivity


@register_proxy(
    "az_trainability",
    formula="mean over blocks of 2 - s - 1/s, s = spectral norm of the block's channel Jacobian (AZ-NAS)",
)
def az_trainability(probe: Probe) -> float:
    return block_scores(probe).trainability
