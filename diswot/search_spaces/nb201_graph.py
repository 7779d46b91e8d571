"""NAS-Bench-201 cells as labelled DAGs: which of the 15,625 cell strings are the same network.

A cell is a DAG on nodes 0 (input) .. 3 (output); every node sums its incoming edges, and an
edge applies its operation to its source node. Many strings name one network:

* ``none`` edges contribute nothing, so they are dropped (:func:`cell_dag`);
* an edge off every input->output path computes something nobody reads, or reads only zeros,
  so it is pruned (:func:`prune`); a cell with no input->output path at all outputs zeros
  whatever its weights (:func:`is_disconnected`) and is not worth scoring. Like the benchmark,
  an op applied to zeros counts as zero (strictly, a trained BatchNorm after a convolution of
  zeros adds a constant per channel);
* ``skip_connect`` is the identity, so it only moves terms between sums: ``3 <- skip(1)`` with
  ``1 <- conv(0)`` is the network ``3 <- conv(0)``;
* ``avg_pool_3x3`` has no weights, so two pools of the same tensor are the same tensor;
  a convolution has weights, so two convolutions of one tensor are two different terms, while
  one convolution read by two sums (through skips) stays one;
* the intermediate nodes 1 and 2 are interchangeable wherever the wiring allows.

:func:`network_graph` is the computation graph these rules leave: one node per distinct tensor
(the input, each sum that feeds an operation or is the output, each convolution instance, each
pooled tensor), labelled by role or op, with edges weighted by how often a tensor is added into
a sum. Two cells are the same network iff these graphs are isomorphic (:func:`same_network`,
:func:`networkx.is_isomorphic`). :func:`network_key` is an exact canonical string of that
graph, cheap enough to compute for every cell; the tests check it against the isomorphism
test. :func:`all_network_classes` partitions the whole space once per process.

The benchmark's own ``UniqueString`` (:func:`benchmark_unique_string`, reproduced exactly) is
a syntactic expansion with different classes, see the README: it counts ``none`` terms in
sums (``#+#+0`` is not ``#+0``), treats an op applied to a sum of several zeros as non-zero,
sorts terms per node rather than after flattening, and, being a tree, cannot tell one shared
convolution from two separate ones (networks with different parameter counts).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import networkx as nx

from diswot.models.nb201 import EDGES, OPS
from diswot.search_spaces.base import Arch

INPUT, OUTPUT = 0, 3
NONE, SKIP = "none", "skip_connect"
#: operations without weights: equal inputs give equal outputs, so such terms are merged
WEIGHTLESS = frozenset({"avg_pool_3x3"})
DISCONNECTED_KEY = "0"
_X = ("x",)  # the input, as a term of a sum

Sum = frozenset  # of (term, multiplicity): what a node adds up


def cell_dag(arch: Arch) -> nx.DiGraph:
    """The cell as a DAG on nodes 0..3: edge ``(from, to)`` with attribute ``op``, ``none`` dropped."""
    dag = nx.DiGraph()
    dag.add_nodes_from(range(INPUT, OUTPUT + 1))
    dag.add_edges_from((frm, to, {"op": op}) for op, (to, frm) in zip(arch, EDGES, strict=True) if op != NONE)
    return dag


def _live_edges(dag: nx.DiGraph) -> list[tuple[int, int, str]]:
    reach = nx.descendants(dag, INPUT) | {INPUT}
    feeds = nx.ancestors(dag, OUTPUT) | {OUTPUT}
    return [(u, v, op) for u, v, op in dag.edges(data="op") if u in reach and v in feeds]


def prune(dag: nx.DiGraph) -> nx.DiGraph:
    """The part of ``dag`` on input->output paths (no edges if the output is cut off)."""
    live = nx.DiGraph()
    live.add_edges_from((u, v, {"op": op}) for u, v, op in _live_edges(dag))
    return live


def is_disconnected(arch: Arch) -> bool:
    """Whether no input->output path of non-``none`` edges exists: the cell outputs zeros."""
    return not nx.has_path(cell_dag(arch), INPUT, OUTPUT)


def _sums(arch: Arch) -> tuple[Sum, dict[tuple[int, int], tuple[str, Sum]]] | None:
    """The output's sum and every live convolution ``(from, to) -> (op, its input's sum)``.

    A term is ``_X``, ``("conv", (from, to))`` (an instance: its own weights) or
    ``("pool", op, sum)`` (a value: equal inputs, equal outputs). ``None`` if disconnected.
    """
    live = _live_edges(cell_dag(arch))  # as prune(), without building a second graph
    if not live:
        return None
    sums: dict[int, Counter[tuple[object, ...]]] = {INPUT: Counter({_X: 1})}
    convs: dict[tuple[int, int], tuple[str, Sum]] = {}
    incoming: dict[int, list[tuple[int, str]]] = {}
    for u, v, op in live:
        incoming.setdefault(v, []).append((u, op))
    for v in range(INPUT + 1, OUTPUT + 1):
        total: Counter[tuple[object, ...]] = Counter()
        for u, op in incoming.get(v, ()):
            source = Sum(sums[u].items())
            if op == SKIP:
                total.update(sums[u])  # the identity adds u's terms themselves
            elif op in WEIGHTLESS:
                total[("pool", op, source)] += 1
            else:
                total[("conv", (u, v))] += 1
                convs[(u, v)] = (op, source)
        sums[v] = total
    return Sum(sums[OUTPUT].items()), convs


def network_graph(arch: Arch) -> nx.DiGraph | None:
    """The computation graph of ``arch`` with skips, dead edges and duplicate pools folded away.

    Nodes carry ``label``: ``in``, ``out``, ``in+out`` (the identity cell) or ``sum`` for sums,
    the op for convolutions and pools; edges carry ``weight``, the multiplicity of a term in a
    sum (1 from an op's input to the op). ``None`` if the cell is disconnected.
    """
    found = _sums(arch)
    if found is None:
        return None
    output, convs = found
    graph = nx.DiGraph()
    source_of = {("conv", edge): source for edge, (_, source) in convs.items()}
    op_of = {("conv", edge): op for edge, (op, _) in convs.items()}
    x = Sum({_X: 1}.items())

    def add_sum(node: Sum) -> tuple[str, Sum]:
        name = ("sum", node)
        if name in graph:
            return name
        role = "+".join(r for r, yes in (("in", node == x), ("out", node == output)) if yes)
        graph.add_node(name, label=role or "sum")
        for term, count in node:
            if term == _X:
                if node != x:  # the input is its own single term
                    graph.add_edge(add_sum(x), name, weight=count)
                continue
            if term[0] == "pool":
                op, source = term[1], term[2]
            else:
                op, source = op_of[term], source_of[term]
            if term not in graph:
                graph.add_node(term, label=op)
                graph.add_edge(add_sum(source), term, weight=1)
            graph.add_edge(term, name, weight=count)
        return name

    add_sum(x)
    add_sum(output)
    return graph


def _same(a: dict[str, object], b: dict[str, object]) -> bool:
    return a == b


def same_network(a: Arch, b: Arch) -> bool:
    """Whether two cells are the same network, by exact labelled-graph isomorphism.

    Two disconnected cells count as the same (zero) network.
    """
    ga, gb = network_graph(a), network_graph(b)
    if ga is None or gb is None:
        return ga is gb
    return nx.is_isomorphic(ga, gb, node_match=_same, edge_match=_same)


def _text(node: Sum, convs: dict[tuple[int, int], tuple[str, Sum]], names: dict[object, str]) -> str:
    """The sum as a sorted expression; convolutions carry ``names[instance]`` to tell them apart."""
    parts = []
    for term, count in node:
        if term == _X:
            text = "x"
        elif term[0] == "pool":
            text = f"{term[1]}({_text(term[2], convs, names)})"
        else:
            op, source = convs[term[1]]
            text = f"{op}({_text(source, convs, names)}){names.get(term, '')}"
        parts += [text] * count
    return "+".join(sorted(parts))


def network_key(arch: Arch) -> str:
    """An exact canonical string of :func:`network_graph` (equal iff the graphs are isomorphic).

    The sorted expression of the output, in which every convolution instance is spelled out
    with its input; instances with the same spelling get ``#1``, ``#2``, ... in the order that
    gives the smallest string, so the key says which occurrences share weights.
    ``"0"`` for a disconnected cell.
    """
    found = _sums(arch)
    if found is None:
        return DISCONNECTED_KEY
    output, convs = found
    groups: dict[str, list[object]] = {}
    for edge in convs:
        spelled = _text(Sum({(("conv", edge), 1)}), convs, {})
        groups.setdefault(spelled, []).append(("conv", edge))
    ambiguous = [members for members in groups.values() if len(members) > 1]
    if not ambiguous:
        return _text(output, convs, {})

    def namings() -> Iterator[dict[object, str]]:
        for orders in itertools.product(*(itertools.permutations(m) for m in ambiguous)):
            yield {term: f"#{i}" for order in orders for i, term in enumerate(order, 1)}

    return min(_text(output, convs, names) for names in namings())


@dataclass(frozen=True)
class NetworkClasses:
    """A partition of cells into networks.

    ``representative[arch]`` is the canonical member of ``arch``'s class: the cell with the
    fewest non-``none`` edges (so no dead or redundant edge inflates its cost), ties broken by
    the smallest string; the disconnected cells form one class, represented by the all-``none``
    cell. ``key[arch]`` is :func:`network_key`.
    """

    representative: dict[Arch, Arch]
    key: dict[Arch, str]
    num_classes: int
    num_disconnected: int


def encode_cell(arch: Arch) -> str:
    """The benchmark string of ``arch`` (unvalidated; :meth:`NB201Space.encode` validates)."""
    return "+".join(
        "|" + "|".join(f"{op}~{frm}" for op, (to, frm) in zip(arch, EDGES, strict=True) if to == node) + "|"
        for node in range(INPUT + 1, OUTPUT + 1)
    )


def network_classes(archs: Iterable[Arch]) -> NetworkClasses:
    """Partition ``archs`` by :func:`network_key`."""
    key = {tuple(arch): network_key(tuple(arch)) for arch in archs}
    members: dict[str, list[Arch]] = {}
    for arch, k in key.items():
        members.setdefault(k, []).append(arch)
    representative: dict[Arch, Arch] = {}
    for k, group in members.items():
        best = (NONE,) * len(EDGES) if k == DISCONNECTED_KEY else min(
            group, key=lambda a: (sum(op != NONE for op in a), encode_cell(a))
        )  # fmt: skip
        representative.update(dict.fromkeys(group, best))
    disconnected = len(members.get(DISCONNECTED_KEY, ()))
    return NetworkClasses(representative, key, len(members), disconnected)


@lru_cache(maxsize=1)
def all_network_classes() -> NetworkClasses:
    """:func:`network_classes` of all 15,625 cells, computed once per process (under a second)."""
    return network_classes(itertools.product(OPS, repeat=len(EDGES)))


def benchmark_unique_string(arch: Arch) -> str:
    """The benchmark's ``UniqueString`` of ``arch`` (NATS-Bench ``to_unique_str(consider_zero=True)``).

    A syntactic expansion: ``#`` is a zero term, ``skip_connect`` inlines its source, other ops
    wrap it as ``(src)@op``, and each node joins its terms, sorted, with ``+``.
    """
    nodes = {INPUT: "0"}
    for node in range(INPUT + 1, OUTPUT + 1):
        parts = []
        for op, (to, frm) in zip(arch, EDGES, strict=True):
            if to != node:
                continue
            if op == NONE or nodes[frm] == "#":
                parts.append("#")
            elif op == SKIP:
                parts.append(nodes[frm])
            else:
                parts.append(f"({nodes[frm]})@{op}")
        nodes[node] = "+".join(sorted(parts))
    return nodes[OUTPUT]
