"""The search-space interface and the shared mechanics of choice-based spaces.

A search space turns architectures into networks. Architectures are hashable tuples; their
canonical string form (``encode``/``decode``, an exact round trip) is what users type, what
files store and what caches key on.
"""

from __future__ import annotations

import inspect
import itertools
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from diswot.data.batch import InputKind
from diswot.errors import DiswotError, InvalidArchError
from diswot.models.profile import Cost, profile
from diswot.models.registry import register_spec_builder
from diswot.registry import Registry

Arch = tuple[Any, ...]


class SearchSpace(ABC):
    """What every search space provides to the search engine, the proxies and the distillers.

    Subclasses implement :meth:`sample`, :meth:`mutate`, :meth:`crossover`, :meth:`encode`,
    :meth:`decode`, :meth:`build` and :meth:`example_input`; :meth:`cost` is derived from
    :meth:`build` once per architecture and cached. Finite spaces also implement
    :meth:`enumerate` and :attr:`size`. Spaces where several keys name one network, or where
    some members are not worth scoring, override :meth:`canonical` and :meth:`invalid_reason`.
    """

    name: str = "custom"
    #: number of classes used to build the network whose cost is reported
    cost_num_classes: int = 10
    #: what its networks read: images, or token ids (then ``vocab_size`` embedding rows)
    input_kind: InputKind = "images"
    vocab_size: int | None = None

    def __init__(self) -> None:
        self._cost_cache: dict[str, Cost] = {}

    # evolution operators -------------------------------------------------------------------
    @abstractmethod
    def sample(self, rng: random.Random) -> Arch:
        """A uniformly random architecture."""

    @abstractmethod
    def mutate(self, arch: Arch, rng: random.Random) -> Arch:
        """A neighbour of ``arch`` that differs from it."""

    @abstractmethod
    def crossover(self, a: Arch, b: Arch, rng: random.Random) -> tuple[Arch, Arch]:
        """Two children mixing the genes of ``a`` and ``b``."""

    # canonical names -------------------------------------------------------------------------
    @abstractmethod
    def encode(self, arch: Arch) -> str:
        """The canonical string of ``arch``."""

    @abstractmethod
    def decode(self, key: str) -> Arch:
        """The architecture named by ``key``; raises :class:`InvalidArchError` if malformed."""

    # equivalence and validity ---------------------------------------------------------------
    def canonical(self, arch: Arch) -> str:
        """The key of the network ``arch`` builds, shared by every architecture that is the same network.

        It is the :meth:`encode` key of one member of that class (so it decodes, builds and
        scores in ``arch``'s place); the search scores each class once, under this key.
        Default: ``encode(arch)``, i.e. every architecture is its own network. Spaces whose
        strings alias (NB201: ``none`` edges, dead edges, identities, symmetric nodes) override it.
        """
        return self.encode(arch)

    def invalid_reason(self, arch: Arch) -> str | None:
        """Why ``arch`` is a member of the space but must not be scored, or ``None`` if it may be.

        Default ``None``. NB201 rejects cells whose output is cut off from their input. The
        search skips such architectures while sampling and mutating, before any cost or score.
        """
        return None

    def check(self, arch: Arch) -> Arch:
        """``arch`` if it may be scored; else :class:`InvalidArchError` saying why."""
        reason = self.invalid_reason(arch)
        if reason is not None:
            raise InvalidArchError(f"{self.name} architecture {self.encode(arch)} cannot be scored: {reason}")
        return arch

    # networks ------------------------------------------------------------------------------------
    @abstractmethod
    def build(self, arch: Arch, num_classes: int = 10) -> nn.Module:
        """A randomly initialised network for ``arch``."""

    @abstractmethod
    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        """An input of the shape the built networks expect (used to count FLOPs)."""

    def cost(self, arch: Arch) -> Cost:
        """Parameters and multiply-adds of ``arch`` (built once, then cached)."""
        key = self.encode(arch)
        if key not in self._cost_cache:
            model = self.build(arch, num_classes=self.cost_num_classes)
            self._cost_cache[key] = profile(model, self.example_input(1))
        return self._cost_cache[key]

    # finite spaces --------------------------------------------------------------------------------
    @property
    def size(self) -> int | None:
        """Number of architectures, or ``None`` for an unbounded space."""
        return None

    def enumerate(self) -> Iterator[Arch]:
        """Every architecture, in the space's canonical order."""
        raise DiswotError(f"search space {self.name!r} is not finite and cannot be enumerated")

    def options(self) -> dict[str, Any]:
        """The constructor options this instance differs in from the registered default, read
        from the attributes named like ``__init__``'s parameters (``get_space(name, **options)``
        rebuilds it): e.g. ``{"cells": 3}`` for a shallower NB201."""
        found = {}
        for param in inspect.signature(type(self).__init__).parameters.values():
            value = getattr(self, param.name, param.default)
            if param.default is not inspect.Parameter.empty and value != param.default:
                found[param.name] = value
        return found

    def __repr__(self) -> str:
        size = f", size={self.size}" if self.size is not None else ""
        return f"{type(self).__name__}(name={self.name!r}{size})"


