"""Cost budgets: parsing ``100M``-style numbers, checking candidates, and measuring latency.

Candidates are checked against the budget with the space's cheap cost model (params and
multiply-adds from one build, cached) before any proxy runs; latency is measured only for
candidates that already pass the params/FLOPs limits.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from diswot.errors import BudgetError
from diswot.search_spaces.base import Arch, SearchSpace

_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_NUMBER = re.compile(r"^\s*([+-]?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgGtT]?)\s*$")


def format_quantity(value: float) -> str:
    """``1.53e8`` → ``"153.00M"``: the inverse of :func:`parse_quantity`, for messages and tables."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.2f}{unit}"
    return f"{value:g}"


def parse_quantity(text: str | float | int | None, what: str = "value") -> float | None:
    """``"100M"`` → 1e8, ``"1.5G"`` → 1.5e9, ``"250000"`` → 2.5e5; ``None`` stays ``None``.

    Negative, non-finite or malformed numbers raise :class:`BudgetError` naming ``what``.
    """
    if text is None:
        return None
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        match = _NUMBER.match(text)
        if not match:
            raise BudgetError(
                f"{what} {text!r} is not a number; write e.g. 250000, 2.5e5, 100M or 1.5G "
                f"(suffixes K, M, G, T)"
            )
        value = float(match.group(1)) * _SUFFIX[match.group(2).upper()]
    if not math.isfinite(value) or value < 0:
        raise BudgetError(f"{what} must be a finite number >= 0, got {text!r}")
    return value


@dataclass(frozen=True)
class Budget:
    """Limits on a candidate's cost; ``None`` means unconstrained.

    FLOPs are multiply-adds for one input (NB201's convention); latency is the median
    milliseconds of one forward pass with batch size 1 on the search device.
    """

    max_flops: float | None = None
    min_flops: float | None = None
    max_params: float | None = None
    min_params: float | None = None
    max_latency_ms: float | None = None
    min_latency_ms: float | None = None

    def __post_init__(self) -> None:
        for kind in ("flops", "params", "latency_ms"):
            low, high = getattr(self, f"min_{kind}"), getattr(self, f"max_{kind}")
            for bound in (low, high):
                parse_quantity(bound, f"the {kind} bound")
            if low is not None and high is not None and low > high:
                raise BudgetError(f"min_{kind}={low:g} is above max_{kind}={high:g}; swap or widen them")

    @classmethod
    def parse(cls, **bounds: str | float | None) -> Budget:
        """A budget from CLI-style strings, e.g. ``Budget.parse(max_flops="100M")``."""
        return cls(**{k: parse_quantity(v, f"--{k.replace('_', '-')}") for k, v in bounds.items()})

    @property
    def needs_latency(self) -> bool:
        return self.max_latency_ms is not None or self.min_latency_ms is not None

    def violations(self, flops: float, params: float, latency_ms: float | None = None) -> list[str]:
        """Human-readable reasons a cost breaks the budget (empty when it fits)."""
        found = {"flops": flops, "params": params, "latency_ms": latency_ms}
        reasons = []
        for kind, value in found.items():
            if value is None:
                continue
            low, high = getattr(self, f"min_{kind}"), getattr(self, f"max_{kind}")
            if high is not None and value > high:
                reasons.append(f"{kind}={format_quantity(value)} > {format_quantity(high)}")
            if low is not None and value < low:
                reasons.append(f"{kind}={format_quantity(value)} < {format_quantity(low)}")
        return reasons

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


def measure_latency_ms(
    space: SearchSpace, arch: Arch, device: str | torch.device = "cpu", repeats: int = 10
) -> float:
    """Median wall time of one batch-1 forward pass of ``arch`` on ``device``, after warm-up."""
    model = space.build(arch, num_classes=space.cost_num_classes).to(device).eval()
    example = space.example_input(1).to(device)
    sync: Callable[[], None] = torch.cuda.synchronize if torch.device(device).type == "cuda" else lambda: None
    times = []
    with torch.no_grad():
        for i in range(repeats + 2):
            sync()
            started = time.perf_counter()
            model(example)
            sync()
            if i >= 2:  # the first passes pay for allocation and kernel selection
                times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)
