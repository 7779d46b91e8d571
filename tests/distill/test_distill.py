"""Distillation: distillers, the shared trainer, resume, checkpoints, CLI, ground truth, bad input."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from diswot import build_model, load_teacher, similarity
from diswot.cli import main
from diswot.data import load_sample
from diswot.distill import (
    DistillationLoss,
    Recipe,
    StudentRun,
    Trainer,
    distill,
    parse_distillers,
)
from diswot.distill import trainer as trainer_module
from diswot.distill.api import student_specs
from diswot.errors import DataError, DiswotError, InvalidArchError, UnknownNameError
from diswot.models import FeatureExtractor
from diswot.models.checkpoint import save_checkpoint
from diswot.search.result import Student

QUICK = Recipe(epochs=2, batch_size=40, seed=0)


def features_of(model, images):
    model.train()
    return FeatureExtractor(model)(images)


@pytest.fixture(scope="module")
def batch():
    images, labels = load_sample().balanced_batch(20, seed=0)
    return images, labels


def test_distillers_share_the_proxies_similarity(batch):
    images, labels = batch
    torch.manual_seed(1)
    s, t = features_of(build_model("resnet8"), images), features_of(build_model("resnet20"), images)
    loss = DistillationLoss([("sp", 1.0), ("kd", 1.0)], s, t)
    loss(s, t, labels)
    assert loss.last_parts["sp"] == pytest.approx(
        float(similarity.relation_distance(s.feature_map, t.feature_map).detach())
    )
    kd = similarity.kd_divergence(s.logits, t.logits).detach()
    assert loss.last_parts["kd"] == pytest.approx(float(kd))


def test_parse_distillers():
    assert parse_distillers("kd:0.9,sp:3000") == [("kd", 0.9), ("sp", 3000.0)]
    assert parse_distillers("kd") == [("kd", 1.0)]
    assert parse_distillers("none") == []
    with pytest.raises(DiswotError, match="NAME:WEIGHT"):
        parse_distillers("kd:heavy")
    with pytest.raises(UnknownNameError, match="Did you mean 'kd'"):
        parse_distillers("kdd")
    with pytest.raises(DiswotError, match="twice"):
        parse_distillers("kd,kd:2")


def test_a_short_run_on_real_cifar10_beats_chance(cifar10_train, shared_data, tmp_path):
    from diswot.data import load_dataset

    train = cifar10_train.subset(cifar10_train.balanced_indices(2000, seed=0))
    test = load_dataset("cifar10", shared_data, train=False)
    test = test.subset(test.balanced_indices(1000, seed=0))
    torch.manual_seed(0)
    run = StudentRun("resnet8", "resnet8", build_model("resnet8"), out=tmp_path)
    summary = Trainer([run], train, test, Recipe(epochs=3, batch_size=64), progress=False).fit()[0]
    assert summary["test_accuracy"] > 25.0  # chance is 10%


def test_several_students_share_one_teacher_pass_per_batch(tmp_path):
    data = load_sample()
    train, test = data.split(0.2)
    teacher = build_model("resnet8")
    calls = []
    teacher.register_forward_hook(lambda *_: calls.append(1))
    runs = [StudentRun(s, s, build_model(s), tmp_path / s, distillers="kd") for s in ("resnet8", "resnet14")]
    Trainer(runs, train, test, Recipe(epochs=1, batch_size=40), teacher=teacher, progress=False).fit()
    steps = len(train) // 40
    assert len(calls) == steps + 1  # one per batch, plus one to size the distillers


def test_resume_after_a_kill_equals_the_uninterrupted_run(tmp_path, monkeypatch):
    recipe = Recipe(epochs=3, batch_size=40, seed=3)
    whole = distill(
        "resnet8", ["resnet8"], "kd,fitnet", recipe=recipe, out=tmp_path / "whole", progress=False
    )

    original = trainer_module.write_metrics

    def killed_after_first_epoch(run, *args, **kwargs):
        original(run, *args, **kwargs)
        if len(run.metrics) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module, "write_metrics", killed_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        distill("resnet8", ["resnet8"], "kd,fitnet", recipe=recipe, out=tmp_path / "cut", progress=False)
    monkeypatch.setattr(trainer_module, "write_metrics", original)
    with pytest.raises(DiswotError, match="--resume"):
        distill("resnet8", ["resnet8"], "kd,fitnet", recipe=recipe, out=tmp_path / "cut", progress=False)
    resumed = distill("resnet8", ["resnet8"], "kd,fitnet", recipe=recipe, out=tmp_path / "cut", resume=True,
                      progress=False)  # fmt: skip
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "cut" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed[0]["test_accuracy"] == whole[0]["test_accuracy"]
    rows = list(csv.DictReader(open(tmp_path / "cut" / "metrics.csv")))  # noqa: SIM115
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]


def test_checkpoints_round_trip_and_serve_as_teachers(tmp_path, capsys):
    assert main(["train-teacher", "--model", "resnet8", "--epochs", "1", "--batch-size", "40",
                 "--out", str(tmp_path / "t.pt")]) == 0  # fmt: skip
    assert "test top-1" in capsys.readouterr().out
    teacher = load_teacher(tmp_path / "t.pt", num_classes=10)
    assert teacher.pretrained and teacher.spec == "resnet8"
    raw = torch.load(tmp_path / "t.pt", weights_only=True)
    assert (
        raw["meta"]["test_accuracy"]
        == json.loads((tmp_path / "t_run" / "result.json").read_text())["test_accuracy"]
    )
    for name in ("metrics.csv", "metrics.png", "last.pt"):
        assert (tmp_path / "t_run" / name).exists()
    # the default fitness (NB201's calibrated aggregate) on a small reference sample: the test is
    # about the trained teacher, not the size of the calibration
    code = main(["search", "--teacher", str(tmp_path / "t.pt"), "--evaluations", "3", "--population", "3",
                 "--batch-size", "20", "--reference-size", "8", "--no-plots",
                 "--out", str(tmp_path / "s")])  # fmt: skip
    assert code == 0
    found = str(tmp_path / "s" / "result.json")
    code = main(["distill", "--teacher", str(tmp_path / "t.pt"), "--student", found, "--top-k", "2",
                 "--distiller", "kd:0.9,sp", "--epochs", "1", "--batch-size", "40",
                 "--out", str(tmp_path / "d")])  # fmt: skip
    assert code == 0
    results = sorted((tmp_path / "d").glob("*/result.json"))
    assert len(results) == 2
    assert all(json.loads(p.read_text())["model"].startswith("nb201:") for p in results)


def test_kd_ground_truth_writes_a_table_and_skips_finished_archs(tmp_path, monkeypatch):
    teacher = tmp_path / "t.pt"
    save_checkpoint(teacher, build_model("resnet8"), "resnet8", 10)
    args = ["bench", "kd-ground-truth", "--teacher", str(teacher), "--num-archs", "2", "--epochs", "1",
            "--batch-size", "40", "--vanilla", "--group-size", "1",
            "--out", str(tmp_path / "gt.csv")]  # fmt: skip
    assert main(args) == 0
    rows = list(csv.DictReader(open(tmp_path / "gt.csv")))  # noqa: SIM115
    assert len(rows) == 2 and {"arch", "kd_accuracy", "vanilla_accuracy"} <= rows[0].keys()
    assert all(0 <= float(r["kd_accuracy"]) <= 100 for r in rows)

    def no_training(*_a, **_k):
        raise AssertionError("a finished architecture was trained again")

    monkeypatch.setattr("diswot.bench.kd_ground_truth.distill", no_training)
    assert main(args) == 0


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    teacher = tmp_path / "t.pt"
    save_checkpoint(teacher, build_model("resnet8", num_classes=100), "resnet8", 100)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    cases = [
        (["--teacher", "resnet8", "--student", "nb201:333"], "malformed NB201"),
        (["--teacher", "resnet8", "--student", "resnet-depth:999"], "resnet-depth"),
        (["--teacher", str(teacher), "--student", "resnet8"], "classifies 100 classes"),
        (["--teacher", str(corrupt), "--student", "resnet8"], "cannot read checkpoint"),
        (["--teacher", "resnet8", "--student", "resnet8", "--distiller", "kd:x"], "NAME:WEIGHT"),
        (
            ["--teacher", "resnet8", "--student", "resnet8", "--train-subset", "3"],
            "below one image per class",
        ),
    ]
    for extra, message in cases:
        assert main(["distill", "--epochs", "1", "--out", str(tmp_path / "d"), *extra]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (extra, err)
        assert not (tmp_path / "d").exists(), extra


def test_empty_or_tiny_data_is_refused(tmp_path):
    data = load_sample()
    with pytest.raises(DataError, match="holds no images"):
        data.subset([])
    run = StudentRun("resnet8", "resnet8", build_model("resnet8"), tmp_path / "r")
    with pytest.raises(DataError, match="fewer than one batch"):
        Trainer([run], data.subset(range(10)), data, QUICK, progress=False)
    with pytest.raises(InvalidArchError):
        build_model(student_specs("nb201:|x|")[0])
    with pytest.raises(DiswotError, match=r"result\.json"):
        student_specs("resnet8", top_k=3)


def test_a_student_of_a_non_default_space_reloads_from_its_checkpoint(tmp_path):
    """model.pt records the space's options, so a student of a shallower NB201 rebuilds as trained."""
    student = Student("nb201", "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|"
                      "nor_conv_3x3~2|", {"channels": 8, "cells": 1})  # fmt: skip
    recipe = Recipe(epochs=1, batch_size=40)
    [summary] = distill("resnet8", [student], "none", recipe=recipe, out=tmp_path / "d", progress=False)
    assert summary["space_options"] == {"channels": 8, "cells": 1}
    reloaded = load_teacher(tmp_path / "d" / "model.pt", num_classes=10)
    trained = torch.load(tmp_path / "d" / "model.pt", weights_only=True)["state_dict"]
    assert reloaded.meta["space_options"] == {"channels": 8, "cells": 1}
    assert all(torch.equal(v, trained[k]) for k, v in reloaded.model.state_dict().items())
    with pytest.raises(DiswotError, match="no space options"):
        build_model("resnet8", space_options={"cells": 1})
