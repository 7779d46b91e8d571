"""DisWOT's similarity scores, as its authors compute them, and their width-free forms.

Every score here compares a candidate with the teacher on one labelled batch, after the
authors' re-initialisation of both networks (N(0, 1) weights, see
:func:`diswot.models.init.gaussian_init_`; their code re-initialises a trained teacher too).
Each has a ``_trained`` twin that re-initialises the candidate only and keeps the teacher as
given, for a teacher that was trained. All are negated distances: higher is better, 0 is best.

The authors' forms (their repository, lliai/DisWOT-CVPR2023):

* ``diswot``: the combined score of the paper, as the repository's README states it:
  ``diswot_semantic + diswot_relational``.
* ``diswot_semantic``: the channel similarity (:func:`~diswot.similarity.channel_gram_distance`)
  of the gradients of the cross-entropy w.r.t. the classifier weight, read as ``(K, C, 1)``:
  per class, a ``C x C`` matrix.
* ``diswot_relational``: the batch similarity of the last feature maps before pooling
  (similarity-preserving KD's ``N x N`` Gram).
* ``diswot_resnet``: the procedure of the authors' ResNet-space study (``exps/parse_s1_zc.py``,
  ``compute_diswot_kd_procedure``): their loss function is handed the batch of maps where it
  expects a list of them, so it compares the *first image's* map only, channel by channel,
  each channel's ``H x H`` row Gram.
* ``diswot_nb201``: the procedure of their NB201 study (``exps/parse_nb201_distill.py``,
  ``compute_diswot_procedure``): ``diswot_semantic`` plus the similarity loss of the *first
  image's* pooled features, handed over the same way (a ``C x C`` outer product).

The authors' forms compare channel ``c`` with channel ``c``, so they need equal widths and
refuse others with an error. The width-free forms:

* ``diswot_map``: ``diswot_resnet`` over every image of the batch, in expectation over channel
  pairings (:func:`~diswot.similarity.unpaired_spatial_gram_distance`): any widths and map sizes.
* ``diswot_class``: the semantic term with a ``K x K`` class-by-class matrix of the same
  gradients, which does not depend on the width.

A candidate whose features are the same for every image (a network that cuts its input off)
makes the normalised matrices 0/0; it gets the bound of the distance, the least similar any
network can be, rather than the score of a zero matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from diswot.errors import DiswotError
from diswot.proxies.base import Probe, register_proxy
from diswot.similarity import (
    WORST_ROW_DISTANCE,
    channel_gram_distance,
    class_similarity,
    classifier_gradient,
    is_collapsed,
    matrix_distance,
    relation_distance,
    row_normalised_gram,
    unpaired_spatial_gram_distance,
)

#: version 3: the authors' forms and re-initialisation (version 2: class-by-class semantic
#: matrix and the models' own initialisation)
VERSION = 3


def _same_width(proxy: str, student: torch.Size, teacher: torch.Size, what: str) -> None:
    if student != teacher:
        alternative = "diswot_map" if "map" in what else "diswot_class"
        raise DiswotError(
            f"proxy {proxy!r} compares teacher and student channel by channel, as DisWOT's authors "
            f"do, so their {what} must have one shape: the student's is {tuple(student)}, "
            f"the teacher's {tuple(teacher)}; use {alternative!r} (width-free) or a "
            "teacher of the student's width"
        )


def semantic(probe: Probe, proxy: str = "diswot_semantic") -> float:
    teacher, feats = probe.require_teacher(proxy), probe.feats
    _same_width(proxy, feats.classifier.weight.shape, teacher.classifier_grad.shape, "classifier weights")
    if is_collapsed(feats.embedding):
        return -WORST_ROW_DISTANCE
    student = classifier_gradient(feats.logits, probe.batch.labels, feats.embedding)
    return -float(channel_gram_distance(student[..., None], teacher.classifier_grad[..., None]))


def class_semantic(probe: Probe, proxy: str = "diswot_class") -> float:
    teacher, feats = probe.require_teacher(proxy), probe.feats
    if is_collapsed(feats.embedding):
        return -WORST_ROW_DISTANCE / feats.logits.shape[1]
    student = class_similarity(classifier_gradient(feats.logits, probe.batch.labels, feats.embedding))
    return -float(matrix_distance(student, teacher.class_similarity))


def relational(probe: Probe, proxy: str = "diswot_relational") -> float:
    teacher, mask = probe.require_teacher(proxy), probe.batch.attention_mask
    if is_collapsed(probe.feats.feature_map, mask):
        return -WORST_ROW_DISTANCE / probe.feats.feature_map.shape[0]
    student = row_normalised_gram(probe.feats.feature_map, mask)
    return -float(matrix_distance(student, teacher.relation))


def _maps(probe: Probe, proxy: str) -> tuple[torch.Tensor, torch.Tensor]:
    teacher = probe.require_teacher(proxy)
    student_map, teacher_map = probe.feats.feature_map, teacher.features.feature_map
    if student_map.dim() != 4 or teacher_map.dim() != 4:
        raise DiswotError(
            f"proxy {proxy!r} compares 2-D feature maps (N, C, H, W); a Transformer's hidden states "
            "have none: use 'diswot_relational' or 'minilm'"
        )
    return student_map, teacher_map


def first_image_map(probe: Probe, proxy: str = "diswot_resnet") -> float:
    student, teacher = _maps(probe, proxy)
    _same_width(proxy, student.shape[1:], teacher.shape[1:], "last feature maps")
    if is_collapsed(student):
        return -WORST_ROW_DISTANCE
    return -float(channel_gram_distance(student[0], teacher[0]))


def unpaired_map(probe: Probe, proxy: str = "diswot_map") -> float:
    student, teacher = _maps(probe, proxy)
    if is_collapsed(student):
        return -WORST_ROW_DISTANCE
    return -float(unpaired_spatial_gram_distance(student, teacher))


def first_image_pooled(probe: Probe, proxy: str) -> float:
    """The authors' NB201 relational term: their similarity loss of image 0's pooled features."""
    student, teacher = probe.feats.embedding, probe.require_teacher(proxy).features.embedding
    _same_width(proxy, student.shape[1:], teacher.shape[1:], "pooled features")
    if is_collapsed(student):
        return -WORST_ROW_DISTANCE / student.shape[1]
    return -float(relation_distance(student[0, :, None], teacher[0, :, None]))


Score = Callable[[Probe, str], float]


def _register(name: str, score: Score, formula: str, version: int = 1) -> None:
    """Register ``name`` (the authors' initialisation) and ``name_trained`` (the teacher kept)."""
    for suffix, init, note in (
        ("", "authors", "; teacher and student re-initialised N(0,1), as the authors do"),
        ("_trained", "authors_student", "; student re-initialised N(0,1), the (trained) teacher kept"),
    ):
        full = name + suffix
        register_proxy(
            full, needs=("forward",), teacher=True, formula=formula + note, version=version, init=init
        )(lambda probe, _score=score, _name=full: _score(probe, _name))


def combined(probe: Probe, proxy: str) -> float:
    return semantic(probe, proxy) + relational(probe, proxy)


def nb201_procedure(probe: Probe, proxy: str) -> float:
    return semantic(probe, proxy) + first_image_pooled(probe, proxy)


_register("diswot", combined, "diswot_semantic + diswot_relational: DisWOT's combined score", VERSION)
_register(
    "diswot_semantic",
    semantic,
    "-channel similarity (per class C x C, rows normalised) of dCE/dW_fc; equal widths",
    VERSION,
)
_register(
    "diswot_relational",
    relational,
    "-||G_s - G_t||^2/N^2, G = row-normalised batch Gram of the last maps",
    VERSION,
)
_register(
    "diswot_resnet",
    first_image_map,
    "the authors' ResNet-space procedure: -channel similarity of image 0's last map; equal widths",
)
_register(
    "diswot_nb201",
    nb201_procedure,
    "the authors' NB201 procedure: diswot_semantic - similarity loss of image 0's pooled features",
)
_register(
    "diswot_map",
    unpaired_map,
    "-diswot_resnet's distance over the batch, in expectation over channel pairings; any widths",
)
_register(
    "diswot_class", class_semantic, "-||S_s - S_t||^2/K^2, S = row-normalised K x K product of dCE/dW_fc"
)
