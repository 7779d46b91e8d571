import json
import random

import pytest

from diswot.cli import main
from diswot.search_spaces import get_space


def test_bench_proxies_end_to_end_and_cache(tmp_path, nb201_table, shared_data, capsys):
    out = tmp_path / "bench"
    args = ["bench", "proxies", "--space", "nb201", "--ground-truth", str(nb201_table),
            "--proxies", "params,nwot,params+nwot", "--num-archs", "20", "--dataset", "cifar10",
            "--data-root", str(shared_data), "--batch-size", "16", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    report = json.loads((out / "results.json").read_text())
    assert report["space"] == "nb201" and report["num_archs"] == 20
    assert set(report["proxies"]) == {"params", "nwot", "params+nwot"}
    for entry in report["proxies"].values():
        assert {"kendall", "spearman", "pearson", "top1_accuracy", "ms_per_arch"} <= set(entry)
        assert -1 <= entry["kendall"] <= 1 and entry["top1_accuracy"] > 0
    assert report["proxies"]["params"]["spearman"] > 0.3  # params ranks NB201 cells well
    assert (out / "results.csv").exists() and (out / "scatter_params.png").exists()
    assert main(args) == 0  # a rerun reuses every cached score
    assert json.loads((out / "results.json").read_text())["cache_hits"] == 40
    capsys.readouterr()


def test_bench_bad_input(tmp_path, nb201_table, capsys):
    no_arch = tmp_path / "gt.csv"
    no_arch.write_text("name,accuracy\nx,1\n")
    base = ["bench", "proxies", "--space", "nb201", "--out", str(tmp_path / "o"), "--num-archs", "5"]
    assert main([*base, "--ground-truth", str(no_arch)]) == 2
    assert "no architecture column" in capsys.readouterr().err
    assert main([*base, "--ground-truth", str(nb201_table), "--proxies", "nope"]) == 2
    assert "unknown proxy 'nope'" in capsys.readouterr().err
    other = tmp_path / "other.csv"
    other.write_text("arch,accuracy\n" + "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,10\n")
    assert main([*base, "--ground-truth", str(other)]) == 2
    assert "appear in the ground truth" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--ground-truth", str(nb201_table), "--batch-size", "-3"])


def test_bench_on_text_without_a_text_teacher_is_one_clear_line(tmp_path, shared_data, capsys):
    space = get_space("autodistil-tiny")
    rng = random.Random(0)  # the bench samples its archs from --seed 0: give them all a truth
    archs = {space.encode(space.sample(rng)) for _ in range(50)}
    truth = tmp_path / "gt.csv"
    truth.write_text("arch,accuracy\n" + "".join(f"{a},{i}\n" for i, a in enumerate(sorted(archs))))
    args = ["bench", "proxies", "--space", "autodistil-tiny", "--ground-truth", str(truth),
            "--num-archs", "8", "--budget-bands", "2", "--proxies", "nwot,diswot", "--dataset", "sst2",
            "--data-root", str(shared_data), "--out", str(tmp_path / "o")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "sst2 is text: give a Transformer teacher" in err and len(err.strip().splitlines()) == 1


def test_ground_truth_reader_formats(tmp_path, nb201_table):
    from diswot.bench.ground_truth import read_ground_truth
    from diswot.errors import DataError
    from diswot.search_spaces import get_space

    space = get_space("nb201")
    table = read_ground_truth(nb201_table, space, ["CIFAR10TestAccuracy200Epochs"])
    assert len(table.keys()) == 15625
    assert max(table.values["CIFAR10TestAccuracy200Epochs"].values()) == pytest.approx(94.37, abs=0.01)
    simple = tmp_path / "kd.csv"
    simple.write_text("arch,kd_accuracy,note\n333,91.5,x\n153,90.1,y\n")
    gt = read_ground_truth(simple, get_space("resnet-depth"))
    assert gt.columns == ["kd_accuracy"] and gt.values["kd_accuracy"]["153"] == 90.1
    with pytest.raises(DataError, match="does not exist"):
        read_ground_truth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", space)


def test_the_cache_never_serves_scores_of_an_older_proxy_definition(tmp_path):
    from diswot.proxies import PROXIES
    from diswot.scoring.store import ScoreStore

    cache = ScoreStore(tmp_path / "c.sqlite", "nb201", "data", "teacher")
    assert PROXIES.get("diswot").version >= 2 and PROXIES.get("nwot").version == 1
    with cache.conn:  # what a diswot of version 1 left behind
        cache.conn.execute("INSERT INTO scores VALUES ('nb201', 'a', 'diswot', 'data', 'teacher', -0.1, 1)")
    assert cache.get("a", ["diswot"]) == {}
    cache.put("a", {"diswot": (-0.5, 2.0), "nwot": (700.0, 3.0)})
    assert cache.get("a", ["diswot", "nwot"]) == {"diswot": (-0.5, 2.0), "nwot": (700.0, 3.0)}


def test_the_ground_truth_file_is_read_once_per_bench(tmp_path, monkeypatch):
    """Truth columns, seed columns (noise ceiling) and the gain column all come from one read."""
    import builtins

    space = get_space("resnet-depth")
    archs = sorted(space.encode(a) for a in space.enumerate())[:12]
    truth = tmp_path / "gt.csv"
    rows = [f"{a},{60 + i},{60 + i + (i % 3)},{59 + i},{50 + i % 4}" for i, a in enumerate(archs)]
    truth.write_text("arch,kd,kd_seed0,kd_seed1,vanilla\n" + "\n".join(rows) + "\n")
    opened = []
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if str(file) == str(truth):
            opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    args = ["bench", "proxies", "--space", "resnet-depth", "--ground-truth", str(truth), "--num-archs", "all",
            "--proxies", "params,flops", "--gain-column", "vanilla", "--budget-bands", "2",
            "--bootstrap", "0", "--no-plots", "--out", str(tmp_path / "o")]  # fmt: skip
    assert main(args) == 0
    report = json.loads((tmp_path / "o" / "results.json").read_text())
    assert report["protocol"]["noise_ceiling"]["seed_columns"] == ["kd_seed0", "kd_seed1"]
    assert "kd-vanilla" in report["ground_truth"]["columns"]
    assert len(opened) == 1
