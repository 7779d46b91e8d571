"""User-facing errors.

Everything the toolkit raises because of *user input* (a name, a file, a number) derives from
:class:`DiswotError`; the CLI prints these as one readable line instead of a traceback.
Each message says what was wrong and how to fix it.
"""

from __future__ import annotations


class DiswotError(Exception):
    """Base class of errors caused by user input; the message names the problem and the fix."""


class UnknownNameError(DiswotError, KeyError):
    """A registry (spaces, models, proxies, ...) has no entry of that name."""

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0]) if self.args else ""


class InvalidArchError(DiswotError, ValueError):
    """An architecture string or tuple is not a member of the search space."""


class CheckpointError(DiswotError):
    """A checkpoint cannot be read or does not fit the requested model."""


class DataError(DiswotError):
    """A dataset is missing, malformed or inconsistent with the model."""


class UnsafePickleError(DataError):
    """A pickle asked to import something that is not a plain container or numpy array."""


class BudgetError(DiswotError, ValueError):
    """A cost budget is malformed, or no architecture of the space can meet it."""


class RunDirError(DiswotError):
    """A search run directory clashes with the request (exists without --resume, or differs)."""


class StoreError(DiswotError):
    """A ``--store`` file that is not a diswot SQLite store (or one of another layout)."""


class OutputError(RunDirError):
    """An output file or folder the file system refuses (read-only, full, a name too long)."""


class RunInUseError(RunDirError):
    """Another diswot process holds the run folder's lock."""


class DeviceError(DiswotError, ValueError):
    """A ``--device`` torch does not know, or one this machine or torch build lacks."""
