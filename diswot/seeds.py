"""Seeds: the range every generator diswot seeds accepts, checked in one place."""

from __future__ import annotations

from diswot.errors import DiswotError

#: numpy's generators take 32-bit seeds, so every seed diswot passes on stays within this range
SEED_RANGE = (0, 2**32 - 1)


def check_seed(value: object, what: str = "seed") -> int:
    """``value`` as a seed, or a one-line :class:`DiswotError` naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise DiswotError(f"{what} must be a whole number, got {value!r}")
    if not SEED_RANGE[0] <= value <= SEED_RANGE[1]:
        raise DiswotError(f"{what} must be between 0 and 2**32-1, got {value}")
    return value
