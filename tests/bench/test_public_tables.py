"""DisWOT's public distillation table: it loads as a ground truth of the resnet-depth space."""

import csv
from pathlib import Path

import pytest

from diswot.bench.ground_truth import read_ground_truth
from diswot.cli import main
from diswot.models import count_params
from diswot.search_spaces import get_space

TABLE = Path(__file__).resolve().parents[2] / "benchmarks/ground_truth/diswot_resnet_depth_cifar100.csv"


def test_the_public_table_loads_with_all_64_students():
    space = get_space("resnet-depth")
    truth = read_ground_truth(TABLE, space, ["kd_accuracy", "vanilla_accuracy"])
    assert truth.keys() == {space.encode(a) for a in space.enumerate()}
    kd, vanilla = truth.values["kd_accuracy"], truth.values["vanilla_accuracy"]
    assert kd["333"] == pytest.approx(70.76) and vanilla["333"] == pytest.approx(69.57)  # ResNet-20
    assert max(kd, key=kd.get) == "557" and min(kd, key=kd.get) == "111"  # as published: 74.86 and 61.87


def test_resnet_depth_builds_the_authors_networks():
    space = get_space("resnet-depth")
    with open(TABLE, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        model = space.build(space.decode(row["arch"]), num_classes=100)
        assert count_params(model) == int(row["official_params"]), row["arch"]


def test_a_table_with_an_arch_outside_the_space_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "truth.csv"
    bad.write_text(TABLE.read_text().replace("\n113,", "\n213,", 1))
    args = ["--space", "resnet-depth", "--ground-truth", str(bad), "--proxies", "params", "--num-archs=all"]
    code = main(["bench", "proxies", *args, "--out", str(tmp_path / "out"), "--no-plots"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert f"{bad}:3: architecture '213'" in err[0] and "choose one of [1, 3, 5, 7]" in err[0]
