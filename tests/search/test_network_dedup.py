"""The search scores each network once: equivalent NB201 cells share a score, cut-off cells get none."""

from __future__ import annotations

import json
import sqlite3

import pytest
from search_probes import CrashingExecutor

from diswot.errors import DiswotError, InvalidArchError
from diswot.scoring import EXECUTORS
from diswot.scoring.executors import SerialExecutor
from diswot.search import STRATEGIES, StrategyParams, search
from diswot.search_spaces import get_space
from diswot.search_spaces.nb201 import NB201Space
from diswot.search_spaces.nb201_graph import is_disconnected, network_key

SPACE = get_space("nb201")
SMALL = StrategyParams(population=8, tournament=3, proposals_per_step=2)
FAST = {"progress": False, "plots": False, "params": SMALL, "proxy": "params"}

CONV = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|"
CONV_ALIAS = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|nor_conv_3x3~1|none~2|"  # dead edge 2<-0
SIMPLEST = "|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"  # via node 2: the canonical
POOL = "|none~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|none~2|"
CUT = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"  # output reads only zeros


class RecordingExecutor(SerialExecutor):
    """Scores like the serial executor and remembers every key it was asked to score."""

    keys: list[str] = []  # noqa: RUF012  (a test probe shared across instances)

    def map(self, keys):
        RecordingExecutor.keys += list(keys)
        return super().map(keys)


class CrashingOnFourth(CrashingExecutor):
    """Dies like a killed process when asked to score a fourth batch."""

    crash_on = 4


SCRIPT: list[list[str]] = []


def scripted(ctx, params):
    """Proposes the batches of ``SCRIPT``, as given."""
    for batch in SCRIPT:
        ctx.toolbox.evaluate([SPACE.decode(key) for key in batch])


if "test-dedup-recording" not in EXECUTORS:
    EXECUTORS.register("test-dedup-recording", "test probe")(RecordingExecutor)
    EXECUTORS.register("test-dedup-crashing", "test probe")(CrashingOnFourth)
    STRATEGIES.register("test-scripted", "test probe")(scripted)


def test_equivalent_proposals_reuse_one_score_and_are_counted(tmp_path):
    SCRIPT[:] = [[CONV, CONV_ALIAS], [SIMPLEST, POOL, CONV], [POOL]]
    RecordingExecutor.keys = []
    result = search("nb201", strategy="test-scripted", executor="test-dedup-recording", evaluations=10,
                    out=tmp_path / "run", **FAST)  # fmt: skip
    assert SPACE.canonical(SPACE.decode(CONV)) == SIMPLEST  # fewest edges, then the smallest string
    assert RecordingExecutor.keys == [SIMPLEST, SPACE.canonical(SPACE.decode(POOL))]  # two networks scored
    assert [e.arch for e in result.history] == RecordingExecutor.keys
    assert (result.evaluations, result.duplicates, result.isomorphic_duplicates) == (2, 2, 2)
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["isomorphic_duplicates"] == 2 and saved["duplicates"] == 2


def test_an_alias_proposed_first_scores_the_simplest_member():
    SCRIPT[:] = [[CONV_ALIAS]]
    RecordingExecutor.keys = []
    result = search("nb201", strategy="test-scripted", executor="test-dedup-recording", evaluations=3, **FAST)
    assert RecordingExecutor.keys == [SIMPLEST] and result.history[0].arch == SIMPLEST
    simplest, alias = (SPACE.cost(SPACE.decode(k)).params for k in (SIMPLEST, CONV_ALIAS))
    assert result.params == simplest < alias  # the dead conv of the alias is not paid for


def test_a_disconnected_cell_is_never_scored_and_named_in_the_error(tmp_path):
    SCRIPT[:] = [[CUT]]
    with pytest.raises(InvalidArchError, match=r"cannot be scored: no input->output path"):
        search("nb201", strategy="test-scripted", evaluations=3, out=tmp_path / "run", **FAST)
    assert not (tmp_path / "run").exists()


def test_evolution_never_scores_two_equivalent_or_disconnected_cells():
    RecordingExecutor.keys = []
    result = search("nb201", executor="test-dedup-recording", evaluations=24, seed=1, **FAST)
    archs = [SPACE.decode(k) for k in RecordingExecutor.keys]
    assert len(archs) == 24 and result.isomorphic_duplicates > 0
    assert len({network_key(a) for a in archs}) == 24  # 24 different networks
    assert all(SPACE.canonical(a) == SPACE.encode(a) for a in archs)  # each scored as its simplest cell
    assert not any(is_disconnected(a) for a in archs)


def test_resume_with_isomorphism_dedup_equals_the_uninterrupted_run(tmp_path):
    kwargs = {"evaluations": 24, "seed": 1, **FAST}
    whole = search("nb201", out=tmp_path / "whole", **kwargs)
    with pytest.raises(KeyboardInterrupt):
        search("nb201", out=tmp_path / "cut", executor="test-dedup-crashing", **kwargs)
    with sqlite3.connect(tmp_path / "cut" / "store.sqlite") as conn:
        committed = conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    assert 8 <= committed < 24
    RecordingExecutor.keys = []
    resumed = search("nb201", out=tmp_path / "cut", resume=True, executor="test-dedup-recording", **kwargs)
    assert [(e.arch, e.score, e.generation) for e in resumed.history] == [
        (e.arch, e.score, e.generation) for e in whole.history
    ]
    counters = ("evaluations", "duplicates", "isomorphic_duplicates")
    assert [getattr(resumed, c) for c in counters] == [getattr(whole, c) for c in counters]
    assert whole.isomorphic_duplicates > 0
    assert len(RecordingExecutor.keys) == 24 - committed  # nothing committed is scored again


def test_a_space_with_no_valid_member_is_a_clear_error():
    class NothingValid(NB201Space):
        def invalid_reason(self, arch):
            return "this test allows nothing"

    with pytest.raises(DiswotError, match=r"are invalid, e.g. .*this test allows nothing"):
        search(NothingValid(), evaluations=2, **FAST)
