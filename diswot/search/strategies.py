"""Search strategies on a DEAP toolbox: regularized evolution, NSGA-II and random search.

A strategy only *proposes* architectures. It reads four toolbox operators the engine fills in
(``sample``, ``mutate``, ``mate``: the space's operators restricted to the budget, and
``evaluate``: score a list of archs through the executor's ``map``, with the store's cache)
and stops when ``ctx.exhausted``. Recording, caching, the budget and the result are the
engine's business, so every strategy gets them for free.

Selection draws only from ``ctx.rng`` (never the global ``random``), so a run is a pure
function of its seed: the property ``--resume`` relies on.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from deap import base, tools

from diswot.registry import Registry
from diswot.search_spaces.base import Arch


class ScoreCostFitness(base.Fitness):
    weights = (1.0, -1.0)  # maximise the score, minimise the cost


class Candidate:
    """A DEAP individual: one architecture with its fitness."""

    __slots__ = ("arch", "fitness", "key")

    def __init__(self, arch: Arch, key: str, fitness: base.Fitness) -> None:
        self.arch, self.key, self.fitness = arch, key, fitness

    @property
    def score(self) -> float:
        return self.fitness.values[0]

    def __repr__(self) -> str:
        return f"Candidate({self.key!r}, {self.fitness.values})"


@dataclass(frozen=True)
class StrategyParams:
    """Knobs shared by the strategies.

    Attributes:
        population: live population size (evolution, NSGA-II).
        tournament: tournament size of regularized evolution.
        proposals_per_step: children proposed (and scored as one batch) per step; batches are
            what the executor spreads over workers, and the result depends on this number but
            never on the executor or the number of workers.
        crossover_prob: NSGA-II's probability of mating two parents before mutation.
    """

    population: int = 20
    tournament: int = 5
    proposals_per_step: int = 4
    crossover_prob: float = 0.5


class StrategyContext(Protocol):
    toolbox: base.Toolbox
    rng: random.Random

    @property
    def exhausted(self) -> bool: ...


Strategy = Callable[[StrategyContext, StrategyParams], None]
STRATEGIES: Registry[Strategy] = Registry("strategy", plural="strategies")


def _initial_population(ctx: StrategyContext, size: int) -> list[Candidate]:
    population: list[Candidate] = []
    while len(population) < size and not ctx.exhausted:
        population += ctx.toolbox.evaluate([ctx.toolbox.sample() for _ in range(size - len(population))])
    return population


@STRATEGIES.register("evolution", "regularized (aging) evolution with tournament selection, as in DisWOT")
def regularized_evolution(ctx: StrategyContext, params: StrategyParams) -> None:
    """Real et al. (2019): mutate the tournament winner, append the child, retire the oldest."""
    population = deque(_initial_population(ctx, params.population))
    while not ctx.exhausted and population:
        children = []
        for _ in range(params.proposals_per_step):
            contestants = ctx.rng.sample(list(population), min(params.tournament, len(population)))
            parent = max(contestants, key=lambda c: c.score)
            children.append(ctx.toolbox.mutate(parent.arch))
        for child in ctx.toolbox.evaluate(children):
            population.append(child)
            if len(population) > params.population:
                population.popleft()


@STRATEGIES.register("random", "uniform random sampling within the budget (the baseline)")
def random_search(ctx: StrategyContext, params: StrategyParams) -> None:
    while not ctx.exhausted:
        ctx.toolbox.evaluate([ctx.toolbox.sample() for _ in range(params.proposals_per_step)])


def _crowded_tournament(rng: random.Random, population: list[Candidate]) -> Candidate:
    """NSGA-II's binary tournament: the dominating one, else the less crowded one."""
    a, b = rng.sample(population, 2) if len(population) > 1 else (population[0], population[0])
    if a.fitness.dominates(b.fitness):
        return a
    if b.fitness.dominates(a.fitness):
        return b
    crowd_a: Any = getattr(a.fitness, "crowding_dist", 0.0)
    crowd_b: Any = getattr(b.fitness, "crowding_dist", 0.0)
    if crowd_a != crowd_b:
        return a if crowd_a > crowd_b else b
    return a if rng.random() < 0.5 else b


@STRATEGIES.register("nsga2", "NSGA-II on (proxy score, cost): returns the Pareto front")
def nsga2(ctx: StrategyContext, params: StrategyParams) -> None:
    """Deb et al. (2002) with DEAP's non-dominated sorting and crowding distance."""
    population = _initial_population(ctx, params.population)
    if not population:
        return
    population = tools.selNSGA2(population, len(population))  # assigns crowding distances
    while not ctx.exhausted:
        offspring: list[Arch] = []
        while len(offspring) < params.population:
            first = _crowded_tournament(ctx.rng, population).arch
            second = _crowded_tournament(ctx.rng, population).arch
            if ctx.rng.random() < params.crossover_prob:
                first, second = ctx.toolbox.mate(first, second)
            offspring += [ctx.toolbox.mutate(first), ctx.toolbox.mutate(second)]
        scored = ctx.toolbox.evaluate(offspring[: params.population])
        population = tools.selNSGA2(population + scored, params.population)


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates, maximising the first value and
    minimising the second (ties: the first occurrence is kept)."""
    order = sorted(range(len(points)), key=lambda i: (points[i][1], -points[i][0], i))
    front, best = [], float("-inf")
    for i in order:
        if points[i][0] > best:
            best = points[i][0]
            front.append(i)
    return sorted(front)
