"""DisWOT's proxies in the authors' forms and initialisation, and their width-free forms."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from diswot.cli import main
from diswot.models import build_model
from diswot.models.features import FeatureExtractor
from diswot.models.init import gaussian_copy, gaussian_init_
from diswot.proxies import PROXIES, Batch, ProxyScorer, TeacherContext
from diswot.proxies.scorer import TEACHER_SEED_KEY, arch_seed
from diswot.similarity import channel_gram_distance, relation_distance, unpaired_spatial_gram_distance


def _normalised_rows(m: np.ndarray) -> np.ndarray:
    norms = np.sqrt((m**2).sum(1, keepdims=True))
    return m / np.maximum(norms, 1e-12)


def _by_hand_channel_gram(s: np.ndarray, t: np.ndarray) -> float:
    """The authors' ICKD loss with explicit loops: item b, channels c x c of the flattened rest."""
    b, c = s.shape[:2]
    total = 0.0
    for i in range(b):
        fs, ft = s[i].reshape(c, -1), t[i].reshape(c, -1)
        total += ((_normalised_rows(fs @ fs.T) - _normalised_rows(ft @ ft.T)) ** 2).sum()
    return total / (c * b)


def test_channel_gram_distance_equals_the_loss_computed_by_hand():
    g = torch.Generator().manual_seed(0)
    s, t = (
        torch.randn(3, 4, 2, 5, generator=g, dtype=torch.float64),
        torch.randn(3, 4, 2, 5, generator=g, dtype=torch.float64),
    )
    assert float(channel_gram_distance(s, t)) == pytest.approx(
        _by_hand_channel_gram(s.numpy(), t.numpy()), rel=1e-12
    )
    assert float(channel_gram_distance(s, s)) == 0.0
    # classifier gradients (K, C) read as (K, C, 1): per class, rows sign(g_i) * g / |g|
    gs, gt = (
        torch.randn(5, 3, generator=g, dtype=torch.float64),
        torch.randn(5, 3, generator=g, dtype=torch.float64),
    )
    by_hand = sum(
        (
            (np.sign(a)[:, None] * a / np.linalg.norm(a) - np.sign(b)[:, None] * b / np.linalg.norm(b)) ** 2
        ).sum()
        for a, b in zip(gs.numpy(), gt.numpy(), strict=True)
    ) / (3 * 5)
    assert float(channel_gram_distance(gs[..., None], gt[..., None])) == pytest.approx(by_hand, rel=1e-12)


@pytest.mark.parametrize(("c_s", "c_t", "size_s", "size_t"), [(3, 3, 4, 4), (2, 5, 4, 4), (6, 3, 8, 4)])
def test_unpaired_distance_is_the_mean_over_every_channel_pairing(c_s, c_t, size_s, size_t):
    g = torch.Generator().manual_seed(1)
    s = torch.randn(2, c_s, size_s, size_s, generator=g, dtype=torch.float64).relu()
    t = torch.randn(2, c_t, size_t, size_t, generator=g, dtype=torch.float64).relu()
    pooled = nn.functional.adaptive_avg_pool2d(s, size_t) if size_s != size_t else s
    expected = np.mean([
        np.mean([_by_hand_channel_gram(pooled[n, i][None].numpy(), t[n, j][None].numpy())
                 for i, j in itertools.product(range(c_s), range(c_t))])
        for n in range(2)
    ])  # fmt: skip
    assert float(unpaired_spatial_gram_distance(s, t)) == pytest.approx(expected, rel=1e-10)
    if c_s == c_t and size_s == size_t:  # one pairing among all of them: not the same number
        assert float(channel_gram_distance(s[0], t[0])) != pytest.approx(expected)
    with pytest.raises(ValueError, match="N, C, H, W"):
        unpaired_spatial_gram_distance(s.flatten(2), t.flatten(2))


