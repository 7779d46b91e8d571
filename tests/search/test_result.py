"""A search's configuration object, and its result read back from the run directory."""

from __future__ import annotations

import dataclasses
import json

import pytest

from diswot.distill.api import student_specs
from diswot.errors import DiswotError
from diswot.search import SearchConfig, SearchResult, StrategyParams, Student, search
from diswot.search_spaces import get_space

FAST = {"progress": False, "plots": False, "params": StrategyParams(population=4, tournament=2),
        "batch_size": 8}  # fmt: skip


def without_wall_time(evaluations):
    # history.csv keeps wall_s to the millisecond
    return [dataclasses.replace(e, wall_s=round(e.wall_s, 3)) for e in evaluations]


def test_a_config_object_runs_the_same_search_as_keyword_arguments(tmp_path):
    by_kwargs = search("nb201", proxy="params", record=["nwot"], evaluations=5, seed=3, **FAST)
    config = SearchConfig.of("nb201", proxy="params", record=["nwot"], evaluations=5, seed=3, **FAST)
    by_config = search(config=config)
    assert [e.arch for e in by_config.history] == [e.arch for e in by_kwargs.history]
    assert by_config.to_dict() | {"wall_s": 0} == by_kwargs.to_dict() | {"wall_s": 0}
    with pytest.raises(TypeError, match="not both"):
        search("nb201", config=config)
    with pytest.raises(DiswotError, match="objective"):
        SearchConfig(objective="energy")


def test_a_result_loads_back_with_its_history_and_space_options(tmp_path):
    space = get_space("nb201", cells=2, channels=8)
    found = search(space, proxy="params", record=["flops"], evaluations=6, out=tmp_path / "r", **FAST)
    loaded = SearchResult.load(tmp_path / "r")
    assert loaded.to_dict() == found.to_dict()
    assert loaded.space_options == {"channels": 8, "cells": 2}
    for name in ("history", "top_k", "pareto"):
        assert without_wall_time(getattr(loaded, name)) == without_wall_time(getattr(found, name)), name
    assert loaded.history[0].proxies.keys() == {"params", "flops"}  # not the flops_proxy column name

    # distill --student result.json --top-k 2: the students are built in the space searched
    students = student_specs(str(tmp_path / "r" / "result.json"), top_k=2)
    assert students == [Student("nb201", e.arch, {"channels": 8, "cells": 2}) for e in found.top_k[:2]]
    model = students[0].build(num_classes=10)
    assert sum(p.numel() for p in model.parameters()) == found.top_k[0].params


def test_an_older_result_json_alone_still_gives_its_students(tmp_path):
    found = search("nb201", proxy="params", evaluations=4, out=tmp_path / "r", **FAST)
    saved = json.loads((tmp_path / "r" / "result.json").read_text())
    del saved["space_options"]  # written before the space's options were recorded
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "result.json").write_text(json.dumps(saved))
    loaded = SearchResult.load(tmp_path / "old" / "result.json")
    assert loaded.history == [] and [e.arch for e in loaded.top_k] == [e.arch for e in found.top_k]
    assert student_specs(str(tmp_path / "old" / "result.json"), top_k=2) == [
        Student("nb201", e.arch) for e in found.top_k[:2]
    ]


def test_a_file_that_is_no_search_result_is_a_clear_error(tmp_path):
    with pytest.raises(DiswotError, match="does not exist"):
        student_specs(str(tmp_path / "missing.json"), top_k=2)
    other = tmp_path / "other.json"
    other.write_text('{"test_accuracy": 90}')
    with pytest.raises(DiswotError, match="lacks 'space' and 'arch'"):
        student_specs(str(other))
    other.write_text("not json")
    with pytest.raises(DiswotError, match=r"not a search result\.json"):
        SearchResult.load(other)
