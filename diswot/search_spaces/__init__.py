"""Search spaces: a small interface, a registry, and the built-in spaces.

Define your own by subclassing :class:`SearchSpace` (or :class:`ChoiceSpace` for one option
per gene) and decorating it with :func:`register_space`.
"""

from diswot.search_spaces import autodistil, nb201, resnet  # noqa: F401  (registers the spaces)
from diswot.search_spaces.base import (
    SPACES,
    Arch,
    Choice,
    ChoiceSpace,
    SearchSpace,
    get_space,
    list_spaces,
    register_space,
)

__all__ = [
    "SPACES",
    "Arch",
    "Choice",
    "ChoiceSpace",
    "SearchSpace",
    "get_space",
    "list_spaces",
    "register_space",
]
