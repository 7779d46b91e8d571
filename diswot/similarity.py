"""Similarity matrices and distances shared by the proxies and the distillers.

Most functions here work on batches of any width: teacher and student may have different
channel counts, spatial sizes or hidden sizes, because the matrices compared are
batch-by-batch or class-by-class, are averaged over channel pairings, or the student is
projected to the teacher's width. :func:`channel_gram_distance`, the authors' form of DisWOT's
channel similarity, compares channel by channel and needs equal shapes.
Distances are >= 0 and 0 when the inputs agree; proxies negate them (higher is better).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def mask_padding(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Zero the padded positions of ``(N, T, D)`` hidden states (``mask`` is 1 for real tokens), so
    inner products, and everything built on them, ignore padding entirely."""
    if mask is None or x.dim() != 3:
        return x
    return x * mask[:, : x.shape[1], None].to(x.dtype)


def row_normalised_gram(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``(N, ...)`` -> ``(N, N)`` Gram matrix of the flattened rows, each row L2-normalised.

    For token sequences give the attention ``mask``: padding then contributes nothing, and adding
    more padding leaves the matrix unchanged.
    """
    flat = mask_padding(x, mask).reshape(x.shape[0], -1)
    return F.normalize(flat @ flat.t(), p=2, dim=1)


#: ``||a - b||^2 <= 4`` for unit vectors, so ``4 / n`` bounds :func:`matrix_distance` of two
#: row-normalised ``(n, n)`` matrices: the distance of the least similar network possible.
WORST_ROW_DISTANCE = 4.0


def is_collapsed(x: torch.Tensor, mask: torch.Tensor | None = None, rtol: float = 1e-6) -> bool:
    """Whether all samples of ``x`` (``(N, ...)``) have the same features, up to ``rtol``.

    Typically all zero: an NB201 cell whose operations cut the input off. Row-normalised
    similarity matrices of such features are 0/0, so the network is given the worst similarity
    rather than the score of a zero matrix (which beats most real networks).
    """
    flat = mask_padding(x, mask).reshape(x.shape[0], -1).detach().float()
    spread = (flat - flat.mean(0, keepdim=True)).abs().max()
    return bool(spread <= rtol * flat.abs().max().clamp_min(1e-30))


def matrix_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``||a - b||_F^2 / n^2`` for two ``(n, n)`` matrices."""
    return (a - b).pow(2).sum() / (a.shape[0] * a.shape[1])


def relation_distance(
    student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Similarity-preserving distance: ``||G_s - G_t||_F^2 / N^2`` of row-normalised Grams."""
    return matrix_distance(row_normalised_gram(student, mask), row_normalised_gram(teacher, mask))


def channel_gram_distance(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """DisWOT's channel similarity, the inter-channel correlation loss of its authors' code.

    For each of the ``B`` items of two ``(B, C, ...)`` tensors: the ``C x C`` Gram matrix of the
    flattened rest, each row L2-normalised *after* the product; the squared Frobenius distance
    summed over the items, divided by ``C * B``. Teacher and student are compared channel by
    channel, so their shapes must agree. At most 4: every row differs by at most 2 in norm.
    """
    b, c = student.shape[:2]
    s, t = student.reshape(b, c, -1), teacher.reshape(b, c, -1)
    gram_s = F.normalize(s @ s.transpose(1, 2), p=2, dim=2)
    gram_t = F.normalize(t @ t.transpose(1, 2), p=2, dim=2)
    return (gram_s - gram_t).pow(2).sum() / (c * b)


def spatial_grams(feature_map: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, C, H, H)``: every channel's row-by-row Gram of its ``H x W`` map,
    rows L2-normalised (what :func:`channel_gram_distance` compares for one image's map)."""
    return F.normalize(feature_map @ feature_map.transpose(-1, -2), p=2, dim=-1)


def unpaired_spatial_gram_distance(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """:func:`channel_gram_distance` of every image's map, in expectation over channel pairings.

    The authors compare one image's map channel ``c`` of the teacher with channel ``c`` of the
    student; at initialisation channels are exchangeable, so that pairing is one random draw.
    This is the mean over *all* pairs ``(c, c')`` of ``||A_c - B_c'||^2 / H``, which needs no
    equal widths: ``mean ||A||^2 + mean ||B||^2 - 2 <mean A, mean B>`` per image, averaged over
    the batch. Maps of different sizes are pooled to the smaller one first. At most 4.
    """
    if student.dim() != 4 or teacher.dim() != 4:
        raise ValueError("unpaired spatial Grams compare (N, C, H, W) feature maps")
    s, t = match_spatial(student, teacher)
    gram_s, gram_t = spatial_grams(s), spatial_grams(t)
    per_image = (
        gram_s.pow(2).sum((2, 3)).mean(1)
        + gram_t.pow(2).sum((2, 3)).mean(1)
        - 2 * (gram_s.mean(1) * gram_t.mean(1)).sum((1, 2))
    )
    return per_image.mean() / s.shape[2]


def classifier_gradient(logits: torch.Tensor, labels: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
    """Gradient of the mean cross-entropy w.r.t. a linear classifier's ``(K, C)`` weight.

    Closed form ``(softmax(z) - onehot(y))^T e / N``: equal to what ``loss.backward()`` leaves
    in ``fc.weight.grad``, without a backward pass through the network.
    """
    error = logits.softmax(1) - F.one_hot(labels, logits.shape[1]).to(logits.dtype)
    return error.t() @ embedding / logits.shape[0]


def class_similarity(classifier_grad: torch.Tensor) -> torch.Tensor:
    """``(K, C)`` gradient of the loss w.r.t. the classifier weight -> ``(K, K)`` class matrix.

    The gradient is the class-activation information of the classifier (Grad-CAM's channel
    weights for every class); comparing class-by-class inner products makes the result
    independent of the feature width ``C``.
    """
    return F.normalize(classifier_grad @ classifier_grad.t(), p=2, dim=1)


def semantic_distance(student_grad: torch.Tensor, teacher_grad: torch.Tensor) -> torch.Tensor:
    """``||S_s - S_t||_F^2 / K^2`` of the row-normalised class-similarity matrices."""
    return matrix_distance(class_similarity(student_grad), class_similarity(teacher_grad))


def kd_divergence(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 4.0):
    """Hinton's distillation loss: ``T^2 * KL(softmax(t/T) || softmax(s/T))`` (batch mean)."""
    log_p_s = F.log_softmax(student_logits / temperature, dim=1)
    p_t = F.softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(log_p_s, p_t, reduction="batchmean") * temperature**2


def match_spatial(student: torch.Tensor, teacher: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool the larger of two ``(N, C, H, W)`` maps down to the smaller one's size."""
    if student.dim() != 4 or student.shape[2:] == teacher.shape[2:]:
        return student, teacher
    size = (min(student.shape[2], teacher.shape[2]), min(student.shape[3], teacher.shape[3]))
    return F.adaptive_avg_pool2d(student, size), F.adaptive_avg_pool2d(teacher, size)


def attention_map(feature_map: torch.Tensor) -> torch.Tensor:
    """Zagoruyko & Komodakis' spatial attention: channel mean of squares, L2-normalised.

    ``(N, C, H, W)`` maps average over channels; ``(N, T, D)`` sequences over the hidden size.
    """
    channel_dim = 1 if feature_map.dim() == 4 else -1
    return F.normalize(feature_map.pow(2).mean(channel_dim).flatten(1), dim=1)


def attention_distance(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    s, t = match_spatial(student, teacher)
    return (attention_map(s) - attention_map(t)).pow(2).mean()


def random_projection(features: torch.Tensor, width: int, seed: int = 0) -> torch.Tensor:
    """Map the channel (or hidden) dimension to ``width`` with a fixed seeded Gaussian matrix.

    Stands in for the learned 1x1 regressor of FitNet / ICKD when nothing may be trained.
    """
    channel_dim = 1 if features.dim() == 4 else features.dim() - 1
    c_in = features.shape[channel_dim]
    generator = torch.Generator().manual_seed(seed * 7919 + c_in * 31 + width)
    weight = torch.randn(width, c_in, generator=generator).to(features) / c_in**0.5
    moved = features.movedim(channel_dim, -1) @ weight.t()
    return moved.movedim(-1, channel_dim)


def channel_correlation(feature_map: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` or ``(N, T, D)`` -> ``(N, C, C)`` inter-channel correlation (ICKD)."""
    if feature_map.dim() == 3:
        feature_map = feature_map.transpose(1, 2)
    flat = F.normalize(feature_map.flatten(2), dim=2)
    return flat @ flat.transpose(1, 2)


def channel_correlation_distance(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """``||C_s - C_t||^2 / C^2`` averaged over the batch; widths must already agree."""
    c = teacher.shape[1] if teacher.dim() == 4 else teacher.shape[-1]
    s, t = match_spatial(student, teacher)
    return (channel_correlation(s) - channel_correlation(t)).pow(2).sum((1, 2)).mean() / (c * c)


def _pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    d = torch.cdist(x, x)
    mean = d[d > 0].mean() if (d > 0).any() else d.new_tensor(1.0)
    return d / mean


def _angles(x: torch.Tensor) -> torch.Tensor:
    diff = F.normalize(x[None, :, :] - x[:, None, :], p=2, dim=2)
    return torch.bmm(diff, diff.transpose(1, 2)).flatten()


def rkd_distance(student: torch.Tensor, teacher: torch.Tensor, angle_weight: float = 2.0) -> torch.Tensor:
    """Relational KD (Park et al.): distance-wise plus weighted angle-wise Huber losses."""
    s, t = student.flatten(1), teacher.flatten(1)
    distance = F.smooth_l1_loss(_pairwise_distances(s), _pairwise_distances(t))
    angle = F.smooth_l1_loss(_angles(s), _angles(t))
    return distance + angle_weight * angle


def self_attention_relations(
    probs: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """MiniLM's relations of one attention layer, averaged over heads: ``(N, T, T)`` each.

    ``probs`` is ``(N, heads, T, T)``; ``values`` ``(N, heads, T, d)``. The attention distribution
    and the value-value relation ``softmax(V V^T / sqrt(d))`` (padded keys excluded) are both
    row-stochastic ``T x T`` matrices, so teacher and student may differ in heads and widths.
    """
    scores = values @ values.transpose(-1, -2) / values.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask.bool()[:, None, None, :], torch.finfo(scores.dtype).min)
    return probs.mean(1), scores.softmax(-1).mean(1)


def relation_kl(
    student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """``KL(teacher_row || student_row)`` of two ``(N, T, T)`` row-stochastic relations, averaged
    over the real (unpadded) query tokens."""
    eps = torch.finfo(student.dtype).tiny
    kl = (teacher * ((teacher + eps).log() - (student + eps).log())).sum(-1)  # (N, T)
    if mask is None:
        return kl.mean()
    weights = mask.to(kl.dtype)
    return (kl * weights).sum() / weights.sum()


def minilm_divergence(
    student: tuple[torch.Tensor, torch.Tensor],
    teacher: tuple[torch.Tensor, torch.Tensor],
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """MiniLM's loss between two layers' relations (from :func:`self_attention_relations`): the KL
    of the attention relations plus the KL of the value relations. The ``minilm`` proxy (negated)
    and distiller both use it."""
    return relation_kl(student[0], teacher[0], mask) + relation_kl(student[1], teacher[1], mask)
