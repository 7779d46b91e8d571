"""benchmarks/regenerate_attic.py: run folders merged into one CSV per experiment and written back
byte for byte (a real search's and a real training's)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from diswot.distill import Recipe, distill
from diswot.search import StrategyParams, search
from diswot.search_spaces import get_space

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "regenerate_attic.py"


@pytest.fixture(scope="module")
def attic():
    spec = importlib.util.spec_from_file_location("regenerate_attic", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_runs_merge_into_one_csv_per_experiment_and_regenerate_exactly(attic, tmp_path):
    root = tmp_path / "results"
    params = StrategyParams(population=3, tournament=2, proposals_per_step=2)
    space = get_space("nb201", cells=1)
    for seed in (0, 1):
        out = root / "bench" / "evolution_cal:params_4" / f"seed{seed}"
        search(space, proxy="params", evaluations=4, seed=seed, params=params, progress=False, plots=False,
               out=out)  # fmt: skip
    distill("resnet8", ["resnet8"], "none", recipe=Recipe(epochs=1, batch_size=40), train_subset=40,
            out=root / "bench" / "teacher_run", progress=False)  # fmt: skip
    original = tmp_path / "original"
    shutil.copytree(root, original)
    merged = attic.merge(root, prune=True)
    assert merged == ["bench/evolution_cal-params_4.csv", "bench/teacher_run.csv"]  # ':' is not for Windows
    kept = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert {k for k in kept if k.count("/") == 1} == {
        "bench/evolution_cal-params_4.csv", "bench/runs.json", "bench/teacher_run.csv"
    }  # fmt: skip
    # what cannot be regenerated (stores, checkpoints; git ignores them) stays in the run folders
    assert {Path(k).name for k in kept if k.count("/") > 1} <= {"store.sqlite", "last.pt", "model.pt"}
    header = (root / "bench" / "evolution_cal-params_4.csv").read_text().splitlines()[0]
    assert header.startswith("seed,eval_index,generation,arch,score")
    index = json.loads((root / "bench" / "runs.json").read_text())
    assert set(index) == {"evolution_cal-params_4/seed0", "evolution_cal-params_4/seed1", "teacher_run"}

    written = attic.regenerate(root)
    names = {"result.json", "run.json", "history.csv", "topk.csv", "pareto.csv", "best_score.png",
             "score_vs_flops.png", "metrics.csv", "metrics.png"}  # fmt: skip
    assert {p.name for p in written} == names
    for path in written:
        relative = path.relative_to(root).as_posix().replace("cal-params", "cal:params")
        if path.suffix == ".png":  # plots are drawn again (the search above drew none)
            assert path.stat().st_size > 1000, relative
        else:
            assert path.read_bytes() == (original / relative).read_bytes(), relative
