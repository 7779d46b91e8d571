"""The KD-based zero-proxies: distillation losses between teacher and student at initialisation.

All are negated distances between teacher and student, so higher is better and 0 is best, on
the networks as built (DisWOT's own scores, on the authors' re-initialised networks, are in
:mod:`diswot.proxies.diswot_proxies`). They read only the shared forward pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from diswot.errors import DiswotError
from diswot.proxies.base import Probe, register_proxy
from diswot.proxies.diswot_proxies import relational
from diswot.similarity import (
    WORST_ROW_DISTANCE,
    attention_distance,
    attention_map,
    channel_gram_distance,
    is_collapsed,
    kd_divergence,
    match_spatial,
    minilm_divergence,
    random_projection,
    rkd_distance,
    self_attention_relations,
)

# Every proxy of this module compares the student's forward pass with the teacher's.
teacher_proxy = functools.partial(register_proxy, needs=("forward",), teacher=True)

# Proxies comparing normalised similarity matrices. Version 2: a student whose features are the
# same for every sample (0/0 in those matrices) gets the worst score.
normalised_similarity = functools.partial(teacher_proxy, version=2)

# Similarity-preserving KD's loss at the networks' own initialisation: DisWOT's relational term
# scores the same distance after the authors' re-initialisation.
normalised_similarity("sp", formula="-SP loss (Tung & Mori): batch-Gram distance of the last maps")(
    lambda probe: relational(probe, "sp")
)


def _output_distance(name: str, formula: str, output: str, distance: Callable[..., torch.Tensor]) -> None:
    """Register ``-distance(student's output, teacher's output)`` for one ``Features`` field."""

    def score(probe: Probe) -> float:
        teacher = probe.require_teacher(name)
        return -float(distance(getattr(probe.feats, output), getattr(teacher.features, output)))

    teacher_proxy(name, formula=formula)(score)


_output_distance("kd", "-T^2 KL(p_t || p_s) at T=4", "logits", kd_divergence)
_output_distance("rkd", "-RKD distance + 2 x angle loss of embeddings", "embedding", rkd_distance)


@normalised_similarity("at", formula="-attention-transfer loss of the last maps")
def at_score(probe: Probe) -> float:
    teacher = probe.require_teacher("at")
    s, t = match_spatial(probe.feats.feature_map, teacher.features.feature_map)
    if is_collapsed(s):  # unit-norm attention maps: 0/0; the mean squared distance is at most 4/positions
        return -WORST_ROW_DISTANCE / attention_map(t).shape[1]
    return -float(attention_distance(s, t))


def _projected_student_map(probe: Probe, proxy: str) -> tuple:
    teacher = probe.require_teacher(proxy)
    s, t = probe.feats.feature_map, teacher.features.feature_map
    width = t.shape[1] if t.dim() == 4 else t.shape[-1]
    return match_spatial(random_projection(s, width, probe.seed), t)


@teacher_proxy("fitnet", formula="-MSE(fixed random 1x1 projection of student, teacher)")
def fitnet_score(probe: Probe) -> float:
    s, t = _projected_student_map(probe, "fitnet")
    return -float((s - t).pow(2).mean())


@teacher_proxy(
    "ickd",
    formula="-ICKD loss of the last maps: per image, C x C channel Gram, rows normalised "
    "(student projected to the teacher's width when they differ)",
    version=3,
)
def ickd_score(probe: Probe) -> float:
    """Version 3 follows the ICKD loss of DisWOT's repository (rows normalised after the
    product, summed over the batch / (C * N)); version 2 compared cosine matrices."""
    s, t = probe.feats.feature_map, probe.require_teacher("ickd").features.feature_map
    channel_dim = 1 if t.dim() == 4 else -1
    if s.shape[channel_dim] != t.shape[channel_dim]:
        s, t = _projected_student_map(probe, "ickd")
    s, t = match_spatial(s, t)
    if is_collapsed(s):  # 0/0 rows; every row differs by at most 2, so the distance <= 4
        return -WORST_ROW_DISTANCE
    if s.dim() == 3:  # (N, T, D) hidden states: channels are the hidden units
        s, t = s.transpose(1, 2), t.transpose(1, 2)
    return -float(channel_gram_distance(s, t))


@teacher_proxy(
    "minilm", formula="-(KL of attention + KL of value relations) of the last self-attention layer (MiniLM)"
)
def minilm_score(probe: Probe) -> float:
    teacher = probe.require_teacher("minilm")
    if teacher.attention_relations is None or probe.attention is None:
        raise DiswotError(
            "proxy 'minilm' compares self-attention layers; teacher and student must both be "
            "Transformers (e.g. an autodistil space with a Transformer teacher)"
        )
    mask = probe.batch.attention_mask
    student = self_attention_relations(*probe.attention, mask)
    return -float(minilm_divergence(student, teacher.attention_relations, mask))