def test_gaussian_init_is_the_authors_and_leaves_other_modules_alone():
    model = nn.Sequential(
        nn.Conv2d(3, 64, 3, bias=True), nn.BatchNorm2d(64), nn.LayerNorm(5), nn.Linear(5, 300)
    )
    nn.init.constant_(model[1].weight, 3.0)
    layer_norm = {k: v.clone() for k, v in model[2].state_dict().items()}
    gaussian_init_(model, seed=7)
    for layer in (model[0], model[3]):
        weight = layer.weight.detach()
        assert abs(float(weight.mean())) < 0.05 and float(weight.std()) == pytest.approx(1.0, abs=0.05)
        assert torch.count_nonzero(layer.bias) == 0
    assert torch.all(model[1].weight == 1) and torch.all(model[1].bias == 0)
    assert all(torch.equal(v, layer_norm[k]) for k, v in model[2].state_dict().items())
    again = gaussian_copy(model, seed=7)
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    )


@pytest.fixture(scope="module")
def batch(cifar10_train):
    return Batch(*cifar10_train.balanced_batch(16, seed=0))


def test_re_initialisation_touches_only_the_scored_copies(batch):
    torch.manual_seed(0)
    teacher, student = build_model("resnet20"), build_model("resnet8")
    teacher.eval()
    saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in (teacher, student)]
    names = [n for n in PROXIES.names() if n.startswith("diswot")]
    ProxyScorer(names, batch, TeacherContext(teacher, batch, pretrained=True)).score_model(student)
    for model, before in zip((teacher, student), saved, strict=True):
        assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert not teacher.training and all(p.grad is None for p in student.parameters())


def test_the_scores_are_the_distances_of_the_re_initialised_copies(batch):
    torch.manual_seed(0)
    teacher, student = build_model("resnet20"), build_model("resnet14")
    context = TeacherContext(teacher, batch, pretrained=True)
    seed = 3
    scores = ProxyScorer(
        ["diswot_resnet", "diswot_resnet_trained", "diswot_nb201"], batch, context, seed
    ).score_model(student, "resnet14")

    def features(model: nn.Module, train: bool):
        model.train(train)
        with torch.no_grad():
            return FeatureExtractor(model)(batch.inputs)

    s = features(gaussian_copy(student, arch_seed(seed, "resnet14")), True)
    t_authors = features(gaussian_copy(teacher, arch_seed(seed, TEACHER_SEED_KEY)), True)
    t_given = features(teacher, False)
    assert scores["diswot_resnet"].value == pytest.approx(
        -float(channel_gram_distance(s.feature_map[0], t_authors.feature_map[0])), rel=1e-5
    )
    assert scores["diswot_resnet_trained"].value == pytest.approx(
        -float(channel_gram_distance(s.feature_map[0], t_given.feature_map[0])), rel=1e-5
    )
    # the NB201 procedure's relational term: image 0's pooled features as a (C, 1) "batch"
    pooled = -float(relation_distance(s.embedding[0, :, None], t_authors.embedding[0, :, None]))
    semantic = scores["diswot_nb201"].value - pooled
    assert -4 <= semantic < 0


def test_unequal_widths_are_a_one_line_error_at_the_command_line(capsys, tmp_path):
    args = "search --space resnet-depth --teacher resnet32x4 --proxy diswot_resnet --evaluations 2"
    code = main([*args.split(), "--batch-size", "8", "--out", str(tmp_path / "run"), "--no-plots"])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1
    message = errors[0][errors[0].index("diswot search: error:") :]
    assert "diswot_resnet" in message and message.endswith(
        "'diswot_map' (width-free) or a teacher of the student's width"
    )
    assert not (tmp_path / "run" / "result.json").exists()


def test_maps_proxies_on_a_transformer_are_a_clear_error(cifar10_train):
    from diswot.errors import DiswotError

    class Tokens(nn.Module):  # an (N, T, D) "feature map" before the classifier, like a Transformer
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(3 * 32, 8)
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            h = self.proj(x.flatten(2).transpose(1, 2).reshape(x.shape[0], 32, 96))
            return self.fc(h.mean(1))

    b = Batch(*cifar10_train.balanced_batch(10, seed=0))
    with pytest.raises(DiswotError, match="'diswot_map' compares 2-D feature maps"):
        ProxyScorer(["diswot_map"], b, TeacherContext(Tokens(), b)).score_model(Tokens())
