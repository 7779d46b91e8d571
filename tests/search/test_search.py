"""The search engine: budgets, determinism, resume, the store, NSGA-II, executors, bad input."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch
from search_probes import CrashingExecutor
from torch import nn

import diswot
from diswot.cli import main
from diswot.errors import BudgetError, DiswotError, RunDirError, UnknownNameError
from diswot.scoring import EXECUTORS, Budget, parse_quantity
from diswot.scoring.executors import SerialExecutor, chunks
from diswot.search import StrategyParams, search
from diswot.search.strategies import pareto_front
from diswot.search_spaces import Choice, ChoiceSpace

SMALL = StrategyParams(population=8, tournament=3, proposals_per_step=2)
FAST = {"progress": False, "plots": False, "params": SMALL}


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def history_rows(result):
    return [(e.arch, round(e.score, 9), e.generation) for e in result.history]


# budgets -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [("100M", 1e8), ("1.5G", 1.5e9), ("250000", 2.5e5), ("2.5e5", 2.5e5), ("7k", 7e3), (" 3 M ", 3e6)],
)
def test_parse_quantity(text, value):
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["10Q", "-5M", "", "1e400", "M", "1..2"])
def test_parse_quantity_rejects_malformed_numbers(text):
    with pytest.raises(BudgetError):
        parse_quantity(text, "--max-flops")


def test_min_above_max_is_an_error():
    with pytest.raises(BudgetError, match="min_flops"):
        Budget.parse(min_flops="100M", max_flops="10M")


def test_every_scored_candidate_respects_the_budget():
    budget = Budget.parse(min_flops="20M", max_flops="60M", max_params="400K")
    result = search("nb201", proxy="synflow", budget=budget, evaluations=24, seed=3, **FAST)
    assert result.evaluations == 24
    for e in result.history:
        assert 20e6 <= e.flops <= 60e6 and e.params <= 400e3, e


def test_latency_budget_is_measured_and_respected():
    budget = Budget(max_latency_ms=10_000.0)  # every cell fits: the check is that it is measured
    result = search("nb201", proxy="params", budget=budget, evaluations=6, seed=0, **FAST)
    assert all(e.latency_ms is not None and 0 < e.latency_ms < 10_000 for e in result.history)


# determinism and quality ----------------------------------------------------------------------------
def test_same_seed_same_history_and_other_seed_differs():
    first = search("nb201", proxy="synflow", evaluations=20, seed=5, **FAST)
    again = search("nb201", proxy="synflow", evaluations=20, seed=5, **FAST)
    other = search("nb201", proxy="synflow", evaluations=20, seed=6, **FAST)
    assert history_rows(first) == history_rows(again)
    assert [e.arch for e in other.history] != [e.arch for e in first.history]


def test_evolution_finds_the_params_optimum_that_random_search_misses():
    # the largest NB201 cell (every edge a 3x3 conv) is the known optimum of the params proxy
    optimum = "|" + "|+|".join("|".join(f"nor_conv_3x3~{j}" for j in range(i)) for i in (1, 2, 3)) + "|"
    params = StrategyParams(population=10, tournament=5, proposals_per_step=1)
    kwargs = {"proxy": "params", "evaluations": 60, "seed": 0, "params": params, "progress": False}
    evolved = search("nb201", plots=False, **kwargs)
    sampled = search("nb201", strategy="random", plots=False, **kwargs)
    assert evolved.arch == optimum
    assert evolved.score > sampled.score


def test_nsga2_front_is_non_dominated_and_covers_the_history():
    result = search("nb201", proxy="synflow", strategy="nsga2", evaluations=32, seed=1, **FAST)
    front = {e.arch for e in result.pareto}
    assert front
    for a in result.pareto:
        for b in result.history:
            assert not (
                b.score >= a.score and b.flops <= a.flops and (b.score > a.score or b.flops < a.flops)
            )
    for e in result.history:
        if e.arch not in front:
            assert any(p.score >= e.score and p.flops <= e.flops for p in result.pareto)


def test_pareto_front_helper():
    points = [(1.0, 5.0), (2.0, 5.0), (0.5, 1.0), (3.0, 9.0), (0.4, 2.0)]
    assert pareto_front(points) == [1, 2, 3]


def test_chunks_split_evenly_and_keep_order():
    keys = [str(i) for i in range(7)]
    parts = chunks(keys, 3)
    assert [k for p in parts for k in p] == keys and [len(p) for p in parts] in (
        [2, 3, 2],
        [3, 2, 2],
        [2, 2, 3],
    )
    assert chunks(keys[:1], 4) == [["0"]]


# the store: cache hits and resume ----------------------------------------------------------------
class CountingExecutor(SerialExecutor):
    calls: list[int] = []  # noqa: RUF012  (a test probe shared across instances)

    def map(self, keys):
        CountingExecutor.calls.append(len(keys))
        return super().map(keys)


if "test-counting" not in EXECUTORS:
    EXECUTORS.register("test-counting", "test probe")(CountingExecutor)
    EXECUTORS.register("test-crashing", "test probe")(CrashingExecutor)


def test_a_shared_store_serves_every_score_of_a_repeated_run(tmp_path):
    store = tmp_path / "shared.sqlite"
    first = search("nb201", proxy="synflow", evaluations=12, seed=2, store=store, out=tmp_path / "a", **FAST)
    CountingExecutor.calls.clear()
    second = search("nb201", proxy="synflow", evaluations=12, seed=2, store=store, out=tmp_path / "b",
                    executor="test-counting", **FAST)  # fmt: skip
    assert CountingExecutor.calls == []  # nothing was scored again
    assert second.cache_hits == 12 and first.cache_hits == 0
    assert history_rows(first) == history_rows(second)


def test_resume_after_a_kill_equals_the_uninterrupted_run(tmp_path):
    whole = search("nb201", proxy="synflow", evaluations=20, seed=4, out=tmp_path / "whole", **FAST)
    with pytest.raises(KeyboardInterrupt):
        search("nb201", proxy="synflow", evaluations=20, seed=4, out=tmp_path / "cut",
               executor="test-crashing", **FAST)  # fmt: skip
    assert (tmp_path / "cut" / "run.json").exists() and not (tmp_path / "cut" / "result.json").exists()
    CountingExecutor.calls.clear()
    resumed = search("nb201", proxy="synflow", evaluations=20, seed=4, out=tmp_path / "cut", resume=True,
                     executor="test-counting", **FAST)  # fmt: skip
    assert history_rows(resumed) == history_rows(whole)
    assert resumed.arch == whole.arch and resumed.score == whole.score
    committed = 8 + 2  # the initial population and the first step survived the kill
    assert sum(CountingExecutor.calls) == 20 - committed


def test_cli_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path):
    # Killed on an event (the 10th evaluation is in the store), not after a wall time, so a slow
    # or loaded machine changes only how long this takes, never what it tests.
    args = ["search", "--proxy", "synflow", "--evaluations", "30", "--population", "8", "--seed", "7",
            "--batch-size", "16", "--no-plots"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        [sys.executable, "-m", "diswot", *args, "--out", str(cut)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    done = 0
    while proc.poll() is None and done < 10:
        time.sleep(0.02)
        if (cut / "store.sqlite").exists():
            with sqlite3.connect(cut / "store.sqlite", timeout=30) as conn:
                try:
                    done = conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
                except sqlite3.OperationalError:
                    continue
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 10 <= done < 30, "the run should be killed part way"
    assert main([*args, "--out", str(cut), "--resume"]) == 0
    whole_rows, cut_rows = read_csv(tmp_path / "whole" / "history.csv"), read_csv(cut / "history.csv")
    assert [(r["arch"], r["score"]) for r in cut_rows] == [(r["arch"], r["score"]) for r in whole_rows]
    assert (
        json.loads((cut / "result.json").read_text())["arch"]
        == json.loads((tmp_path / "whole" / "result.json").read_text())["arch"]
    )


def test_resume_refuses_other_settings_and_a_fresh_run_refuses_an_old_dir(tmp_path):
    search("nb201", proxy="synflow", evaluations=4, seed=0, out=tmp_path / "r", **FAST)
    with pytest.raises(RunDirError, match="--resume"):
        search("nb201", proxy="synflow", evaluations=4, seed=0, out=tmp_path / "r", **FAST)
    with pytest.raises(RunDirError, match="seed"):
        search("nb201", proxy="synflow", evaluations=4, seed=1, out=tmp_path / "r", resume=True, **FAST)
    with pytest.raises(RunDirError, match="nothing to resume"):
        search("nb201", proxy="synflow", evaluations=4, out=tmp_path / "empty", resume=True, **FAST)
    run_file = tmp_path / "r" / "run.json"
    stored = json.loads(run_file.read_text())
    run_file.write_text(json.dumps({**stored, "proxy_definitions": ["synflow@0"]}))  # an older diswot's run
    with pytest.raises(RunDirError, match="another version of its proxies"):
        search("nb201", proxy="synflow", evaluations=4, seed=0, out=tmp_path / "r", resume=True, **FAST)


# executors ----------------------------------------------------------------------------------------
def test_processes_give_the_serial_result():
    kwargs = {"proxy": "synflow", "strategy": "nsga2", "evaluations": 16, "seed": 1, **FAST}
    serial = search("nb201", **kwargs)
    parallel = search("nb201", executor="processes", workers=2, **kwargs)
    assert history_rows(parallel) == history_rows(serial)


def test_ray_gives_the_serial_result():
    pytest.importorskip("ray")
    kwargs = {"proxy": "diswot", "evaluations": 10, "seed": 2, "batch_size": 20, **FAST}
    serial = search("nb201", **kwargs)
    on_ray = search("nb201", executor="ray", workers=2, **kwargs)
    assert [e.arch for e in on_ray.history] == [e.arch for e in serial.history]
    assert [e.score for e in on_ray.history] == pytest.approx([e.score for e in serial.history], rel=1e-5)


# outputs, real data, custom spaces -----------------------------------------------------------------
def test_cli_search_writes_every_output(tmp_path, capsys, nb201_table):
    out = tmp_path / "run"
    code = main(["search", "--proxy", "diswot", "--record", "nwot", "--evaluations", "12", "--population",
                 "6", "--batch-size", "30", "--max-flops", "100M", "--ground-truth", str(nb201_table),
                 "--gt-column", "CIFAR10TestAccuracy200Epochs", "--out", str(out)])  # fmt: skip
    assert code == 0
    assert "best diswot=" in capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    assert {"arch", "score", "flops", "params", "true_accuracy", "top_k", "pareto"} <= result.keys()
    assert result["flops"] <= 100e6 and 10 < result["true_accuracy"] < 95
    history = read_csv(out / "history.csv")
    assert len(history) == 12 and {"diswot", "nwot", "true_accuracy", "wall_s"} <= history[0].keys()
    assert max(float(r["score"]) for r in history) == pytest.approx(result["score"])
    for name in ("topk.csv", "pareto.csv", "best_score.png", "score_vs_flops.png", "run.json"):
        assert (out / name).stat().st_size > 0, name


def test_search_on_real_cifar10_with_a_trained_module_teacher(cifar10_train):
    torch.manual_seed(0)
    teacher = diswot.build_model("resnet20", num_classes=10)
    result = search("resnet-depth", teacher=teacher, data=cifar10_train, proxy="diswot", evaluations=6,
                    batch_size=20, **FAST)  # fmt: skip
    assert result.evaluations == 6 and result.score <= 0


class TinySpace(ChoiceSpace):
    """A user-defined space: conv width and depth, nothing registered."""

    name = "tiny"
    choices = (Choice("width", (4, 8, 16)), Choice("depth", (1, 2, 3)))

    def encode(self, arch):
        return f"w{arch[0]}-d{arch[1]}"

    def decode(self, key):
        width, depth = key.split("-")
        return self.validate((int(width[1:]), int(depth[1:])))

    def build(self, arch, num_classes=10):
        width, depth = arch
        layers, channels = [], 3
        for _ in range(depth):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            channels = width
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))

    def example_input(self, batch_size=1):
        return torch.zeros(batch_size, 3, 32, 32)


def test_a_user_defined_space_is_searched_to_exhaustion():
    result = search(TinySpace(), proxy="diswot_relational", evaluations=50, batch_size=20, **FAST)
    assert result.evaluations == 9  # the whole space, then the search stops by itself
    assert len({e.arch for e in result.history}) == 9


# bad input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--teacher", "missing-teacher.pt"], "does not exist"),
        (["--max-flops", "1K"], "architectures span flops 7.78M.."),
        (["--max-flops", "10Q"], "is not a number"),
        (["--max-params", "-3"], ">= 0"),
        (["--proxy", "nwot+synflow"], "rank aggregate"),
        (["--proxy", "nwtt"], "Did you mean 'nwot'"),
        (["--strategy", "hill-climb"], "diswot list strategies"),
        (["--executor", "dask"], "unknown executor"),
    ],
)
def test_bad_input_is_a_clear_error_and_leaves_no_run_dir(tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    try:
        code = main(["search", "--evaluations", "4", "--out", str(out), *extra])
    except SystemExit as exc:  # argparse: a name its type checked against the registry
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("teacher", "message"),
    [
        ([], "sst2 is text: give a Transformer teacher with --teacher"),  # the default teacher reads images
        (["--teacher", "resnet20"], "teacher 'resnet20' has no token embedding"),
    ],
)
def test_a_text_search_without_a_text_teacher_is_one_line(tmp_path, capsys, shared_data, teacher, message):
    out = tmp_path / "run"
    args = ["search", "--space", "autodistil-tiny", "--dataset", "sst2", "--data-root", str(shared_data),
            "--evaluations", "2", "--out", str(out), *teacher]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_numbers_in_the_api():
    with pytest.raises(DiswotError, match="evaluations"):
        search("nb201", proxy="params", evaluations=0, **FAST)
    with pytest.raises(UnknownNameError, match="strategy"):
        search("nb201", proxy="params", strategy="hill-climb", **FAST)
    with pytest.raises(DiswotError, match="workers"):
        search("nb201", proxy="params", evaluations=2, workers=0, **FAST)


def test_interrupted_before_any_evaluation_leaves_nothing(tmp_path, monkeypatch):
    def boom(self, keys):
        raise KeyboardInterrupt

    monkeypatch.setattr(SerialExecutor, "map", boom)
    with pytest.raises(KeyboardInterrupt):
        search("nb201", proxy="synflow", evaluations=4, out=tmp_path / "r", **FAST)
    assert not (tmp_path / "r").exists()
