"""NB201 cells that are the same network share one canonical key; disconnected cells are rejected."""

from __future__ import annotations

import itertools
import random
import re
from functools import lru_cache

import pandas as pd
import pytest

from diswot.errors import InvalidArchError
from diswot.search_spaces import get_space
from diswot.search_spaces.nb201_graph import (
    all_network_classes,
    benchmark_unique_string,
    is_disconnected,
    network_graph,
    network_key,
    same_network,
)

SPACE = get_space("nb201")
NUM_CELLS = 15625


def cell(text: str):
    return SPACE.decode(text)


# (a, b, why they are one network)
EQUIVALENT = [
    ("|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|",
     "|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|", "node 1 feeds nothing: a dead edge"),
    ("|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|",
     "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|", "skip_connect is the identity"),
    ("|nor_conv_1x1~0|+|avg_pool_3x3~0|none~1|+|none~0|nor_conv_3x3~1|skip_connect~2|",
     "|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|skip_connect~1|nor_conv_3x3~2|",
     "nodes 1 and 2 swapped"),
    ("|avg_pool_3x3~0|+|none~0|none~1|+|avg_pool_3x3~0|avg_pool_3x3~1|skip_connect~2|",
     "|avg_pool_3x3~0|+|none~0|avg_pool_3x3~1|+|none~0|skip_connect~1|skip_connect~2|",
     "two pools of x are one tensor (no weights)"),
    ("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
     "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|", "a conv of a zero node is dead"),
]  # fmt: skip

# (a, b, why they differ)
DIFFERENT = [
    ("|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|",
     "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|", "another op"),
    ("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|",
     "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|nor_conv_1x1~1|none~2|", "ops in the other order"),
    ("|skip_connect~0|+|none~0|none~1|+|skip_connect~0|skip_connect~1|none~2|",
     "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|", "x + x is not x"),
    # the benchmark's UniqueString merges these: one shared conv versus two separate convs
    ("|nor_conv_1x1~0|+|none~0|avg_pool_3x3~1|+|none~0|skip_connect~1|skip_connect~2|",
     "|nor_conv_1x1~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|",
     "one conv read twice versus two convs"),
]  # fmt: skip


@pytest.mark.parametrize(("a", "b", "why"), EQUIVALENT)
def test_equivalent_cells_share_one_key(a, b, why):
    assert SPACE.canonical(cell(a)) == SPACE.canonical(cell(b)), why
    assert network_key(cell(a)) == network_key(cell(b))
    assert same_network(cell(a), cell(b))  # the exact isomorphism test agrees with the key


@pytest.mark.parametrize(("a", "b", "why"), DIFFERENT)
def test_different_networks_keep_different_keys(a, b, why):
    assert SPACE.canonical(cell(a)) != SPACE.canonical(cell(b)), why
    assert not same_network(cell(a), cell(b))


def test_shared_and_separate_convs_differ_in_parameters_though_the_benchmark_merges_them():
    shared, separate = (cell(a) for a in DIFFERENT[-1][:2])
    assert benchmark_unique_string(shared) == benchmark_unique_string(separate)
    assert SPACE.cost(shared).params < SPACE.cost(separate).params


def test_canonical_is_the_simplest_member_and_idempotent():
    rng = random.Random(0)
    classes = all_network_classes()
    for _ in range(200):
        arch = SPACE.sample(rng)
        if is_disconnected(arch):
            continue
        key = SPACE.canonical(arch)
        rep = SPACE.decode(key)
        assert SPACE.canonical(rep) == key and same_network(arch, rep)
        assert sum(op != "none" for op in rep) <= sum(op != "none" for op in arch)
        assert classes.key[rep] == classes.key[arch]
    # the simplest member has no dead edge: setting any edge to none changes the network
    rep = SPACE.decode(SPACE.canonical(cell(EQUIVALENT[0][0])))
    assert rep == cell(EQUIVALENT[0][1])


def test_network_key_agrees_with_graph_isomorphism_on_hard_pairs():
    """Pairs whose keys differ only in which convolutions share weights are the hard cases."""
    classes = all_network_classes()
    buckets: dict[str, list] = {}
    for arch, key in classes.key.items():
        buckets.setdefault(re.sub(r"#\d", "", key), []).append(arch)
    rng = random.Random(1)
    hard = [b for b in buckets.values() if len({classes.key[a] for a in b}) > 1]
    assert hard
    for bucket in rng.sample(hard, 40):
        for a, b in itertools.combinations(rng.sample(bucket, min(4, len(bucket))), 2):
            assert (classes.key[a] == classes.key[b]) == same_network(a, b), (a, b)


def test_disconnected_cells_are_rejected_with_a_clear_message():
    cut = cell("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|")  # node 2 reads nothing
    assert is_disconnected(cut) and network_graph(cut) is None
    assert "outputs zeros" in SPACE.invalid_reason(cut)
    with pytest.raises(InvalidArchError, match=r"cannot be scored: no input->output path"):
        SPACE.check(cut)
    fine = cell(EQUIVALENT[0][0])
    assert SPACE.invalid_reason(fine) is None and SPACE.check(fine) == fine
    assert all_network_classes().num_disconnected == 341
    with pytest.raises(InvalidArchError, match="6 genes"):
        SPACE.canonical(("none",) * 5)
    with pytest.raises(InvalidArchError, match="not allowed"):
        SPACE.invalid_reason(("conv",) * 6)


def test_other_spaces_keep_one_network_per_key():
    space = get_space("resnet")
    arch = space.sample(random.Random(0))
    assert space.canonical(arch) == space.encode(arch) and space.invalid_reason(arch) is None


@lru_cache(maxsize=1)
def _table(path: str) -> pd.DataFrame:
    table = pd.read_csv(path, usecols=["ArchitectureString", "UniqueString"])
    table["arch"] = [SPACE.decode(s) for s in table["ArchitectureString"]]
    return table


def test_benchmark_unique_string_is_reproduced_exactly(nb201_table):
    table = _table(str(nb201_table))
    assert len(table) == NUM_CELLS and table["UniqueString"].nunique() == 6466
    assert [benchmark_unique_string(a) for a in table["arch"]] == list(table["UniqueString"])


def test_network_classes_against_the_benchmark_unique_strings(nb201_table):
    table = _table(str(nb201_table))
    classes = all_network_classes()
    assert classes.num_classes == 5260  # 5,259 connected networks and the zero network
    table["key"] = [classes.key[a] for a in table["arch"]]
    connected = table[table["key"] != "0"]
    # the benchmark's classes only merge networks we tell apart by weight sharing ...
    sharing_free = connected["key"].str.replace(r"#\d", "", regex=True)
    assert (connected.assign(s=sharing_free).groupby("UniqueString")["s"].nunique() == 1).all()
    assert (connected.groupby("UniqueString")["key"].nunique() > 1).sum() == 430
    # ... and split the same network by syntax (counted zeros, term order) in 687 cases
    assert (connected.groupby("key")["UniqueString"].nunique() > 1).sum() == 687
