"""Several teachers: ``--teacher SPEC[:WEIGHT]`` parsing, the teacher set, the per-teacher loss
(weights 1 and 0 give exactly the single-teacher loss and training), the result card, and the
one-line errors of the CLI."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from diswot import build_model
from diswot.cli import main
from diswot.data import load_sample
from diswot.distill import DISTILLERS, Recipe, StudentRun, Trainer
from diswot.distill import trainer as trainer_module
from diswot.distill.distillers import TeacherSetLoss, parse_distillers
from diswot.errors import DiswotError
from diswot.export import load_source
from diswot.models import FeatureExtractor
from diswot.models.checkpoint import Teacher, save_checkpoint
from diswot.models.teachers import TeacherSet, TeacherSetError, parse_teacher_args


def _net(seed: int, num_classes: int = 10, name: str = "resnet8") -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(name, num_classes).eval()


def test_weights_default_to_one_and_are_normalised():
    assert parse_teacher_args(["a.pt"]) == [("a.pt", 1.0)]
    assert parse_teacher_args(["a.pt", "b.pt"]) == [("a.pt", 0.5), ("b.pt", 0.5)]
    assert parse_teacher_args(["a.pt:3", "b.pt:1"]) == [("a.pt", 0.75), ("b.pt", 0.25)]
    assert parse_teacher_args(["a.pt:1", "b.pt:0"]) == [("a.pt", 1.0), ("b.pt", 0.0)]


def test_a_colon_stays_in_the_spec_unless_a_number_follows():
    cell = "nb201:|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    assert parse_teacher_args([cell]) == [(cell, 1.0)]
    assert parse_teacher_args(["resnet-depth:135"]) == [
        ("resnet-depth:135", 1.0)
    ]  # a space key, not a weight
    assert parse_teacher_args(["resnet-depth:135:3", "b.pt"])[0] == ("resnet-depth:135", 0.75)
    assert parse_teacher_args(["C:/runs/t.pt:2"]) == [("C:/runs/t.pt", 1.0)]


@pytest.mark.parametrize(
    ("texts", "problem"),
    [
        (["a.pt:0.5x"], "cannot read the weight"),
        (["a.pt:-1"], ">= 0"),
        (["a.pt:nan"], "finite"),
        (["a.pt:0", "b.pt:0"], "sum to zero"),
        (["a.pt", "a.pt:2"], "listed twice"),
        ([], "no teacher"),
    ],
)
def test_bad_weights_are_one_line_errors(texts, problem):
    with pytest.raises(TeacherSetError, match=problem) as info:
        parse_teacher_args(texts)
    assert "\n" not in str(info.value)


def test_teachers_with_different_class_counts_are_refused():
    ten = Teacher(_net(0, 10), "resnet8", 10, "a.pt")
    five = Teacher(_net(1, 5), "resnet8", 5, "b.pt")
    with pytest.raises(TeacherSetError, match=r"different class counts \(a.pt: 10, b.pt: 5\)"):
        TeacherSet((ten, five), (0.5, 0.5))


def _features(net, batch):
    return FeatureExtractor(net)(batch[0])


@pytest.mark.parametrize("distillers", ["kd", "kd:0.9,sp:3000,at,semantic"])
def test_weights_one_and_zero_give_exactly_the_single_teacher_loss(distillers):
    batch = load_sample().balanced_batch(40, seed=0)
    student = _features(_net(0), batch)
    a, b = _features(_net(1), batch), _features(_net(2, name="resnet20"), batch)
    terms = parse_distillers(distillers)
    single = TeacherSetLoss(terms, student, [a], [1.0])(student, [a], batch[1])
    pair = TeacherSetLoss(terms, student, [a, b], [1.0, 0.0])(student, [a, b], batch[1])
    assert torch.equal(single, pair)
    both = TeacherSetLoss(terms, student, [a, b], [0.5, 0.5])(student, [a, b], batch[1])
    assert not torch.equal(single, both)  # the second teacher does count when it has weight


def test_training_with_a_zero_weight_second_teacher_is_bit_identical(tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module, "write_metrics", lambda run, plot=True: None)  # no figures: speed
    train, test = load_sample().split(0.2)
    train, test = train.subset(range(80)), test.subset(range(20))
    recipe = Recipe(epochs=1, batch_size=40)
    weights = []
    for name, teachers in (("one", [(_net(1), 1.0)]), ("two", [(_net(1), 1.0), (_net(2), 0.0)])):
        run = StudentRun("s", "resnet8", _net(0).train(), tmp_path / name, distillers="kd,sp")
        Trainer([run], train, test, recipe, teacher=teachers, progress=False).fit()
        weights.append(run.model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_a_single_teacher_distiller_refuses_a_teacher_set(monkeypatch):
    spec = dataclasses.replace(DISTILLERS.get("kd"), multi_teacher=False)
    original = DISTILLERS.get
    monkeypatch.setattr(DISTILLERS, "get", lambda name: spec if name == "kd" else original(name))
    batch = load_sample().balanced_batch(8, seed=0)
    s, t = _features(_net(0), batch), _features(_net(1), batch)
    TeacherSetLoss([("kd", 1.0)], s, [t], [1.0])  # one teacher: fine
    with pytest.raises(DiswotError, match="cannot be applied per teacher"):
        TeacherSetLoss([("kd", 1.0)], s, [t, t], [0.5, 0.5])


def test_distill_cli_lists_every_teacher_with_its_weight(tmp_path, tiny_distill):
    out = tmp_path / "run"
    code = main([*tiny_distill, "--teacher", "resnet8:0.7", "--teacher", "resnet14:0.3", "--out", str(out)])
    assert code == 0
    card = json.loads((out / "result.json").read_text())
    assert card["teachers"] == [
        {"teacher": "resnet8 (random init)", "weight": pytest.approx(0.7)},
        {"teacher": "resnet14 (random init)", "weight": pytest.approx(0.3)},
    ]
    # what `diswot export` puts on its card: read from the run's result.json
    assert load_source(out).facts["teachers"] == card["teachers"]


def test_distill_cli_bad_teacher_sets_exit_2_with_one_line(tmp_path, capsys):
    ten, five = tmp_path / "ten.pt", tmp_path / "five.pt"
    save_checkpoint(ten, _net(0, 10), "resnet8", 10)
    save_checkpoint(five, _net(1, 5), "resnet8", 5)
    save_checkpoint(tmp_path / "five2.pt", _net(2, 5), "resnet8", 5)
    cases = [
        (["--teacher", f"{ten}:1,5"], "cannot read the weight"),
        (["--teacher", f"{ten}:0", "--teacher", f"{five}:0"], "sum to zero"),
        (["--teacher", str(ten), "--teacher", str(five)], "different class counts"),
        (["--teacher", str(five), "--teacher", str(tmp_path / "five2.pt")], "classifies 5 classes"),
    ]
    for teachers, problem in cases:
        out = tmp_path / "out"
        code = main(["distill", *teachers, "--student", "resnet8", "--epochs", "1", "--out", str(out)])
        err = capsys.readouterr().err.strip()
        assert code == 2 and problem in err and "\n" not in err, err
        assert not out.exists()  # nothing half-written


def test_train_teacher_soft_targets_options(tmp_path, capsys):
    assert Recipe(label_smoothing=0.2).label_smoothing == 0.2
    for eps in (-0.1, 1.0):
        with pytest.raises(DiswotError, match="label smoothing must lie in"):
            Recipe(label_smoothing=eps)
    out = tmp_path / "t.pt"
    code = main(["train-teacher", "--model", "resnet8", "--out", str(out), "--label-smoothing", "1.5"])
    assert code == 2 and "label smoothing" in capsys.readouterr().err
    code = main(["train-teacher", "--model", "resnet8", "--out", str(out), "--distill-from", "a.pt:-1"])
    assert code == 2 and ">= 0" in capsys.readouterr().err and not out.exists()
