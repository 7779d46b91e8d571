import numpy as np
import pytest
import torch
from scipy import stats

from diswot.bench.metrics import correlations
from diswot.errors import DiswotError, UnknownNameError
from diswot.models import build_model, load_teacher
from diswot.proxies import PROXIES, Batch, ProxyScorer, TeacherContext, parse_aggregate
from diswot.proxies.base import NEEDS
from diswot.search_spaces import get_space
from diswot.similarity import is_collapsed

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
EMPTY = "|none~0|+|skip_connect~0|none~1|+|none~0|skip_connect~1|none~2|"
CLASSIC = [
    "grad_norm",
    "snip",
    "grasp",
    "fisher",
    "synflow",
    "jacob_cov",
    "nwot",
    "zen",
    "zico",
    "params",
    "flops",
]
#: DisWOT's proxies in the authors' forms (equal widths), its width-free forms, and the KD proxies
AUTHORS_FORMS = ["diswot", "diswot_semantic", "diswot_resnet", "diswot_nb201"]
WIDTH_FREE = ["diswot_relational", "diswot_map", "diswot_class", "kd", "sp", "at", "fitnet", "rkd", "ickd"]
WITH_TEACHER = AUTHORS_FORMS + WIDTH_FREE


@pytest.fixture(scope="module")
def batch(cifar10_train):
    x, y = cifar10_train.balanced_batch(20, seed=0)
    return Batch(x, y)


@pytest.fixture(scope="module")
def teacher_ctx(batch):
    torch.manual_seed(0)
    return TeacherContext(load_teacher("resnet20").model, batch)


@pytest.fixture(scope="module")
def small_space():
    return get_space("nb201", cells=1)  # one cell per stage keeps the tests fast


def test_registry_lists_every_proxy_with_a_formula():
    assert set(CLASSIC + WITH_TEACHER) <= set(PROXIES.names())
    for entry in PROXIES.entries():
        assert entry.summary and entry.obj.needs <= NEEDS


def test_proxies_leave_the_model_unchanged(batch, teacher_ctx):
    model = build_model("resnet8")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ProxyScorer(CLASSIC + WITH_TEACHER, batch, teacher_ctx).score_model(model)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("name", ["params", "flops", "synflow", "nwot", "snip", "grad_norm", "zico"])
def test_best_cell_outranks_an_empty_cell(name, batch, small_space):
    scorer = ProxyScorer([name], batch)
    best = scorer.score_arch(small_space, small_space.decode(BEST), 10)[name].value
    empty = scorer.score_arch(small_space, small_space.decode(EMPTY), 10)[name].value
    assert best > empty


@pytest.mark.parametrize("name", ["diswot", "diswot_semantic", "diswot_relational"])
def test_diswot_ranks_best_cell_above_empty_cell(name, batch, teacher_ctx, small_space):
    scorer = ProxyScorer([name], batch, teacher_ctx)
    best = scorer.score_arch(small_space, small_space.decode(BEST), 10)[name].value
    empty = scorer.score_arch(small_space, small_space.decode(EMPTY), 10)[name].value
    assert best > empty


def test_a_cell_that_cuts_the_input_off_gets_the_worst_similarity(batch, teacher_ctx, small_space):
    # EMPTY's cells output zeros, so every image has the same (zero) features: the row-normalised
    # matrices are 0/0. Scored as zero matrices they would beat most real networks.
    names = ["diswot_semantic", "diswot_relational", "diswot", "diswot_resnet", "diswot_nb201", "diswot_map",
             "diswot_class", "at", "ickd"]  # fmt: skip
    scorer = ProxyScorer(names, batch, teacher_ctx)
    scores = scorer.score_arch(small_space, small_space.decode(EMPTY), 10)
    # each gets its distance's bound: 4 per normalised row, over the rows it divides by
    width = 64  # the cells' last map and the ResNet-20 teacher's
    assert scores["diswot_semantic"].value == -4  # K x C rows over K * C
    assert scores["diswot_class"].value == -4 / 10  # K rows over K^2
    assert scores["diswot_relational"].value == -4 / len(batch.labels)  # N rows over N^2
    assert scores["diswot"].value == pytest.approx(-4 - 4 / len(batch.labels))
    assert scores["diswot_resnet"].value == scores["diswot_map"].value == -4
    assert scores["diswot_nb201"].value == pytest.approx(-4 - 4 / width)
    assert scores["ickd"].value == -4
    best = scorer.score_arch(small_space, small_space.decode(BEST), 10)
    assert all(best[n].value > scores[n].value for n in names)
    assert is_collapsed(torch.zeros(4, 8)) and is_collapsed(torch.ones(4, 3, 2, 2))
    assert not is_collapsed(torch.arange(8.0).view(4, 2))


