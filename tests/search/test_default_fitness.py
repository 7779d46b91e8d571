"""``--proxy auto``: the default fitness follows the space and the teacher given, and names registered
proxies."""

import argparse
import re
from pathlib import Path

import pytest
from torch import nn

from diswot.cli import build_parser
from diswot.models import load_teacher
from diswot.proxies import PROXIES, parse_aggregate
from diswot.scoring.setup import (
    AUTO,
    AUTO_FITNESS,
    NB201_FITNESS,
    TEXT_FITNESS,
    resolve_fitness,
    teacher_is_trained,
)
from diswot.search import SearchConfig, search
from diswot.search_spaces import get_space

README = Path(__file__).parents[2] / "README.md"


def _registered(fitness: str) -> bool:
    aggregate = parse_aggregate(fitness)
    members = aggregate.members if aggregate is not None else (fitness,)
    return (aggregate is None or aggregate.calibrated) and all(m in PROXIES for m in members)


def test_auto_follows_the_kind_of_teacher(tmp_path):
    checkpoint = tmp_path / "teacher.pt"
    assert not teacher_is_trained(None) and not teacher_is_trained("resnet56")
    assert not teacher_is_trained("resnet-depth:333") and not teacher_is_trained(load_teacher("resnet20"))
    assert teacher_is_trained(checkpoint) and teacher_is_trained(str(checkpoint))
    assert teacher_is_trained(nn.Linear(2, 2))
    assert resolve_fitness(AUTO, None) == resolve_fitness("AUTO", "resnet110") == AUTO_FITNESS["random"]
    assert resolve_fitness(AUTO, checkpoint) == AUTO_FITNESS["trained"]
    assert resolve_fitness("synflow", checkpoint) == "synflow"
    resnet, nb201, text = get_space("resnet-depth"), get_space("nb201"), get_space("autodistil-tiny")
    assert resolve_fitness(AUTO, None, resnet) == AUTO_FITNESS["random"]
    assert resolve_fitness(AUTO, checkpoint, resnet) == AUTO_FITNESS["trained"]
    # the space's own evidence comes first: NB201's searches, the text spaces' measurements
    assert resolve_fitness(AUTO, None, nb201) == resolve_fitness(AUTO, checkpoint, nb201) == NB201_FITNESS
    assert resolve_fitness(AUTO, checkpoint, text) == TEXT_FITNESS
    assert SearchConfig().proxy == AUTO


def test_the_defaults_are_registered_and_named_where_users_read():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    help_text = re.sub(r"\s+", " ", sub.choices["search"].format_help())
    readme = README.read_text()
    for fitness in (*AUTO_FITNESS.values(), NB201_FITNESS, TEXT_FITNESS):
        assert _registered(fitness), fitness
        assert fitness in help_text and f"`{fitness}`" in readme, fitness


@pytest.mark.slow
def test_a_search_on_the_default_records_the_fitness_it_took(tmp_path):
    result = search("resnet-depth", evaluations=3, batch_size=10, out=tmp_path / "run", plots=False)
    fitness = AUTO_FITNESS["random"]
    assert result.proxy == (parse_aggregate(fitness) or PROXIES.get(fitness)).name
