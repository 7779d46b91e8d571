import pytest
import torch
from torch import nn

from diswot.errors import CheckpointError, DiswotError, UnknownNameError
from diswot.models import (
    FeatureExtractor,
    build_model,
    count_params,
    list_models,
    load_teacher,
    save_checkpoint,
)

LITERATURE_PARAMS = {  # CRD / DisWOT model zoo sizes with 100 classes, in millions
    "resnet56": 0.86, "resnet110": 1.74, "resnet8x4": 1.23, "resnet32x4": 7.43,
    "wrn-40-2": 2.26, "wrn-16-2": 0.70,
}  # fmt: skip


def test_zoo_has_the_literature_models():
    names = set(list_models())
    for name in [
        "resnet8",
        "resnet14",
        "resnet20",
        "resnet32",
        "resnet44",
        "resnet56",
        "resnet110",
        "resnet8x4",
        "resnet32x4",
        "wrn-16-2",
        "wrn-40-2",
        "vgg8",
        "vgg13",
        "mobilenetv2",
    ]:
        assert name in names


@pytest.mark.parametrize("name,millions", sorted(LITERATURE_PARAMS.items()))
def test_model_sizes_match_the_literature(name, millions):
    assert count_params(build_model(name, num_classes=100)) / 1e6 == pytest.approx(millions, abs=0.02)


@pytest.mark.parametrize("name", list_models())
def test_every_model_runs_and_exposes_features(name):
    from diswot.models import TransformerClassifier

    model = build_model(name, num_classes=7)
    if isinstance(model, TransformerClassifier):  # the BERT miniatures take tokens
        ids, mask = torch.randint(4, 1000, (2, 12)), torch.ones(2, 12, dtype=torch.bool)
        features = FeatureExtractor(model)(ids, mask)
        assert features.feature_map.shape[:2] == (2, 12)  # hidden states (N, T, D)
        assert features.feature_map.shape[2] == features.classifier.in_features
    else:
        features = FeatureExtractor(model)(torch.randn(2, 3, 32, 32))
        assert features.feature_map.dim() == 4 and features.feature_map.shape[-1] > 1
        assert features.feature_map.shape[1] == features.classifier.in_features
    assert features.logits.shape == (2, 7)
    assert features.embedding.shape == (2, features.classifier.in_features)


def test_features_of_a_plain_sequential_cnn():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 12, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(12, 5),
    )
    x = torch.randn(4, 3, 16, 16)
    extractor = FeatureExtractor(model)
    first = extractor(x)
    assert extractor.classifier_name == "6" and extractor.feature_layer_name == "3"
    assert first.feature_map.shape == (4, 12, 16, 16)
    assert torch.allclose(first.embedding, first.feature_map.mean((2, 3)), atol=1e-6)
    assert torch.allclose(first.logits, model(x))
    second = extractor(x)  # the fast path with only two hooks gives the same tensors
    assert torch.allclose(second.feature_map, first.feature_map)
    first.logits.sum().backward()  # the graph is kept for gradient-based proxies
    assert model[6].weight.grad is not None


def test_feature_layer_override_and_bad_override():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)
    )
    features = FeatureExtractor(model, feature_layer="0")(torch.randn(1, 3, 8, 8))
    assert features.feature_map.shape == (1, 4, 6, 6)
    with pytest.raises(DiswotError, match=r"is not a module of"):
        FeatureExtractor(model, feature_layer="body.conv")
    with pytest.raises(DiswotError, match=r"must name an nn\.Linear"):
        FeatureExtractor(model, classifier="0")
    with pytest.raises(DiswotError, match=r"has no nn\.Linear"):
        FeatureExtractor(nn.Sequential(nn.Conv2d(3, 4, 3)))(torch.randn(1, 3, 8, 8))


def test_checkpoint_round_trip(tmp_path):
    model = build_model("resnet8", num_classes=10)
    path = save_checkpoint(tmp_path / "t.pt", model, "resnet8", 10, epochs=3)
    raw = torch.load(path, weights_only=True)  # safe loading works on our format
    assert raw["model"] == "resnet8"
    teacher = load_teacher(path, num_classes=10)
    assert teacher.pretrained and teacher.meta["epochs"] == 3 and teacher.num_classes == 10
    for a, b in zip(model.state_dict().values(), teacher.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_of_a_search_space_architecture(tmp_path):
    spec = "resnet-depth:153"
    path = save_checkpoint(tmp_path / "s.pt", build_model(spec), spec, 10)
    assert load_teacher(path).spec == spec


def test_bare_state_dict_needs_and_accepts_an_architecture(tmp_path):
    path = tmp_path / "bare.pth"
    torch.save(build_model("resnet8").state_dict(), path)
    with pytest.raises(CheckpointError, match="bare state_dict"):
        load_teacher(path)
    assert load_teacher(path, model="resnet8").spec == "resnet8"


def test_teacher_by_name_is_random_init():
    teacher = load_teacher("resnet20", num_classes=100)
    assert not teacher.pretrained and teacher.model.fc.out_features == 100


def test_bad_teachers_get_clear_errors(tmp_path):
    with pytest.raises(UnknownNameError, match="resnet56"):
        load_teacher("resnet57")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_teacher(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_teacher(corrupt)
    wrong_arch = tmp_path / "wrong.pt"
    torch.save(build_model("resnet8").state_dict(), wrong_arch)
    with pytest.raises(
        CheckpointError,
        match=r"does not fit architecture 'resnet8x4'.*expected \(32, 3, 3, 3\), found \(16, 3, 3, 3\)",
    ):
        load_teacher(wrong_arch, model="resnet8x4")
    ten = save_checkpoint(tmp_path / "ten.pt", build_model("resnet8"), "resnet8", 10)
    with pytest.raises(CheckpointError, match="classifies 10 classes but the data has 100"):
        load_teacher(ten, num_classes=100)


def test_checkpoint_needing_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_teacher(path, model="resnet8")