@dataclass(frozen=True)
class Choice:
    """One gene of a choice-based space: a named slot taking one of ``options``."""

    name: str
    options: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.options:
            raise ValueError(f"choice {self.name!r} has no options")


class ChoiceSpace(SearchSpace):
    """A space whose architectures are one option per :class:`Choice`.

    Implements sampling, single-gene mutation, uniform crossover, validation and enumeration
    once for every such space (NB201's edges, ResNet stage depths, Transformer dimensions).
    Subclasses set :attr:`choices` and implement ``encode``/``decode``/``build``.
    """

    choices: tuple[Choice, ...] = ()

    def validate(self, arch: Sequence[Any]) -> Arch:
        """``arch`` as a tuple, after checking every gene; else :class:`InvalidArchError`."""
        arch = tuple(arch)
        if len(arch) != len(self.choices):
            raise InvalidArchError(
                f"{self.name} architectures have {len(self.choices)} genes "
                f"({', '.join(c.name for c in self.choices)}), got {len(arch)}: {arch!r}"
            )
        for value, choice in zip(arch, self.choices, strict=True):
            if value not in choice.options:
                raise InvalidArchError(
                    f"{self.name}: {choice.name}={value!r} is not allowed; "
                    f"choose one of {list(choice.options)}"
                )
        return arch

    def sample(self, rng: random.Random) -> Arch:
        return tuple(rng.choice(c.options) for c in self.choices)

    def mutate(self, arch: Arch, rng: random.Random) -> Arch:
        mutable = [i for i, c in enumerate(self.choices) if len(c.options) > 1]
        if not mutable:
            return arch
        i = rng.choice(mutable)
        genes = list(arch)
        genes[i] = rng.choice([o for o in self.choices[i].options if o != arch[i]])
        return tuple(genes)

    def crossover(self, a: Arch, b: Arch, rng: random.Random) -> tuple[Arch, Arch]:
        child_a, child_b = [], []
        for gene_a, gene_b in zip(a, b, strict=True):
            if rng.random() < 0.5:
                gene_a, gene_b = gene_b, gene_a
            child_a.append(gene_a)
            child_b.append(gene_b)
        return tuple(child_a), tuple(child_b)

    @property
    def size(self) -> int:
        return math.prod(len(c.options) for c in self.choices)

    def enumerate(self) -> Iterator[Arch]:
        return itertools.product(*(c.options for c in self.choices))


SpaceFactory = Callable[..., SearchSpace]
SPACES: Registry[SpaceFactory] = Registry("space")


def register_space(name: str, summary: str | None = None) -> Callable[[SpaceFactory], SpaceFactory]:
    """Decorator registering a search-space class (or factory) under ``name``."""

    def add(factory: SpaceFactory) -> SpaceFactory:
        if isinstance(factory, type) and issubclass(factory, SearchSpace):
            factory.name = name
        return SPACES.register(name, summary)(factory)

    return add


def get_space(name: str, **options: Any) -> SearchSpace:
    """An instance of the space registered as ``name`` (options go to its constructor)."""
    return SPACES.get(name)(**options)


def list_spaces() -> list[str]:
    return SPACES.names()


def build_space_model(
    space_name: str, arch_key: str, num_classes: int, options: dict[str, Any] | None
) -> nn.Module | None:
    """``build_model("SPACE:ARCH")``: the registered space's network, ``None`` for other prefixes."""
    if space_name not in SPACES:
        return None
    space = get_space(space_name, **(options or {}))
    return space.build(space.decode(arch_key), num_classes=num_classes)


register_spec_builder(build_space_model, SPACES.names)
