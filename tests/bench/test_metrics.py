"""The ranking-protocol metrics against scipy/numpy references and hand computations."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from diswot.bench import metrics as m

X = np.array([3.0, 1.0, 2.0, 2.0, 5.0, 4.0, 4.0, 0.0])  # ties in the proxy
Y = np.array([2.0, 1.0, 1.0, 3.0, 6.0, 5.0, 2.0, 0.5])  # ties in the truth


def test_correlations_match_scipy_with_ties_and_define_degenerate_cases():
    assert m.kendall(X, Y) == pytest.approx(stats.kendalltau(X, Y).statistic)
    assert m.spearman(X, Y) == pytest.approx(stats.spearmanr(X, Y).statistic)
    assert m.pearson(X, Y) == pytest.approx(stats.pearsonr(X, Y).statistic)
    constant = np.full_like(Y, 7.0)
    for f in (m.kendall, m.spearman, m.pearson):
        assert f(constant, Y) == 0.0  # a constant proxy orders nothing
        assert math.isnan(f(X, constant)) and math.isnan(f(X[:1], Y[:1]))  # nothing to rank


def test_partial_spearman_is_the_correlation_of_rank_residuals():
    rng = np.random.default_rng(0)
    params = rng.lognormal(10, 1, 40)
    truth = np.log(params) + rng.normal(0, 1, 40)
    proxy = np.log(params) + rng.normal(0, 1, 40) + 0.5 * truth
    rz = stats.rankdata(params)
    design = np.column_stack([np.ones(40), rz])

    def residual(v):
        r = stats.rankdata(v)
        return r - design @ np.linalg.lstsq(design, r, rcond=None)[0]

    reference = np.corrcoef(residual(proxy), residual(truth))[0, 1]
    assert m.partial_spearman(proxy, truth, np.log(params)) == pytest.approx(reference)
    assert m.partial_spearman(params, truth, np.log(params)) == 0.0  # params adds nothing to params
    assert m.partial_spearman(np.ones(40), truth, params) == 0.0


def test_budget_bands_are_equal_count_keep_ties_together_and_reject_too_few_archs():
    bands = m.budget_bands(np.arange(12.0)[::-1], 4)
    assert np.bincount(bands).tolist() == [3, 3, 3, 3] and bands[0] == 3 and bands[-1] == 0
    tied = m.budget_bands(np.array([1, 1, 1, 1, 2, 3, 4, 5.0]), 2)
    assert len(set(tied[:4])) == 1
    with pytest.raises(m.ProtocolError, match="cannot fill 4 FLOPs bands; lower --budget-bands"):
        m.budget_bands(np.arange(3.0), 4)
    with pytest.raises(m.ProtocolError, match="at least 1"):
        m.budget_bands(np.arange(3.0), 0)
    with pytest.raises(m.ProtocolError, match="at least 1"):
        m.ProtocolConfig(budget_bands=0)


def test_within_budget_kendall_averages_defined_bands_only():
    bands = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    y = Y.copy()
    y[6:] = 1.0  # band 2 has a constant truth: undefined, ignored
    mean, per_band = m.within_budget_kendall(X, y, bands)
    expected = [stats.kendalltau(X[bands == b], y[bands == b]).statistic for b in (0, 1)]
    assert per_band[:2] == pytest.approx(expected) and math.isnan(per_band[2])
    assert mean == pytest.approx(np.mean(expected))
    assert math.isnan(m.within_budget_kendall(X, np.ones(8), bands)[0])


def _random_tie_break_average(scores, truth, value):
    """The mean of ``value(order)`` over every order consistent with the scores (ties permuted)."""
    results = []
    for perm in itertools.permutations(range(len(scores))):
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], perm[i]))
        results.append(value(order))
    return np.mean(results)


def test_top_k_picks_are_expectations_over_random_tie_breaking():
    scores = np.array([3.0, 3.0, 3.0, 1.0, 2.0, 0.0])
    truth = np.array([5.0, 9.0, 1.0, 8.0, 4.0, 2.0])
    for k in (1, 2, 3, 4):
        expected = _random_tie_break_average(scores, truth, lambda o, k=k: max(truth[o[:k]]))
        assert m.expected_best_of_top_k(scores, truth, k) == pytest.approx(expected)
    quality = m.top_k_quality(scores, truth, top_k=2, ndcg_k=3)
    assert quality["top1_truth"] == pytest.approx(5.0) and quality["top1_regret"] == pytest.approx(4.0)
    assert quality["top2_regret"] == pytest.approx(9 - quality["top2_best_truth"])
    assert m.expected_best_of_top_k(scores, truth, 10) == 9.0


def _sklearn_ndcg(y_true, y_score, k):
    """scikit-learn's ``ndcg_score`` (ignore_ties=False) for one query, re-implemented."""
    discount = 1 / (np.log(np.arange(len(y_true)) + 2) / np.log(2))
    discount[k:] = 0
    discount_cumsum = np.cumsum(discount)
    _, inv, counts = np.unique(-y_score, return_inverse=True, return_counts=True)
    ranked = np.zeros(len(counts))
    np.add.at(ranked, inv, y_true)
    ranked /= counts
    groups = np.cumsum(counts) - 1
    discount_sums = np.empty(len(counts))
    discount_sums[0] = discount_cumsum[groups[0]]
    discount_sums[1:] = np.diff(discount_cumsum[groups])
    dcg = (ranked * discount_sums).sum()
    ideal = (np.sort(y_true)[::-1] * discount).sum()
    return dcg / ideal


