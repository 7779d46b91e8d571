"""The model registry: CIFAR teachers/students created by short name, random-initialised."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torch import nn

from diswot.registry import Registry

ModelFactory = Callable[..., nn.Module]
#: builds the network of a ``PREFIX:KEY`` spec (``num_classes``, options), or ``None`` if the prefix
#: is not its own; the search spaces register theirs, so ``models`` never imports the layer above
SpecBuilder = Callable[[str, str, int, "dict[str, Any] | None"], "nn.Module | None"]
_SPEC_BUILDERS: list[SpecBuilder] = []
_SPEC_PREFIXES: list[Callable[[], Iterable[str]]] = []

MODELS: Registry[ModelFactory] = Registry("model")


def register_model(name: str, summary: str | None = None) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator adding a ``factory(num_classes=10) -> nn.Module`` under ``name``."""
    return MODELS.register(name, summary)


def list_models() -> list[str]:
    return MODELS.names()


def register_spec_builder(
    builder: SpecBuilder, prefixes: Callable[[], Iterable[str]] = tuple
) -> SpecBuilder:
    """Add a builder of ``PREFIX:KEY`` model specs (see :func:`~diswot.models.build_model`);
    ``prefixes`` lists the prefixes it owns, read on each call (spaces register at any time)."""
    if builder not in _SPEC_BUILDERS:
        _SPEC_BUILDERS.append(builder)
        _SPEC_PREFIXES.append(prefixes)
    return builder


def spec_prefixes() -> set[str]:
    """Every ``PREFIX`` of a ``PREFIX:KEY`` spec that a registered builder owns."""
    return {prefix for listed in _SPEC_PREFIXES for prefix in listed()}


def build_from_spec(
    prefix: str, key: str, num_classes: int, options: dict[str, Any] | None
) -> nn.Module | None:
    """The network a registered spec builder makes of ``PREFIX:KEY``; ``None`` if no builder owns it."""
    for builder in _SPEC_BUILDERS:
        model = builder(prefix, key, num_classes, options)
        if model is not None:
            return model
    return None
