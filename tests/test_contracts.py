"""Contract tests: every registered proxy, search space and distiller, whatever its name.

The parameters are read from the registries (``PROXIES``, ``SPACES``, ``DISTILLERS``), so a new
plug-in is checked here without editing a list. Inputs are tiny (the embedded CIFAR-10 sample,
NB201 with one cell per stage, a synthetic token dataset and one-layer Transformers) so the whole
file runs in well under a minute on one core.

Plug-ins that only make sense for one kind of input (``minilm`` compares self-attention layers)
must refuse the other kind with a :class:`DiswotError` and work on theirs: each is run on images
and on tokens.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from diswot.data import load_sample
from diswot.data.text import TextDataset
from diswot.distill import DISTILLERS, DistillationLoss
from diswot.errors import DiswotError
from diswot.models import TransformerClassifier, build_model
from diswot.models.features import FeatureExtractor, Features, network_on_batch
from diswot.proxies import PROXIES, Batch, ProxyScorer, TeacherContext
from diswot.proxies.base import NEEDS, register_proxy
from diswot.search_spaces import SPACES, SearchSpace, get_space

# Options that only make a space's networks smaller (not a list of the spaces to test).
FAST_OPTIONS = {"nb201": {"cells": 1}}
TOKENS = 16  # sequence length of the synthetic texts and of text spaces' example inputs
VOCAB = 64


def synthetic_texts(rows: int = 24) -> TextDataset:
    """Random token ids with per-row lengths (so padding and masks matter), four balanced classes
    (with two, class-similarity matrices are the same for every network)."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1, VOCAB, (rows, TOKENS), generator=gen)
    lengths = torch.randint(4, TOKENS + 1, (rows,), generator=gen)
    mask = torch.arange(TOKENS)[None, :] < lengths[:, None]
    return TextDataset(ids * mask, mask, torch.arange(rows) % 4, ["a", "b", "c", "d"], name="synthetic")


def text_model(seed: int, hidden: int = 32, heads: int = 2) -> nn.Module:
    """A one-layer Transformer; its LayerNorm scales are spread as training would (at their
    initial value of one every token has the same mean square, so attention maps would tie)."""
    torch.manual_seed(seed)
    model = TransformerClassifier(
        vocab_size=VOCAB, hidden=hidden, layers=1, heads=heads, ffn=2 * hidden, num_classes=4,
        max_len=TOKENS, head_dim=16,
    )  # fmt: skip
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
    return model


@dataclass(frozen=True)
class Setting:
    """One kind of input: a scoring batch, a teacher and two different students."""

    batch: Batch
    teacher: nn.Module
    student: Callable[[], nn.Module]  # a fresh student, identically initialised each call
    other: nn.Module  # a student that differs from the teacher


@pytest.fixture(scope="module")
def settings() -> dict[str, Setting]:
    images = load_sample().scoring_batch(20, seed=0)
    nb201 = get_space("nb201", **FAST_OPTIONS["nb201"])
    best = nb201.decode(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )

    def image_student() -> nn.Module:
        torch.manual_seed(1)
        return nb201.build(best, num_classes=10)

    torch.manual_seed(0)
    image_teacher = build_model("resnet8")
    texts = synthetic_texts().scoring_batch(12, seed=0)
    return {
        "images": Setting(images, image_teacher, image_student, image_student()),
        "tokens": Setting(texts, text_model(0), lambda: text_model(1, 16, 1), text_model(2, 16, 1)),
    }


# proxies ---------------------------------------------------------------------------------------


def score(setting: Setting, names: list[str], model: nn.Module | None = None) -> dict[str, float]:
    scorer = ProxyScorer(names, setting.batch, TeacherContext(setting.teacher, setting.batch), seed=0)
    results = scorer.score_model(model if model is not None else setting.student())
    assert all(result.ms >= 0 for result in results.values())
    return {name: result.value for name, result in results.items()}


@pytest.fixture(scope="module")
def alone(settings) -> dict[tuple[str, str], float | DiswotError]:
    """Each proxy scored on its own, per setting: its value, or the error it raised."""
    outcomes: dict[tuple[str, str], float | DiswotError] = {}
    for kind, setting in settings.items():
        for name in PROXIES.names():
            try:
                outcomes[name, kind] = score(setting, [name])[name]
            except DiswotError as error:
                outcomes[name, kind] = error
    return outcomes


@pytest.mark.parametrize("name", PROXIES.names())
def test_proxy_gives_a_finite_float_or_a_clear_error(name, alone):
    for kind in ("images", "tokens"):
        outcome = alone[name, kind]
        if isinstance(outcome, DiswotError):
            message = str(outcome)
            assert name in message and "\n" not in message, (kind, message)  # one line naming the proxy
        else:
            assert isinstance(outcome, float) and math.isfinite(outcome), (kind, outcome)
    assert any(not isinstance(alone[name, kind], DiswotError) for kind in ("images", "tokens"))


@pytest.fixture(scope="module")
def together(settings, alone) -> dict[str, list[dict[str, float]]]:
    """Per setting, every proxy that works there scored at once: in registry order, in reverse
    order, and in registry order again."""
    runs = {}
    for kind, setting in settings.items():
        names = [n for n in PROXIES.names() if not isinstance(alone[n, kind], DiswotError)]
        runs[kind] = [score(setting, names), score(setting, names[::-1]), score(setting, names)]
    return runs


