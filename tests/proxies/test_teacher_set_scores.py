"""Several teachers in the scoring layer: the weighted combination, defined once for every proxy."""

from __future__ import annotations

import pytest
import torch

from diswot.errors import DiswotError
from diswot.models import build_model, save_checkpoint
from diswot.proxies import ProxyScorer, TeacherContext
from diswot.proxies.scorer import scoring_batches
from diswot.scoring.config import ScoringConfig
from diswot.scoring.setup import scoring_setup, teacher_members, teacher_set_fingerprint
from diswot.search_spaces import get_space

PROXIES = ["diswot_map", "diswot_resnet_trained", "kd", "params"]


@pytest.fixture(scope="module")
def scoring(cifar10_train):
    torch.manual_seed(0)
    teachers = [build_model("resnet20").eval(), build_model("resnet8").eval()]
    batch = scoring_batches(cifar10_train, 32, 1, 0, "cpu")[0]
    contexts = [TeacherContext(t, batch, pretrained=True) for t in teachers]
    return get_space("resnet-depth"), batch, contexts


def _scores(space, batch, teachers):
    scorer = ProxyScorer(PROXIES, batch, teachers, seed=0)
    return {k: v.value for k, v in scorer.score_arch(space, space.decode("131"), 10).items()}


def test_weights_one_and_zero_give_the_single_teacher_score_exactly(scoring):
    space, batch, (a, b) = scoring
    single = _scores(space, batch, a)
    assert _scores(space, batch, [(a, 1.0), (b, 0.0)]) == single
    assert _scores(space, batch, [(a, 1.0)]) == single


def test_a_teacher_set_scores_the_weighted_sum_of_its_teachers(scoring):
    space, batch, (a, b) = scoring
    alone_a, alone_b = _scores(space, batch, a), _scores(space, batch, b)
    both = _scores(space, batch, [(a, 0.7), (b, 0.3)])
    for name in ("diswot_map", "diswot_resnet_trained", "kd"):
        assert both[name] == pytest.approx(0.7 * alone_a[name] + 0.3 * alone_b[name], rel=1e-6)
        assert alone_a[name] != alone_b[name]  # the two teachers do differ
    assert both["params"] == alone_a["params"]  # a teacher-free proxy is scored once


def test_weights_are_normalised_and_zero_weights_dropped():
    assert teacher_members("a.pt") == [("a.pt", 1.0)]
    assert teacher_members([("a.pt", 3), ("b.pt", 1), ("c.pt", 0)]) == [("a.pt", 0.75), ("b.pt", 0.25)]
    for bad, message in (([("a.pt", 0), ("b.pt", 0)], "sum to zero"), ([("a.pt", -1)], ">= 0"),
                         ([("a.pt", float("nan"))], ">= 0"), ([], "at least one")):  # fmt: skip
        with pytest.raises(DiswotError, match=message):
            teacher_members(bad)


def test_the_store_key_names_the_whole_set(tmp_path, cifar10_train):
    space = get_space("resnet-depth")
    paths = []
    for i, name in enumerate(("resnet20", "resnet8")):
        torch.manual_seed(i)
        paths.append(save_checkpoint(tmp_path / f"{name}.pt", build_model(name), name, 10))
    a, b = (str(p) for p in paths)

    def key(teacher):
        setup = scoring_setup(space, ScoringConfig(cifar10_train, teacher=teacher, batch_size=16), ["kd"])
        return setup.teacher_key

    single = key(a)
    assert key([(a, 1.0), (b, 0.0)]) == single  # the same scores, so the same store entries
    keys = {single, key(b), key([(a, 0.5), (b, 0.5)]), key([(a, 0.7), (b, 0.3)]), key([(b, 0.7), (a, 0.3)])}
    assert len(keys) == 5  # no two different sets share a key
    assert teacher_set_fingerprint([("x", 1.0)]) == "x"


def test_teachers_with_different_class_counts_are_refused(tmp_path, cifar10_train):
    ten = save_checkpoint(tmp_path / "ten.pt", build_model("resnet8"), "resnet8", 10)
    hundred = save_checkpoint(
        tmp_path / "hundred.pt", build_model("resnet8", num_classes=100), "resnet8", 100
    )
    with pytest.raises(DiswotError, match="class"):
        pair = [(str(ten), 1), (str(hundred), 1)]
        scoring_setup(
            get_space("resnet-depth"), ScoringConfig(cifar10_train, teacher=pair, batch_size=16), ["kd"]
        )


def test_search_and_bench_take_a_repeated_teacher_flag(tmp_path, capsys):
    from diswot.cli import main
    from diswot.search import SearchResult

    a = save_checkpoint(tmp_path / "a.pt", build_model("resnet8"), "resnet8", 10)
    args = ["search", "--space", "resnet-depth", "--proxy", "diswot_map_trained", "--evaluations", "2",
            "--batch-size", "16", "--no-plots",
            "--teacher", f"{a}:0.7", "--teacher", "resnet20:0.3"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    assert "against the teachers" in capsys.readouterr().out
    result = SearchResult.load(tmp_path / "run")
    assert [t["weight"] for t in result.teachers] == pytest.approx([0.7, 0.3])
    assert result.teachers[1]["teacher"] == "resnet20"
    # bad weights: one line, exit 2, nothing written
    for bad in ([f"{a}:0", "resnet20:0"], [f"{a}:-1"], [f"{a}:1,5"]):
        out = tmp_path / "bad"
        assert main([*args[:-4], *(x for t in bad for x in ("--teacher", t)), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and not out.exists()
