"""ScoringConfig: validated once, shared by the search and the bench, one flag per field."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diswot.bench.proxy_bench import ProxyBenchConfig
from diswot.cli import build_parser, main
from diswot.errors import DiswotError
from diswot.scoring import ScoringConfig
from diswot.search import SearchConfig

#: the flag of each field (``data`` is ``--dataset`` on every command, as in distill and sample)
FLAGS = {f.name: "--" + f.name.replace("_", "-") for f in dataclasses.fields(ScoringConfig)}
FLAGS["data"] = "--dataset"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", 0, r"batch_size \(--batch-size\) must be a whole number >= 1, got 0"),
        ("batch_size", 2.5, r"batch_size .* got 2.5"),
        ("batch_size", True, r"batch_size .* got True"),
        ("num_batches", -1, r"num_batches \(--num-batches\) must be"),
        ("proxy_seed", -1, r"proxy_seed \(--proxy-seed\) must be between 0 and 2\*\*32-1"),
        ("proxy_seed", 2**32, r"proxy_seed .* between"),
        ("proxy_seed", "7", r"proxy_seed .* whole number"),
        ("reference_size", 1, r"--reference-size must be at least 2"),
        ("device", "gpu0", r"--device 'gpu0' is not a device name"),
        ("device", "cuda:7", r"(?i)cuda"),  # no such GPU (or no CUDA build): said in one line
        ("data", "cifar1O", r"unknown dataset 'cifar1O'.*cifar10"),
        ("data", "cifar10:classes=9-", r"class list"),
        ("data", 3, r"data \(--dataset\) must be a dataset name"),
        ("teacher", "  ", r"teacher \(--teacher\) is empty"),
        ("teacher", [("a.pt", -1.0)], r"weight must be a finite number >= 0"),
        ("teacher", [("a.pt", 0), ("b.pt", 0)], r"sum to zero"),
        ("teacher", [("a.pt",)], r"\[\(teacher, weight\), \.\.\.\] pairs"),
        ("teacher", 12, r"teacher \(--teacher\) cannot be a int"),
        ("teacher_model", "", r"teacher_model \(--teacher-model\) must be a model name"),
        ("store", "x" * 5000, r"--store 'x+\.\.\.' cannot be a path here"),
        ("data_root", 5, r"data_root \(--data-root\) must be a path"),
    ],
)
def test_a_bad_value_is_one_line_naming_field_and_flag(field, value, message):
    with pytest.raises(DiswotError, match=message) as err:
        ScoringConfig(**{field: value})
    assert "\n" not in str(err.value)


@settings(max_examples=40, deadline=None)
@given(st.integers(-(2**40), 2**40), st.integers(-5, 5))
def test_counts_and_seeds_are_accepted_exactly_in_range(seed, batches):
    ok = 0 <= seed < 2**32 and batches >= 1
    if ok:
        assert ScoringConfig(proxy_seed=seed, num_batches=batches).seed == seed
    else:
        with pytest.raises(DiswotError):
            ScoringConfig(proxy_seed=seed, num_batches=batches)


def test_the_proxy_seed_defaults_to_the_run_seed_in_search_and_bench():
    assert SearchConfig(seed=5).scoring.proxy_seed == 5
    assert SearchConfig(seed=5, scoring=ScoringConfig(proxy_seed=2)).scoring.proxy_seed == 2
    bench = ProxyBenchConfig("nb201", "t.csv", ["params"], "out", seed=3)
    assert bench.scoring.proxy_seed == 3 and ScoringConfig().seed == 0


def test_search_takes_the_scoring_fields_flat_or_nested_not_both():
    flat = SearchConfig.of("nb201", "resnet20", None, "params", batch_size=8, proxy_seed=1)
    scoring = ScoringConfig(teacher="resnet20", batch_size=8, proxy_seed=1)
    nested = SearchConfig("nb201", "params", scoring=scoring)
    assert flat == nested
    with pytest.raises(TypeError, match="not both"):
        SearchConfig.of(scoring=ScoringConfig(), batch_size=8)
    with pytest.raises(DiswotError, match="batch_size"):
        SearchConfig.of(batch_size=0)  # validated by the ScoringConfig, once


@pytest.mark.parametrize("command", [["search"], ["bench", "proxies", "--ground-truth", "t.csv"]])
def test_search_and_bench_have_one_flag_per_scoring_field(command):
    parser = build_parser()
    args = parser.parse_args(command)
    given = {a.dest for a in _subparser(parser, command)._actions}
    for field, flag in FLAGS.items():
        assert flag.lstrip("-").replace("-", "_") in given, f"{command}: no {flag} for {field}"
    assert args.store is None and args.proxy_seed is None


def _subparser(parser, command):
    for word in command[: 2 if command[0] == "bench" else 1]:
        action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = action.choices[word]
    return parser


def test_the_cli_refuses_a_bad_scoring_value_in_one_line(capsys):
    assert main(["search", "--reference-size", "1", "--evaluations", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "diswot search: error: --reference-size must be at least 2, got 1"
    with pytest.raises(SystemExit) as exit_:
        main(["search", "--executor", "threads"])  # choices come from the executor registry
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "unknown executor 'threads'" in err and "diswot list executors" in err
