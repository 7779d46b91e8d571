"""Searching with a calibrated aggregate (``--proxy cal:log:a+b``): per-candidate, reusable."""

from __future__ import annotations

import csv
import sqlite3

import pytest
from search_probes import CrashingExecutor

from diswot.cli import main
from diswot.data import load_dataset
from diswot.errors import DiswotError, UnknownNameError
from diswot.proxies import Calibration, parse_aggregate
from diswot.scoring import EXECUTORS
from diswot.scoring.calibration import reference_keys
from diswot.scoring.executors import ScoringJob
from diswot.scoring.store import data_fingerprint
from diswot.search import RunStore, StrategyParams, search
from diswot.search_spaces import get_space

PROXY = "cal:log:nwot+flops"
SMALL = StrategyParams(population=6, tournament=3, proposals_per_step=2)
SPACE = get_space("nb201", cells=1)  # one cell per stage keeps the tests fast
FAST = {"progress": False, "plots": False, "params": SMALL, "reference_size": 8, "batch_size": 10}
REFERENCE = reference_keys(SPACE, 8)


@pytest.fixture
def evaluated(monkeypatch):
    """Every architecture key a proxy is computed for, in order."""
    keys: list[str] = []
    original = ScoringJob.score

    def counting(self, batch):
        keys.extend(batch)
        return original(self, batch)

    monkeypatch.setattr(ScoringJob, "score", counting)
    return keys


def calibration_in(store_path, result, proxy_seed: int) -> Calibration:
    """The aggregate's calibration, rebuilt from the reference scores in a run's store."""
    data_key = data_fingerprint(load_dataset("sample"), proxy_seed, FAST["batch_size"], 1)
    store = RunStore(store_path, SPACE.name, data_key, "none")
    aggregate = parse_aggregate(result.proxy)
    known = {k: store.scores.get(k, list(aggregate.members)) for k in REFERENCE}
    store.close()
    return Calibration(aggregate, {m: [known[k][m][0] for k in REFERENCE] for m in aggregate.members})


def test_the_reference_is_fixed_distinct_and_nested():
    space = SPACE
    assert len(set(REFERENCE)) == 8 and reference_keys(space, 8) == REFERENCE
    assert reference_keys(space, 20)[:8] == REFERENCE  # a larger reference reuses a smaller one
    with pytest.raises(DiswotError, match="at least 2"):
        reference_keys(space, 1)


@pytest.mark.parametrize("strategy", ["evolution", "nsga2", "random"])
def test_every_strategy_searches_with_a_calibrated_aggregate(tmp_path, strategy, evaluated):
    result = search(SPACE, proxy=PROXY, strategy=strategy, evaluations=8, seed=1, out=tmp_path / "r", **FAST)
    assert result.proxy == PROXY and result.evaluations == 8
    assert evaluated[:8] == REFERENCE  # the reference is scored first, whatever the budget
    calibration = calibration_in(tmp_path / "r" / "store.sqlite", result, proxy_seed=1)
    for e in result.history:
        assert set(e.proxies) == {PROXY, "nwot", "flops"}
        assert e.score == e.proxies[PROXY] == calibration.score(e.proxies)
    with open(tmp_path / "r" / "history.csv", newline="") as f:
        header = next(csv.reader(f))
    assert PROXY in header and "flops_proxy" in header and len(set(header)) == len(header)


def test_a_score_does_not_depend_on_which_other_archs_were_scored(tmp_path):
    # both start from the same random draws, then score different archs in different batches
    runs = [search(SPACE, proxy=PROXY, strategy=strategy, evaluations=n, seed=1, **FAST)
            for strategy, n in (("evolution", 12), ("random", 9))]  # fmt: skip
    scores = [{e.arch: e.score for e in r.history} for r in runs]
    shared = scores[0].keys() & scores[1].keys()
    assert shared and scores[0].keys() != scores[1].keys()
    assert all(scores[0][k] == scores[1][k] for k in shared)


