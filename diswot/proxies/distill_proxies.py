"""DisWOT's similarity scores and the KD-based zero-proxies (teacher vs student at init).

All are negated distances between teacher and student, so higher is better and 0 is best.
They read only the shared forward pass (no backward): the class-activation matrix comes from
the closed-form gradient of the cross-entropy w.r.t. the classifier weight.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from diswot.errors import DiswotError
from diswot.proxies.base import Probe, register_proxy
from diswot.similarity import (
    WORST_ROW_DISTANCE,
    attention_distance,
    attention_map,
    channel_correlation_distance,
    class_similarity,
    classifier_gradient,
    is_collapsed,
    kd_divergence,
    match_spatial,
    matrix_distance,
    minilm_divergence,
    random_projection,
    rkd_distance,
    row_normalised_gram,
    self_attention_relations,
)


def semantic_score(probe: Probe) -> float:
    teacher, feats = probe.require_teacher("diswot_semantic"), probe.feats
    if is_collapsed(feats.embedding):
        return -WORST_ROW_DISTANCE / feats.logits.shape[1]
    grad = classifier_gradient(feats.logits, probe.batch.labels, feats.embedding)
    return -float(matrix_distance(class_similarity(grad), teacher.class_similarity))


def relational_score(probe: Probe) -> float:
    teacher, mask = probe.require_teacher("diswot_relational"), probe.batch.attention_mask
    if is_collapsed(probe.feats.feature_map, mask):
        return -WORST_ROW_DISTANCE / probe.feats.feature_map.shape[0]
    student = row_normalised_gram(probe.feats.feature_map, mask)
    return -float(matrix_distance(student, teacher.relation))


# Every proxy of this module compares the student's forward pass with the teacher's.
teacher_proxy = functools.partial(register_proxy, needs=("forward",), teacher=True)

# Proxies comparing normalised similarity matrices. Version 2: a student whose features are the
# same for every sample (0/0 in those matrices) gets the worst score.
DISWOT_VERSION = 2
normalised_similarity = functools.partial(teacher_proxy, version=DISWOT_VERSION)


normalised_similarity(
    "diswot_semantic", formula="-||S_s - S_t||^2/K^2, S = row-normalised class-by-class product of dCE/dW_fc"
)(semantic_score)

normalised_similarity(
    "diswot_relational", formula="-||G_s - G_t||^2/N^2, G = row-normalised batch Gram of the last feature map"
)(relational_score)


@normalised_similarity("diswot", formula="diswot_semantic + diswot_relational (DisWOT's combined similarity)")
def diswot_score(probe: Probe) -> float:
    return semantic_score(probe) + relational_score(probe)


# Similarity-preserving KD's loss is exactly DisWOT's relational distance: one implementation.
normalised_similarity("sp", formula="-SP loss (Tung & Mori); equals diswot_relational")(relational_score)


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




@normalised_similarity("ickd", formula="-inter-channel correlation distance (projected student)")
def ickd_score(probe: Probe) -> float:
    s, t = _projected_student_map(probe, "ickd")
    if is_collapsed(s):  # cosine matrices: 0/0; every entry differs by at most 2, so the distance <= 4
        return -WORST_ROW_DISTANCE
    return -float(channel_correlation_distance(s, t))


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