def test_ndcg_by_hand_against_sklearns_formula_and_over_tie_orders():
    scores, truth = np.array([0.9, 0.1, 0.5]), np.array([1.0, 3.0, 2.0])
    # gains 0, 2, 1 in the proxy's order 0, 2, 1: DCG = 0 + 1/log2(3) + 2/2; ideal = 2 + 1/log2(3)
    by_hand = (1 / math.log2(3) + 1) / (2 + 1 / math.log2(3))
    assert m.ndcg_at_k(scores, truth, 10) == pytest.approx(by_hand)
    assert m.ndcg_at_k(scores, truth, 1) == 0.0
    for k in (1, 3, 5, 8):
        assert m.ndcg_at_k(X, Y, k) == pytest.approx(_sklearn_ndcg(Y - Y.min(), X, k))
    s, t = np.array([2.0, 2.0, 1.0, 2.0, 0.0]), np.array([4.0, 1.0, 3.0, 0.0, 2.0])
    gains = t - t.min()

    def dcg(order, k=2):
        return sum(gains[i] / math.log2(r + 2) for r, i in enumerate(order[:k]))

    ideal = dcg(list(np.argsort(-gains)))
    assert m.ndcg_at_k(s, t, 2) == pytest.approx(_random_tie_break_average(s, t, dcg) / ideal)
    assert math.isnan(m.ndcg_at_k(s, np.ones(5), 2))


def test_weighted_kendall_equals_scipy_on_the_expanded_sample():
    rng = np.random.default_rng(3)
    weights = rng.poisson(1.0, size=(20, len(X))).astype(float)
    got = m.weighted_kendall(weights, X, Y)
    for w, tau in zip(weights, got, strict=True):
        index = np.repeat(np.arange(len(X)), w.astype(int))
        reference = stats.kendalltau(X[index], Y[index]).statistic if np.ptp(Y[index]) else np.nan
        if np.ptp(Y[index]) and not np.ptp(X[index]):
            reference = 0.0
        assert tau == pytest.approx(reference, nan_ok=True)


