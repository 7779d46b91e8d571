"""The top-level API: what ``import diswot`` exports, and that no name shadows a subpackage."""

import importlib
import types

import diswot


def test_every_exported_name_exists():
    assert all(hasattr(diswot, name) for name in diswot.__all__)


def test_subpackages_are_not_shadowed_by_exports():
    for name in ("search", "search_spaces", "models", "proxies", "distill", "bench", "data"):
        module = importlib.import_module(f"diswot.{name}")
        assert isinstance(getattr(diswot, name), types.ModuleType) and getattr(diswot, name) is module


def test_run_search_is_the_search_function():
    import diswot.search

    assert diswot.run_search is diswot.search.search and callable(diswot.run_search)
