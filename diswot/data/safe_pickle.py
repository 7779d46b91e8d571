"""A restricted unpickler for dataset files a user hands us.

Plain ``pickle.load`` runs whatever a file asks for. Dataset pickles (CIFAR's python layout)
need nothing but containers, strings, numbers and numpy arrays, so only the handful of numpy
globals that rebuild an array are admitted; anything else raises :class:`UnsafePickleError`.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from diswot.errors import UnsafePickleError

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # python-2 pickles of byte strings
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, source: str) -> None:
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self.source} asks to load {module}.{name}; dataset pickles may only hold "
            "containers and numpy arrays, so it was refused. Only read files from a source you trust."
        )


def safe_load(path: str | Path) -> Any:
    """Unpickle ``path`` admitting only plain containers and numpy arrays."""
    with open(path, "rb") as f:
        try:
            return _RestrictedUnpickler(f, str(path)).load()
        except UnsafePickleError:
            raise
        except Exception as exc:  # truncated or not a pickle at all
            raise UnsafePickleError(f"{path} is not a readable pickle: {exc}") from exc
