"""Search spaces: a small interface, a registry, and the built-in spaces.

Define your own by subclassing :class:`SearchSpace` (or :class:`ChoiceSpace` for one option
per gene) and decorating it with :func:`register_space`.
"""

from diswot.registry import load_plugins
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

# every module of this folder registers its plug-ins: a new one is a new file, nothing to list here
load_plugins(__name__, __path__)