@pytest.mark.parametrize("name", PROXIES.names())
def test_proxy_is_deterministic_alone_and_among_others(name, alone, together):
    for kind, runs in together.items():
        if isinstance(alone[name, kind], DiswotError):
            continue
        for run in runs:
            assert run[name] == pytest.approx(alone[name, kind], rel=1e-5, abs=1e-9), kind


@pytest.mark.parametrize("name", PROXIES.names())
def test_proxy_declares_its_direction(name):
    """Every proxy is higher-is-better by the registry's contract; its formula says how (e.g. a
    negated distance)."""
    spec = PROXIES.get(name)
    assert spec.formula.strip() and PROXIES.entries()[PROXIES.names().index(name)].summary
    assert spec.needs <= NEEDS  # only what the shared pass provides


def test_a_misspelt_need_is_an_error_at_registration():
    with pytest.raises(DiswotError, match=r"'grad'.*choose from"):
        register_proxy("test-misspelt", needs=("grad",))  # the shared pass provides "grads"
    assert "test-misspelt" not in PROXIES.names()


class NaNNetwork(nn.Module):
    """A CNN whose weights are NaN: every activation, gradient and similarity is NaN."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.relu = nn.ReLU()
        self.classifier = nn.Linear(8, 10)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.fill_(float("nan"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.relu(self.conv(x))), 1))


@pytest.mark.parametrize("name", PROXIES.names())
def test_proxy_raises_a_clear_error_instead_of_nan(name, settings):
    setting = settings["images"]
    try:
        value = score(setting, [name], model=NaNNetwork())[name]
    except DiswotError as error:
        assert name in str(error) and "\n" not in str(error)
    else:
        assert math.isfinite(value)  # e.g. a parameter count does not look at the weights' values


@pytest.mark.parametrize("name", ["zico", "jacob_cov"])
def test_weight_reading_proxies_refuse_nan_weights(name, settings):
    # they used to return a plausible value (zico 0.0, jacob_cov its floor) for a NaN network
    with pytest.raises(DiswotError, match=name):
        score(settings["images"], [name], model=NaNNetwork())


# search spaces -----------------------------------------------------------------------------------


def tiny_space(name: str) -> SearchSpace:
    return get_space(name, **FAST_OPTIONS.get(name, {}))


@pytest.mark.parametrize("name", SPACES.names())
def test_space_round_trips_and_its_operators_stay_within_the_space(name):
    space = tiny_space(name)
    rng = random.Random(0)
    for _ in range(50):
        arch = space.sample(rng)
        key = space.encode(arch)
        assert isinstance(key, str) and space.decode(key) == arch
        assert space.encode(space.decode(key)) == key
        child = space.mutate(arch, rng)
        assert child != arch and space.decode(space.encode(child)) == child
        other = space.sample(rng)
        a, b = space.crossover(arch, other, rng)
        assert space.decode(space.encode(a)) == a and space.decode(space.encode(b)) == b
        for genes in zip(a, b, arch, other, strict=True):  # each gene comes from one parent
            assert sorted(genes[:2], key=str) == sorted(genes[2:], key=str)


@pytest.mark.parametrize("name", SPACES.names())
def test_space_builds_networks_with_logits_of_the_right_shape_and_a_positive_cost(name):
    space = tiny_space(name)
    arch = space.sample(random.Random(1))
    x = space.example_input(2)
    if x.dtype == torch.long:  # token inputs: a short sequence is enough
        x = x[:, :TOKENS]
    with torch.no_grad():
        out = space.build(arch, num_classes=3).eval()(x)
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    cost = space.cost(arch)
    assert cost.params > 0 and cost.flops > 0


# distillers ---------------------------------------------------------------------------------------


def features(model: nn.Module, batch: Batch) -> Features:
    """Features as the trainer takes them (padding mask and attention relations included)."""
    model.train()
    return network_on_batch(FeatureExtractor(model), batch)


@pytest.mark.parametrize("name", DISTILLERS.names())
def test_distiller_is_zero_on_equal_features_positive_otherwise_and_differentiable(name, settings):
    tested = []
    for kind, setting in settings.items():
        torch.manual_seed(0)
        teacher = features(setting.teacher, setting.batch)
        try:
            same = DistillationLoss([(name, 1.0)], teacher, teacher)
        except DiswotError as error:
            assert name in str(error)
            continue
        labels = setting.batch.labels
        assert float(same(teacher, teacher, labels).detach()) == pytest.approx(0.0, abs=1e-6), kind
        student = features(setting.other, setting.batch)
        loss = DistillationLoss([(name, 1.0)], student, teacher)
        value = loss(student, teacher, labels)
        assert float(value.detach()) > 1e-6, kind
        params = [p for p in setting.other.parameters() if p.requires_grad]
        params += [p for p in loss.parameters() if p.requires_grad]  # e.g. FitNet's regressor
        grads = torch.autograd.grad(value, params, allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads), kind
        tested.append(kind)
    assert tested, "the distiller works on neither images nor tokens"
