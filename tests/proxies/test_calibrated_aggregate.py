"""Calibrated aggregates (``cal:log:a+b``): one candidate's score against a fixed reference."""

import numpy as np
import pytest

from diswot.errors import DiswotError, UnknownNameError
from diswot.proxies import Calibration, parse_aggregate, resolve_proxies


def test_names_round_trip():
    for name, method in [("cal:nwot+flops", "mean"), ("cal:log:nwot+synflow+flops", "log"),
                         ("cal:geo:nwot+flops", "geo")]:  # fmt: skip
        agg = parse_aggregate(name)
        assert agg.calibrated and agg.method == method and agg.name == name
    plain = parse_aggregate("log:nwot+flops")
    assert not plain.calibrated and plain.name == "log:nwot+flops"
    assert parse_aggregate("nwot") is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("cal:nwot", "two or more"),
        ("cal:log:nwot", "two or more"),
        ("cal:foo:nwot+flops", "unknown aggregation 'foo'"),
        ("log:cal:nwot+flops", "unknown aggregation 'log:cal'"),
        ("cal:log:geo:nwot+flops", "unknown aggregation 'log:geo'"),
        ("cal:nwot+nwot", "twice"),
        ("cal:nwot+", "two or more"),
    ],
)
def test_bad_names_are_one_line_errors(name, message):
    with pytest.raises(DiswotError, match=message) as info:
        parse_aggregate(name)
    assert "\n" not in str(info.value)


def test_an_unknown_member_is_named():
    with pytest.raises(UnknownNameError, match="Did you mean 'synflow'"):
        resolve_proxies(["cal:log:nwot+synflo"])
    specs, aggregates = resolve_proxies(["cal:log:nwot+flops"])
    assert [s.name for s in specs] == ["nwot", "flops"] and aggregates[0].calibrated


def test_quantiles_are_never_0_or_1_and_stay_distinct_beyond_the_reference():
    cal = Calibration(parse_aggregate("cal:log:nwot+flops"), {"nwot": [1, 2, 3, 4], "flops": [1, 1, 2, 2]})
    q = cal.quantile("nwot", [0, 1, 2.5, 4, 100])
    assert list(q) == pytest.approx([0.5 / 5, 1 / 5, 2.5 / 5, 4 / 5, 4.5 / 5])
    assert q.min() > 0 and q.max() < 1 and q[-1] > q[-2]  # beyond the max: capped yet above it
    assert list(cal.quantile("flops", [1, 2])) == pytest.approx([1.5 / 5, 3.5 / 5])  # ties: mid-rank
    assert np.isfinite(cal.score({"nwot": -1e9, "flops": -1e9}))


def test_a_score_depends_neither_on_order_nor_on_the_other_candidates():
    rng = np.random.default_rng(0)
    cal = Calibration(parse_aggregate("cal:log:nwot+flops+synflow"),
                      {m: rng.normal(size=16) for m in ("nwot", "flops", "synflow")})  # fmt: skip
    candidates = {m: rng.normal(size=40) for m in ("nwot", "flops", "synflow")}
    together = cal.score_many(candidates)
    order = rng.permutation(40)
    shuffled = cal.score_many({m: v[order] for m, v in candidates.items()})
    assert np.array_equal(shuffled, together[order])
    alone = [cal.score({m: v[i] for m, v in candidates.items()}) for i in range(40)]
    assert np.array_equal(alone, together)
    assert np.array_equal(cal.score_many({m: v[:5] for m, v in candidates.items()}), together[:5])


@pytest.mark.parametrize("method", ["mean", "log", "geo"])
def test_with_the_population_as_reference_it_is_the_rank_aggregate(method):
    # rank / (n + 1) instead of rank / n: a constant shift (log) or a constant factor (mean, geo)
    rng = np.random.default_rng(1)
    scores = {"nwot": rng.integers(0, 6, 30).astype(float), "flops": rng.normal(size=30),
              "synflow": rng.integers(0, 3, 30).astype(float)}  # fmt: skip
    prefix = "" if method == "mean" else f"{method}:"
    plain = parse_aggregate(prefix + "nwot+flops+synflow").combine(scores)
    calibrated = parse_aggregate("cal:" + prefix + "nwot+flops+synflow").combine(scores, reference=scores)
    n = 30
    expected = plain + 3 * np.log(n / (n + 1)) if method == "log" else plain / (n + 1)
    assert calibrated == pytest.approx(expected)
    assert np.array_equal(np.argsort(calibrated, kind="stable"), np.argsort(plain, kind="stable"))


def test_a_calibrated_aggregate_needs_its_reference():
    agg = parse_aggregate("cal:log:nwot+flops")
    with pytest.raises(DiswotError, match="give its reference"):
        agg.combine({"nwot": [1.0], "flops": [2.0]})
    with pytest.raises(DiswotError, match="lacks reference scores of flops"):
        Calibration(agg, {"nwot": [1.0, 2.0]})
    with pytest.raises(DiswotError, match="one score per member"):
        Calibration(agg, {"nwot": [1.0, 2.0], "flops": [1.0]})
    with pytest.raises(DiswotError, match="not calibrated"):
        Calibration(parse_aggregate("log:nwot+flops"), {"nwot": [1.0], "flops": [1.0]})
    with pytest.raises(DiswotError, match="lacks scores of nwot"):
        Calibration(agg, {"nwot": [1.0], "flops": [1.0]}).score({"flops": 1.0})
