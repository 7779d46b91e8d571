"""The model registry: CIFAR teachers/students created by short name, random-initialised."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from diswot.registry import Registry

ModelFactory = Callable[..., nn.Module]

MODELS: Registry[ModelFactory] = Registry("model")


def register_model(name: str, summary: str | None = None) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator adding a ``factory(num_classes=10) -> nn.Module`` under ``name``."""
    return MODELS.register(name, summary)


def list_models() -> list[str]:
    return MODELS.names()