def test_bootstrap_is_reproducible_contains_the_estimate_and_matches_a_resample():
    rng = np.random.default_rng(1)
    flops = rng.integers(1, 30, 200).astype(float)
    truth = np.log(flops) + rng.normal(0, 0.5, 200)
    proxy = truth + rng.normal(0, 0.7, 200)
    cfg = m.ProtocolConfig(resamples=300, seed=5)
    row = m.proxy_metrics(proxy, truth, flops, flops * 3, cfg)
    assert row == m.proxy_metrics(proxy, truth, flops, flops * 3, cfg)
    assert row != m.proxy_metrics(proxy, truth, flops, flops * 3, m.ProtocolConfig(resamples=300, seed=6))
    for name in m.CORRELATIONS:
        assert row[f"{name}_lo"] <= row[name] <= row[f"{name}_hi"], name
    # the first resample recomputed from its indices with the point-estimate functions
    n = 50
    x, y, z = proxy[:n], truth[:n], flops[:n]
    bands = m.budget_bands(z, 2)
    drawn = m.bootstrap_samples(x, y, bands=bands, z=z, resamples=1, seed=9)
    index = np.random.default_rng(9).integers(0, n, size=(1, n))[0]
    assert drawn["spearman"][0] == pytest.approx(m.spearman(x[index], y[index]))
    assert drawn["kendall"][0] == pytest.approx(m.kendall(x[index], y[index]))
    assert drawn["partial_spearman"][0] == pytest.approx(m.partial_spearman(x[index], y[index], z[index]))
    within = m.within_budget_kendall(x[index], y[index], bands[index])[0]
    assert drawn["within_budget_kendall"][0] == pytest.approx(within)


def test_a_constant_proxy_gets_zero_correlations_and_finite_intervals():
    rng = np.random.default_rng(2)
    truth, flops = rng.normal(size=40), rng.integers(1, 9, 40).astype(float)
    row = m.proxy_metrics(np.ones(40), truth, flops, flops, m.ProtocolConfig(resamples=50))
    for name in m.CORRELATIONS:
        assert row[name] == 0.0 and row[f"{name}_lo"] == row[f"{name}_hi"] == 0.0
    assert row["top1_truth"] == pytest.approx(truth.mean())


def test_report_frame_and_noise_ceiling():
    rng = np.random.default_rng(4)
    flops = rng.integers(1, 50, 60).astype(float)
    seed0, seed1 = flops + rng.normal(0, 5, 60), flops + rng.normal(0, 5, 60)
    truth = {"acc": (seed0 + seed1) / 2, "acc-base": seed0 - flops}
    cfg = m.ProtocolConfig(resamples=100)
    frame = m.protocol_report({"flops": flops, "noise": rng.normal(size=60)}, truth, flops, flops, cfg)
    assert frame[["proxy", "ground_truth"]].values.tolist() == [
        ["flops", "acc"], ["flops", "acc-base"], ["noise", "acc"], ["noise", "acc-base"]
    ]  # fmt: skip
    assert {"within_budget_kendall_lo", "top1_regret", "ndcg_at_10", "partial_spearman"} <= set(frame)
    ceiling = m.noise_ceiling({"s0": seed0, "s1": seed1}, flops, cfg)
    assert ceiling["kendall"] == pytest.approx(stats.kendalltau(seed0, seed1).statistic)
    assert ceiling["kendall_lo"] <= ceiling["kendall"] <= ceiling["kendall_hi"]
    with pytest.raises(m.ProtocolError, match="at least two seed columns"):
        m.noise_ceiling({"s0": seed0}, flops, cfg)


def test_large_table_paths_give_the_same_numbers(monkeypatch):
    """Above the pairwise limit Kendall is computed per resample with scipy, and resamples are
    drawn in blocks; neither changes a number."""
    rng = np.random.default_rng(7)
    x, y, bands = rng.integers(0, 9, 60).astype(float), rng.normal(size=60), rng.integers(0, 3, 60)
    reference = m.bootstrap_samples(x, y, bands=bands, z=x, resamples=40, seed=1)
    monkeypatch.setattr(m, "_PAIRWISE_LIMIT", 0)
    monkeypatch.setattr(m, "_BLOCK", 7)
    again = m.bootstrap_samples(x, y, bands=bands, z=x, resamples=40, seed=1)
    for name, values in reference.items():
        np.testing.assert_allclose(again[name], values, err_msg=name)
