"""The package's import graph: no module imports one that imports it back, the lower layers
(``models``, ``data``) never import the layers above them (spaces, proxies, scoring, search,
bench), and the sub-packages form layers: no two of them import each other, even through others."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import diswot

PACKAGE = Path(diswot.__file__).parent
UPPER = {"search_spaces", "proxies", "scoring", "search", "bench"}
LOWER = {"models", "data"}


def _module_name(path: Path) -> str:
    parts = ("diswot", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> nx.DiGraph:
    """Edges ``a -> b`` for every import of a diswot module ``b`` in ``a``, lazy imports included."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    head = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*head, base] if base else head)
                targets = [base, *(f"{base}.{a.name}" for a in node.names)]
            else:
                continue
            graph.add_edges_from((name, t) for t in targets if t in modules and t != name)
    return graph


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    assert graph.number_of_edges() > 100  # the walk found the package's imports
    mutual = sorted((a, b) for a, b in graph.edges if a < b and graph.has_edge(b, a))
    assert mutual == []


def test_models_and_data_never_import_the_layers_above():
    def layer(module: str) -> str:
        return module.split(".")[1] if module.count(".") else ""

    upward = sorted((a, b) for a, b in import_graph().edges if layer(a) in LOWER and layer(b) in UPPER)
    assert upward == []


def _package_graph() -> nx.DiGraph:
    """The import graph between diswot's sub-packages (``diswot.scoring``, ``diswot.search``, ...)."""
    graph = nx.DiGraph()
    for a, b in import_graph().edges:
        pa, pb = a.split(".")[:2], b.split(".")[:2]
        if len(pa) == len(pb) == 2 and (PACKAGE / pa[1]).is_dir() and (PACKAGE / pb[1]).is_dir() and pa != pb:
            graph.add_edge(pa[1], pb[1])
    return graph


#: sub-packages from the bottom up: a package never imports one later in this list than itself
#: unless it is in the top group, whose members (the commands) may use each other's files
LAYERS = ["data", "models", "search_spaces", "proxies", "scoring"]
COMMANDS = {"search", "bench", "distill"}


def test_sub_packages_form_layers():
    graph = _package_graph()
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = sorted(
        (a, b)
        for a, b in graph.edges
        if a in rank and (b in COMMANDS or (b in rank and rank[b] > rank[a]))
    )
    assert upward == []
    # the scoring layer lies below both commands that score
    assert graph.has_edge("search", "scoring") and graph.has_edge("bench", "scoring")
    assert not graph.has_edge("bench", "search")  # bench scores through scoring, not search
