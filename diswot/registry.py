"""A small name -> object registry shared by every plug-in kind.

One :class:`Registry` exists per kind (search spaces, models, proxies, distillers); entries are
added with the :meth:`Registry.register` decorator, looked up by short name, and an unknown name
raises :class:`~diswot.errors.UnknownNameError` listing close matches and every valid name.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from diswot.errors import UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    summary: str


def _first_doc_line(obj: object) -> str:
    doc = getattr(obj, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


class Registry(Generic[T]):
    """Maps short names (case-insensitive) to plug-ins of one kind."""

    def __init__(self, kind: str, plural: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or f"{kind.replace(' ', '-')}s"
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, summary: str | None = None) -> Callable[[T], T]:
        """Decorator adding ``obj`` under ``name``; a duplicate name is a programming error."""
        key = name.lower()

        def add(obj: T) -> T:
            if key in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[key] = Entry(key, obj, summary or _first_doc_line(obj))
            return obj

        return add

    def get(self, name: str) -> T:
        """The plug-in called ``name``; an unknown name lists the valid ones."""
        key = str(name).lower()
        if key in self._entries:
            return self._entries[key].obj
        close = difflib.get_close_matches(key, self._entries, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(
            f"unknown {self.kind} {name!r}.{hint} Valid names: {', '.join(self.names())} "
            f"(see `diswot list {self.plural}`)."
        )

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


def load_plugins(package: str, path: Iterable[str]) -> None:
    """Import every public module of ``package`` (its ``__path__``), so that whatever they register
    is in its registry: a new proxy, space or distiller is one new file in its folder, with no
    import list to edit."""
    for module in pkgutil.iter_modules(path):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package}.{module.name}")
