"""``diswot bench proxies`` with a calibrated aggregate: scored per candidate, reference cached."""

import csv

import pytest

from diswot.bench.proxy_bench import ProxyBenchConfig, run_proxy_bench
from diswot.data import load_dataset
from diswot.proxies import Calibration, parse_aggregate
from diswot.scoring.calibration import reference_keys
from diswot.scoring.config import ScoringConfig
from diswot.scoring.executors import ScoringJob
from diswot.scoring.store import ScoreStore, data_fingerprint
from diswot.search_spaces import get_space

CAL = "cal:log:params+flops"
MEMBERS = ("params", "flops")


def test_bench_scores_a_calibrated_aggregate_per_candidate_and_caches_its_reference(
    tmp_path, nb201_table, monkeypatch
):
    cfg = ProxyBenchConfig(
        space="nb201", ground_truth=str(nb201_table), proxies=["params", "flops", CAL, "log:params+flops"],
        out=str(tmp_path / "bench"), num_archs=12, plots=False, progress=False,
        scoring=ScoringConfig(batch_size=10, reference_size=8),
    )  # fmt: skip
    report = run_proxy_bench(cfg)
    assert report["reference_size"] == 8 and -1 <= report["proxies"][CAL]["spearman"] <= 1
    with open(tmp_path / "bench" / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cache = ScoreStore(tmp_path / "bench" / "store.sqlite", "nb201",
                       data_fingerprint(load_dataset("sample"), 0, 10, 1), "any")  # fmt: skip
    reference = [cache.get(k, list(MEMBERS)) for k in reference_keys(get_space("nb201"), 8)]
    cache.close()
    calibration = Calibration(parse_aggregate(CAL), {m: [r[m][0] for r in reference] for m in MEMBERS})
    for row in rows:
        assert float(row[CAL]) == pytest.approx(calibration.score({m: float(row[m]) for m in MEMBERS}))

    calls = []
    monkeypatch.setattr(ScoringJob, "score", lambda self, keys: calls.append(keys))
    again = run_proxy_bench(cfg)  # the reference comes from the cache
    assert calls == [] and again["proxies"][CAL] == report["proxies"][CAL]


def test_bench_refuses_a_reference_of_one_before_scoring(tmp_path, nb201_table, capsys):
    from diswot.cli import main

    args = ["bench", "proxies", "--ground-truth", str(nb201_table), "--proxies", "params,cal:params+flops",
            "--reference-size", "1", "--num-archs", "4", "--out", str(tmp_path / "o")]  # fmt: skip
    assert main(args) == 2
    assert "--reference-size must be at least 2" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
