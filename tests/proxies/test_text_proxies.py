"""DisWOT for Transformers on real SST-2 text: mask-aware relations and MiniLM attention relations."""

from __future__ import annotations

import random

import pytest
import torch

from diswot import get_space
from diswot.data import load_dataset
from diswot.errors import DiswotError
from diswot.models import TransformerClassifier
from diswot.proxies import Batch, ProxyScorer, TeacherContext

TEXT_PROXIES = ["diswot_relational", "minilm", "kd", "params", "flops"]


@pytest.fixture(scope="module")
def text_batch(shared_data):
    train = load_dataset("sst2", shared_data)
    ids, mask, labels = train.balanced_batch(24, seed=0)
    keep = int(mask.sum(1).max())  # trim the common padding: later tests add it back
    return Batch(ids[:, :keep], labels, mask[:, :keep], "tokens")


@pytest.fixture(scope="module")
def teacher():
    torch.manual_seed(0)
    return TransformerClassifier(hidden=256, layers=2, heads=4, ffn=512, num_classes=2, max_len=128)


def padded(batch: Batch, extra: int) -> Batch:
    n = batch.inputs.shape[0]
    ids = torch.cat([batch.inputs, torch.zeros(n, extra, dtype=torch.long)], 1)
    mask = torch.cat([batch.attention_mask, torch.zeros(n, extra, dtype=torch.bool)], 1)
    return Batch(ids, batch.labels, mask, "tokens")


@pytest.mark.parametrize("space_name", ["autodistil-tiny", "autodistil-small"])
def test_transformer_proxies_work_across_hidden_sizes_and_heads(space_name, text_batch, teacher):
    space = get_space(space_name, seq_len=32, max_len=128)
    context = TeacherContext(teacher, text_batch)
    scorer = ProxyScorer(TEXT_PROXIES, text_batch, context)
    rng = random.Random(0)
    archs = {space.sample(rng) for _ in range(6)}
    hidden_sizes = {a[1] for a in archs}
    assert len(hidden_sizes) > 1  # the test really mixes widths
    for arch in archs:
        scores = scorer.score_arch(space, arch, num_classes=2)
        assert all(torch.isfinite(torch.tensor(r.value)) for r in scores.values())
        assert scores["minilm"].value < 0 and scores["diswot_relational"].value <= 0


def test_adding_padding_leaves_the_scores_unchanged(text_batch, teacher):
    space = get_space("autodistil-tiny", seq_len=32, max_len=128)
    arch = space.sample(random.Random(1))
    results = []
    for batch in (text_batch, padded(text_batch, 20)):
        scorer = ProxyScorer(["diswot_relational", "minilm", "kd"], batch, TeacherContext(teacher, batch))
        results.append({k: r.value for k, r in scorer.score_arch(space, arch, num_classes=2).items()})
    for name in results[0]:
        assert results[1][name] == pytest.approx(results[0][name], rel=1e-4, abs=1e-7), name


def test_minilm_is_zero_for_the_teacher_itself(text_batch, teacher):
    # sp is DisWOT's relational distance on the networks as given (diswot_relational scores two
    # re-initialised copies, two different networks)
    scorer = ProxyScorer(["minilm", "sp"], text_batch, TeacherContext(teacher, text_batch))
    scores = scorer.score_model(teacher)
    assert scores["minilm"].value == pytest.approx(0.0, abs=1e-6)
    assert scores["sp"].value == pytest.approx(0.0, abs=1e-9)


def test_minilm_on_a_cnn_is_a_clear_error(cifar10_train):
    from diswot import build_model

    images, labels = cifar10_train.balanced_batch(10, seed=0)
    batch = Batch(images, labels)
    scorer = ProxyScorer(["minilm"], batch, TeacherContext(build_model("resnet8"), batch))
    with pytest.raises(DiswotError, match="must both be Transformers"):
        scorer.score_model(build_model("resnet8"))