def test_width_free_similarities_work_across_widths(batch):
    ctx = TeacherContext(build_model("resnet32x4"), batch)  # 256 channels vs the student's 64
    scores = ProxyScorer(WIDTH_FREE, batch, ctx).score_model(build_model("resnet8"))
    assert all(v.value <= 0 for v in scores.values())


@pytest.mark.parametrize("name", AUTHORS_FORMS)
def test_the_authors_forms_refuse_unequal_widths_naming_a_width_free_form(name, batch):
    ctx = TeacherContext(build_model("resnet32x4"), batch)
    expected = (
        rf"proxy '{name}' compares teacher and student channel by channel"
        r".*the student's is \(.*64.*the teacher's \(.*256.*'diswot_(class|map)' \(width-free\)"
    )
    with pytest.raises(DiswotError, match=expected):
        ProxyScorer([name], batch, ctx).score_model(build_model("resnet8"))


def test_identical_teacher_and_student_score_perfectly(batch):
    # Proxies scoring the networks as built; DisWOT's re-initialise both, so the same network
    # is two draws there (the distances' zero is tested on tensors in test_diswot_proxies.py)
    torch.manual_seed(0)
    model = build_model("resnet8")
    ctx = TeacherContext(model, batch)
    scores = ProxyScorer(["kd", "at", "rkd", "sp", "ickd"], batch, ctx).score_model(model)
    for name, result in scores.items():
        assert result.value == pytest.approx(0.0, abs=1e-6), name


def test_teacher_is_computed_once_per_batch(batch, small_space, monkeypatch):
    calls = []
    teacher = build_model("resnet8")
    teacher.register_forward_hook(lambda *_: calls.append(1))
    ctx = TeacherContext(teacher, batch)
    scorer = ProxyScorer(["diswot", "kd"], batch, ctx)
    for key in (BEST, EMPTY):
        scorer.score_arch(small_space, small_space.decode(key), 10)
    # once as given (kd) and once for its copy re-initialised as the authors do (diswot; the
    # copy keeps the hook): per scorer, not per candidate
    assert len(calls) == 2


def test_bad_input(batch):
    with pytest.raises(UnknownNameError, match="Did you mean 'synflow'"):
        ProxyScorer(["synflo"], batch)
    with pytest.raises(DiswotError, match="--teacher"):
        ProxyScorer(["diswot"], batch)
    with pytest.raises(DiswotError, match="labels up to 9"):
        TeacherContext(build_model("resnet8", num_classes=5), batch)
    with pytest.raises(DiswotError, match="two or more"):
        parse_aggregate("log:nwot")


def test_aggregate_of_ranks():
    agg = parse_aggregate("nwot+synflow")
    assert agg.members == ("nwot", "synflow") and agg.method == "mean"
    combined = agg.combine({"nwot": [1, 2, 3], "synflow": [30, 10, 20]})
    assert list(combined) == [2.0, 1.5, 2.5]
    log = parse_aggregate("log:nwot+synflow").combine({"nwot": [1, 2, 3], "synflow": [30, 10, 20]})
    assert log.argmax() == 2 and log.argmin() == 1


def test_correlations_agree_with_scipy():
    rng = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, generator=rng).tolist(), torch.randn(50, generator=rng).tolist()
    got = correlations(x, y)
    assert got["kendall"] == pytest.approx(stats.kendalltau(x, y).statistic)
    assert got["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert got["pearson"] == pytest.approx(stats.pearsonr(x, y).statistic)
    assert correlations([1, 1, 1], [1, 2, 3]) == {"kendall": 0.0, "spearman": 0.0, "pearson": 0.0}
    # a constant truth has no ranking to agree with: undefined, as in every other bench metric
    assert all(np.isnan(v) for v in correlations([1, 2, 3], [5, 5, 5]).values())
