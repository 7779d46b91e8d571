"""Transformers end to end on real SST-2: MiniLM distiller, distillation beats chance, search on text."""

from __future__ import annotations

import pytest
import torch

from diswot import build_model, get_space
from diswot import run_search as search
from diswot.data import load_dataset
from diswot.distill import DistillationLoss, Recipe, distill, train_teacher
from diswot.errors import DataError, DiswotError
from diswot.models.features import FeatureExtractor, network_on_batch


@pytest.fixture(scope="module")
def sst2(shared_data):
    return load_dataset("sst2", shared_data)


def transformer_features(model, batch):
    return network_on_batch(FeatureExtractor(model), batch)


def test_minilm_distiller_is_zero_on_equal_features_and_positive_otherwise(sst2):
    batch = sst2.scoring_batch(12, seed=0)
    torch.manual_seed(0)
    teacher, student = build_model("bert-mini").eval(), build_model("bert-tiny").eval()
    t, s = transformer_features(teacher, batch), transformer_features(student, batch)
    same = DistillationLoss([("minilm", 1.0), ("sp", 1.0)], t, t)
    assert float(same(t, t, batch.labels).detach()) == pytest.approx(0.0, abs=1e-6)
    mixed = DistillationLoss([("minilm", 1.0)], s, t)
    assert float(mixed(s, t, batch.labels).detach()) > 1e-4  # different widths and head counts


def test_minilm_distiller_refuses_cnns(cifar10_train):
    images, _labels = cifar10_train.balanced_batch(8, seed=0)
    feats = FeatureExtractor(build_model("resnet8"))(images)
    with pytest.raises(DiswotError, match="must both be Transformers"):
        DistillationLoss([("minilm", 1.0)], feats, feats)


# eval_every=2: test accuracy only after the last epoch (what the tests read); halves the dev passes
RECIPE = Recipe(epochs=2, batch_size=64, lr=2e-3, optimizer="adamw", weight_decay=0.01, seed=0, eval_every=2)


@pytest.fixture(scope="module")
def text_teacher(shared_data, tmp_path_factory):
    """A bert-tiny teacher trained briefly on 2,000 SST-2 phrases (the CLI's train-teacher path)."""
    path = tmp_path_factory.mktemp("teacher") / "bert_tiny_sst2.pt"
    summary = train_teacher("bert-tiny", path, dataset="sst2", data_root=shared_data, recipe=RECIPE,
                            train_subset=2000, progress=False)  # fmt: skip
    assert summary["test_accuracy"] > 58.0  # SST-2 dev, chance is about 51%
    return path


def test_a_short_distillation_on_sst2_beats_chance(shared_data, text_teacher, tmp_path):
    result = distill(str(text_teacher), ["bert-tiny"], "kd:0.5,minilm:0.5", dataset="sst2",
                     data_root=shared_data, recipe=RECIPE, train_subset=2000, out=tmp_path / "d",
                     progress=False)[0]  # fmt: skip
    assert result["test_images"] == 872  # the full SST-2 dev set
    assert result["test_accuracy"] > 58.0


def test_search_an_autodistil_space_against_a_trained_text_teacher(sst2, text_teacher, tmp_path):
    found = search("autodistil-tiny", teacher=str(text_teacher), data=sst2, proxy="minilm",
                   record=["diswot_relational"], evaluations=3, batch_size=16, out=tmp_path / "s",
                   progress=False, plots=False)  # fmt: skip
    assert get_space("autodistil-tiny").decode(found.arch) and found.score < 0 and found.evaluations == 3


def test_search_refuses_data_of_the_wrong_kind(sst2):
    with pytest.raises(DataError, match="takes token inputs"):
        search("autodistil-tiny", proxy="params", evaluations=2, progress=False, data="sample")
    with pytest.raises(DataError, match="give text data"):
        search("autodistil-tiny", proxy="params", evaluations=2, progress=False)
    with pytest.raises(DataError, match="takes image inputs"):
        search("nb201", data=sst2, proxy="params", evaluations=2, progress=False)
    with pytest.raises(DiswotError, match="Transformer teacher"):
        search("autodistil-tiny", data=sst2, proxy="minilm", evaluations=2, progress=False)
