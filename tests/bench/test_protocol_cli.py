"""``diswot bench proxies`` with the ranking protocol: bands, budget, noise ceiling, gain, bad input."""

import json
import random

import numpy as np
import pytest

from diswot.cli import main
from diswot.search_spaces import get_space

N = 16


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """A KD ground truth of 16 NB201 cells with two seeds, their mean, and a vanilla accuracy."""
    space = get_space("nb201")
    rng = random.Random(0)
    archs = [space.encode(space.sample(rng)) for _ in range(N)]
    noise = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("gt") / "kd.csv"
    lines = ["arch,kd_accuracy,kd_accuracy_seed0,kd_accuracy_seed1,vanilla_accuracy,note"]
    for arch in archs:
        size = space.cost(space.decode(arch)).params / 1e5
        s0, s1 = size + noise.normal(0, 1), size + noise.normal(0, 1)
        lines.append(f"{arch},{(s0 + s1) / 2:.4f},{s0:.4f},{s1:.4f},{size - 1 + noise.normal(0, 1):.4f},x")
    path.write_text("\n".join(lines) + "\n")
    return path


def _args(table, out, *extra):
    return ["bench", "proxies", "--space", "nb201", "--ground-truth", str(table), "--num-archs", "all",
            "--proxies", "params,flops", "--out", str(out), "--budget-bands", "2", "--bootstrap", "200",
            *extra]  # fmt: skip


def test_protocol_fields_noise_ceiling_and_gain(tmp_path, table, capsys):
    out = tmp_path / "bench"
    assert main(_args(table, out, "--gain-column", "vanilla_accuracy")) == 0
    screen = capsys.readouterr().out
    assert "wb tau" in screen and "regret@1" in screen and "noise ceiling (kd_accuracy_seed0" in screen
    report = json.loads((out / "results.json").read_text())
    assert report["ground_truth"]["columns"] == ["kd_accuracy", "kd_accuracy-vanilla_accuracy"]
    protocol = report["protocol"]
    assert sum(protocol["band_sizes"]) == N and protocol["budget_bands"] == 2  # equal FLOPs share a band
    ceiling = protocol["noise_ceiling"]
    assert ceiling["seed_columns"] == ["kd_accuracy_seed0", "kd_accuracy_seed1"]
    assert ceiling["kendall_lo"] <= ceiling["kendall"] <= ceiling["kendall_hi"]
    params = report["proxies"]["params"]
    for name in ("kendall", "spearman", "within_budget_kendall"):
        assert params[f"{name}_lo"] <= params[name] <= params[f"{name}_hi"]
    assert params["spearman"] > 0.5 and params["partial_spearman"] == 0.0
    assert params["top1_regret"] >= 0 and 0 <= params["ndcg_at_10"] <= 1
    assert "within_budget_kendall" in params["by_column"]["kd_accuracy-vanilla_accuracy"]
    frame = (out / "protocol.csv").read_text().splitlines()
    assert len(frame) == 1 + 2 * 2 and "top5_regret" in frame[0]
    assert (out / "scatter_params.png").exists()


def test_budget_bounds_score_only_archs_within(tmp_path, table, capsys):
    out = tmp_path / "small"
    assert main([*_args(table, out, "--no-plots", "--seed-columns", "kd_accuracy_seed1,kd_accuracy_seed0"),
                 "--max-flops", "60M"]) == 0  # fmt: skip
    report = json.loads((out / "results.json").read_text())
    assert 0 < report["outside_budget"] < N and report["protocol"]["budget"] == {"max_flops": 6e7}
    assert report["protocol"]["noise_ceiling"]["seed_columns"] == ["kd_accuracy_seed1", "kd_accuracy_seed0"]
    assert "outside the budget" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "rows", "message"),
    [
        (["--budget-bands", "0"], None, "--budget-bands must be at least 1"),
        (["--budget-bands", "40"], None, "16 architectures cannot fill 40 FLOPs bands; lower --budget-bands"),
        (["--gain-column", "note"], None, "column 'note' holds 'x', not a number; fix the cell"),
        (["--gain-column", "empty"], ["empty"], "gain column 'empty'"),
        (["--seed-columns", "kd_accuracy_seed0"], None, "compares at least two seeds"),
        (["--max-flops", "1K"], None, "fit the budget; widen"),
        (["--max-params", "lots"], None, "--max-params 'lots' is not a number"),
        (["--top-k", "0"], None, "--top-k must be at least 1"),
        (["--bootstrap", "-1"], None, "--bootstrap must be >= 0"),
        ([], ["dup"], "already appears on line 2; keep one row per architecture"),
        ([], ["nan"], "holds 'nan'; leave the cell empty"),
        ([], ["chance"], "'kd_accuracy' is 10.0 for every architecture scored"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, table, capsys, extra, rows, message):
    path = table
    if rows:
        lines = table.read_text().splitlines()
        if rows == ["empty"]:
            lines = [line + ("," if i else ",empty") for i, line in enumerate(lines)]
        elif rows == ["dup"]:
            lines.insert(2, lines[1])
        elif rows == ["chance"]:  # every student at chance: a dead teacher's table
            lines = [lines[0], *(",".join([r.split(",")[0], "10.0", *r.split(",")[2:]]) for r in lines[1:])]
        else:
            lines[3] = lines[3].replace(lines[3].split(",")[1], "nan", 1)
        path = tmp_path / "bad.csv"
        path.write_text("\n".join(lines) + "\n")
    assert main([*_args(path, tmp_path / "o", "--no-plots"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_undefined_correlations_print_as_dashes(tmp_path, table, capsys):
    """A seed column that is constant (one seed at chance) leaves the noise ceiling undefined:
    the table shows '-' for it instead of failing after the scoring."""
    lines = table.read_text().splitlines()
    constant = [lines[0], *(",".join([*r.split(",")[:3], "10.0", *r.split(",")[4:]]) for r in lines[1:])]
    path = tmp_path / "one_dead_seed.csv"
    path.write_text("\n".join(constant) + "\n")
    assert main(_args(path, tmp_path / "o", "--no-plots")) == 0
    screen = capsys.readouterr().out
    assert "noise ceiling (kd_accuracy_seed0, kd_accuracy_seed1): kendall -, spearman -" in screen


def test_a_constant_proxy_plots_and_tabulates_with_dashes(tmp_path):
    """A proxy that scores every arch the same has no correlation: '-' in its plot and row."""
    from diswot.bench import proxy_bench

    entry = {"kendall": None, "spearman": None, "pearson": None, "within_budget_kendall": None,
             "top1_regret": 0.0, "top1_accuracy": 90.0, "ms_per_arch": 1.0}  # fmt: skip
    archs = ["a", "b", "c"]
    proxy_bench._plot(tmp_path, archs, {"flat": [1.0, 1.0, 1.0]}, {"a": 90.0, "b": 91.0, "c": 92.0},
                      "acc", {"flat": entry}, np.array([1.0, 2.0, 3.0]), np.array([0, 0, 0]))  # fmt: skip
    assert (tmp_path / "scatter_flat.png").exists()
    row = proxy_bench.format_table({"proxies": {"flat": entry}}).splitlines()[1]
    assert row.split()[:5] == ["flat", "-", "-", "-", "0.00"]
