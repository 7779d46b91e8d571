"""Transfer sets: the selection rules keep their documented fractions, the trainer distils on the
kept images and reports what it kept, class subsets of a dataset, and the one-line errors."""

from __future__ import annotations

import csv

import pytest
import torch

from diswot import build_model
from diswot.cli import main
from diswot.data import ImageDataset, load_dataset, load_sample
from diswot.distill import Recipe, StudentRun, Trainer
from diswot.distill.transfer import SELECTIONS, TransferConfig, TransferSet, keep_count
from diswot.errors import DataError, DiswotError
from diswot.models import FeatureExtractor


@pytest.fixture(scope="module")
def predictions():
    """Teacher and student softmax of two random-init networks on 64 real images."""
    images, _ = load_sample().balanced_batch(64, seed=0)
    probs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        with torch.no_grad():
            probs.append(torch.softmax(FeatureExtractor(build_model("resnet8").eval())(images).logits, 1))
    return probs


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.8])
@pytest.mark.parametrize("rule", ["kd3", "teacher_entropy"])
def test_each_rule_keeps_the_documented_fraction(predictions, rule, fraction):
    teacher, student = predictions
    count = keep_count(64, fraction)
    kept = SELECTIONS.get(rule)(teacher, student, count)
    assert len(kept) == count == round(64 * fraction)
    assert len(set(kept.tolist())) == count and torch.equal(kept, kept.sort().values)
    score = ((teacher + student) / 2).amax(1) if rule == "kd3" else (teacher * teacher.log()).sum(1)
    dropped = torch.ones(64, dtype=torch.bool)
    dropped[kept] = False
    assert score[kept].min() >= score[dropped].max()  # the most confident ones are the kept ones


def test_all_keeps_everything_whatever_the_fraction(predictions):
    teacher, student = predictions
    for fraction in (0.1, 1.0):
        assert SELECTIONS.get("all")(teacher, student, keep_count(64, fraction)).tolist() == list(range(64))


def test_class_subsets_of_a_dataset():
    full, five = load_sample(), load_dataset("sample:classes=0-4")
    assert five.classes == full.classes[:5] and len(five) == 150 and five.class_counts() == [30] * 5
    picked = load_dataset("sample:classes=7,2")
    assert picked.classes == [full.classes[7], full.classes[2]]
    assert torch.equal(picked.images[picked.labels == 0], full.images[full.labels == 7])
    for bad, problem in [
        ("sample:classes=a-b", "cannot read"),
        ("sample:classes=3,3", "distinct"),
        ("sample:classes=12", "no class 12"),
        ("sample:size=3", "unknown dataset option"),
    ]:
        with pytest.raises(DataError, match=problem):
            load_dataset(bad)


def _transfer_fit(tmp_path, select, keep):
    task = load_dataset("sample:classes=0-4")
    train, test = task.split(0.2)
    test = test.subset(range(10))
    transfer = TransferSet.build(
        TransferConfig("sample", select=select, keep=keep, only=True), train, load_sample()
    )
    torch.manual_seed(0)
    run = StudentRun("s", "resnet8", build_model("resnet8", 5), tmp_path, distillers="kd")
    torch.manual_seed(1)
    teacher = build_model("resnet8", 5)
    Trainer(
        [run], train, test, Recipe(epochs=1, batch_size=40), teacher, progress=False, transfer=transfer
    ).fit()
    return run.metrics[0]


def test_the_trainer_reports_the_kept_fraction_and_the_in_task_share(tmp_path):
    everything = _transfer_fit(tmp_path / "all", "all", 1.0)
    assert everything["kept_fraction"] == 1.0
    assert 0.35 < everything["kept_in_task"] < 0.65  # the sample is half task classes
    assert everything["ce"] == 0.0 and everything["distill"] > 0  # no labels read: distillation only
    kd3 = _transfer_fit(tmp_path / "kd3", "kd3", 0.25)
    assert kd3["kept_fraction"] == 0.25 and 0 <= kd3["kept_in_task"] <= 1


def test_a_transfer_set_of_other_images_is_refused():
    sample = load_sample()
    small = ImageDataset(sample.images[:, :, ::2, ::2].contiguous(), sample.labels, sample.classes, "small")
    with pytest.raises(DataError, match="images of 3x16x16 but the student reads 3x32x32"):
        TransferSet.build(TransferConfig("small"), sample, small)


def test_bad_transfer_options():
    with pytest.raises(DiswotError, match="--keep must be a fraction"):
        TransferConfig("sample", keep=0)
    with pytest.raises(DiswotError, match=r"unknown selection rule .kd4.*diswot list selections"):
        TransferConfig("sample", select="kd4")


def test_distill_cli_transfer_runs_and_rejects_text(tmp_path, shared_data, capsys, tiny_distill):
    out = tmp_path / "ok"
    transfer = ["--dataset", "sample:classes=0-4", "--transfer", "sample", "--select", "teacher_entropy",
                "--keep", "0.5"]  # fmt: skip
    code = main([*tiny_distill, "--teacher", "resnet8", *transfer, "--out", str(out)])
    assert code == 0
    with open(out / "metrics.csv") as f:
        row = next(csv.DictReader(f))
    assert float(row["kept_fraction"]) == 0.5 and float(row["ce"]) > 0  # beside the labelled set
    capsys.readouterr()
    bad = tmp_path / "bad"
    text = ["--transfer", "sst2", "--transfer-root", str(shared_data)]
    code = main([*tiny_distill, "--teacher", "resnet8", "--out", str(bad), *text])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "must be images" in err and "\n" not in err
    assert not bad.exists()
    code = main(
        ["distill", "--teacher", "resnet8", "--student", "resnet8", "--transfer-only", "--out", str(bad)]
    )
    assert code == 2 and "need --transfer" in capsys.readouterr().err
