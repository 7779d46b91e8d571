"""The search's cost model and the budget-restricted operators strategies sample and mutate with.

Candidates are checked against the budget with the space's cheap cost model (params and FLOPs
from one build, cached in memory and in the run store) before any proxy runs; latency is
measured only for candidates that already pass those limits, once per architecture and device.
"""

from __future__ import annotations

import random

from diswot.errors import BudgetError, DiswotError
from diswot.scoring.budget import Budget, format_quantity, measure_latency_ms
from diswot.search.store import RunStore
from diswot.search_spaces.base import Arch, SearchSpace


class CostModel:
    """Params/FLOPs (from one build, cached in memory and in the store) and measured latency."""

    def __init__(self, space: SearchSpace, budget: Budget, device: str, measure_latency: bool) -> None:
        self.space, self.budget, self.device = space, budget, device
        self.measure_latency = measure_latency
        self.store: RunStore | None = None
        self.seen: dict[str, list[float]] = {"flops": [], "params": [], "latency_ms": []}

    def cost(self, arch: Arch, key: str) -> tuple[float, float]:
        known = self.store.get_cost(key) if self.store else None
        if known is None:
            c = self.space.cost(arch)
            known = (float(c.params), float(c.flops))
            if self.store:
                self.store.put_cost(key, *known)
        return known

    def latency(self, arch: Arch, key: str) -> float:
        known = self.store.get_latency(key, self.device) if self.store else None
        if known is None:
            known = measure_latency_ms(self.space, arch, self.device)
            if self.store:
                self.store.put_latency(key, self.device, known)
        return known

    def fits(self, arch: Arch) -> bool:
        key = self.space.encode(arch)
        params, flops = self.cost(arch, key)
        self.seen["params"].append(params)
        self.seen["flops"].append(flops)
        if self.budget.violations(flops, params):
            return False
        if self.budget.needs_latency:
            latency = self.latency(arch, key)
            self.seen["latency_ms"].append(latency)
            return not self.budget.violations(flops, params, latency)
        return True

    def range_text(self) -> str:
        parts = [
            f"{k} {format_quantity(min(v))}..{format_quantity(max(v))}" for k, v in self.seen.items() if v
        ]
        return ", ".join(parts)


def admissible(space: SearchSpace, costs: CostModel, arch: Arch) -> bool:
    """Whether ``arch`` may be scored and its network (the canonical architecture) meets the budget."""
    return space.invalid_reason(arch) is None and costs.fits(space.decode(space.canonical(arch)))


def sample_within(
    space: SearchSpace, costs: CostModel, budget: Budget, rng: random.Random, tries: int
) -> Arch:
    """A random admissible architecture; an error naming the space's cost range if ``tries``
    samples find none."""
    for _ in range(tries):
        arch = space.sample(rng)
        if admissible(space, costs, arch):
            return arch
    if not costs.seen["params"]:  # no sample was valid, so none was even costed
        raise DiswotError(
            f"all {tries} random samples of space {space.name!r} are invalid, e.g. "
            f"{space.encode(arch)}: {space.invalid_reason(arch)}"
        )
    raise BudgetError(
        f"no architecture of space {space.name!r} met the budget ({budget_text(budget)}) in {tries} "
        f"random samples; the sampled architectures span {costs.range_text()}. Widen the budget."
    )


def mutate_within(
    space: SearchSpace, costs: CostModel, budget: Budget, rng: random.Random, arch: Arch
) -> Arch:
    """An admissible mutant of ``arch`` (a fresh sample if 50 mutations are not)."""
    for _ in range(50):
        child = space.mutate(arch, rng)
        if admissible(space, costs, child):
            return child
    return sample_within(space, costs, budget, rng, 1000)


def budget_text(budget: Budget) -> str:
    """``max_flops=100.00M, ...``: the budget's limits, for messages."""
    parts = [f"{k}={format_quantity(v)}" for k, v in budget.to_dict().items() if v is not None]
    return ", ".join(parts) or "none"