def test_a_second_and_a_resumed_search_never_rescore_the_reference(tmp_path, evaluated):
    store = tmp_path / "shared.sqlite"
    first = search(SPACE, proxy=PROXY, evaluations=8, seed=3, store=store, out=tmp_path / "a", **FAST)
    assert evaluated[:8] == REFERENCE
    evaluated.clear()
    other = search(SPACE, proxy=PROXY, evaluations=8, seed=4, proxy_seed=3, store=store,
                   out=tmp_path / "b", **FAST)  # fmt: skip
    assert not set(evaluated) & set(REFERENCE)  # a candidate of the reference is served too
    assert len(evaluated) == sum(not e.cached for e in other.history)
    evaluated.clear()
    again = search(SPACE, proxy=PROXY, evaluations=8, seed=3, out=tmp_path / "a", resume=True, store=store,
                   **FAST)  # fmt: skip
    assert evaluated == [] and [e.score for e in again.history] == [e.score for e in first.history]


class DyingExecutor(CrashingExecutor):
    """Dies like a killed process on the search's second batch (the reference is 2 batches)."""

    crash_on = 4


if "test-dying-calibrated" not in EXECUTORS:
    EXECUTORS.register("test-dying-calibrated", "test probe")(DyingExecutor)


def test_resume_after_a_kill_keeps_the_reference_and_equals_the_whole_run(tmp_path, evaluated):
    whole = search(SPACE, proxy=PROXY, evaluations=10, seed=5, out=tmp_path / "whole", **FAST)
    with pytest.raises(KeyboardInterrupt):
        search(SPACE, proxy=PROXY, evaluations=10, seed=5, out=tmp_path / "cut",
               executor="test-dying-calibrated", **FAST)  # fmt: skip
    with sqlite3.connect(tmp_path / "cut" / "store.sqlite") as conn:
        recorded = conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    assert recorded > 0  # the first population was recorded before the kill
    evaluated.clear()
    resumed = search(SPACE, proxy=PROXY, evaluations=10, seed=5, out=tmp_path / "cut", resume=True, **FAST)
    # neither the reference nor a recorded evaluation is scored again
    assert not set(evaluated) & set(REFERENCE) and len(evaluated) == 10 - recorded
    assert [(e.arch, e.score) for e in resumed.history] == [(e.arch, e.score) for e in whole.history]


def test_cli_search_with_a_calibrated_aggregate(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["search", "--proxy", "cal:geo:params+flops", "--reference-size", "8", "--evaluations", "6",
            "--population", "4", "--batch-size", "10", "--out", str(out), "--no-plots"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "best cal:geo:params+flops=" in printed
    assert '"reference_size": 8' in (out / "run.json").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--proxy", "log:nwot+synflow"], "--proxy cal:log:nwot+synflow"),
        (["--proxy", "cal:nwot"], "two or more"),
        (["--proxy", "cal:log:nwot+flopz"], "Did you mean 'flops'"),
        (["--proxy", "cal:nwot+flops", "--reference-size", "1"], "at least 2"),
    ],
)
def test_bad_calibrated_input_is_one_line_and_leaves_no_run_dir(tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    assert main(["search", "--evaluations", "4", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not out.exists()
    with pytest.raises((DiswotError, UnknownNameError)):
        search(SPACE, proxy=extra[1], evaluations=2, **{**FAST, "reference_size": 1})


def test_recommended_fitnesses_name_registered_proxies():
    """Every calibrated aggregate the search help or the README recommends parses, with registered
    members: a typo there would send users to an error."""
    import argparse
    import re
    from pathlib import Path

    from diswot.cli import build_parser
    from diswot.proxies import PROXIES

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    texts = [sub.choices["search"].format_help(), (Path(__file__).parents[2] / "README.md").read_text()]
    texts = [re.sub(r"\s+", " ", t) for t in texts]  # help and README wrap lines anywhere
    named = {m for t in texts for m in re.findall(r"--proxy `?(cal:[a-z_:+0-9]+)", t)}
    named |= set(re.findall(r"e\.g\. (cal:[a-z_:+0-9]+)", texts[0]))
    assert "cal:az_progressivity+synflow+flops" in named
    for name in named:
        aggregate = parse_aggregate(name)
        assert aggregate is not None and aggregate.calibrated, name
        for member in aggregate.members:
            assert member in PROXIES, f"{name}: {member} is not a registered proxy"
