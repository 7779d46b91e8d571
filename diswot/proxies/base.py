"""Proxy plumbing: the batch, the teacher context, the per-candidate probe, and the registry.

Scoring a candidate runs the cheapest set of passes that serves every requested proxy:
one *shared pass* (a forward, plus a cross-entropy backward when a gradient proxy asks for it)
whose features, weight gradients, ReLU codes and activation gradients the proxies read, and
separate passes only for proxies that need another input or modified weights (synflow, zen,
jacob_cov, grasp, zico). Those restore the model afterwards, so proxy order never matters.
The teacher's side of every similarity lives in a :class:`TeacherContext`, computed once per
batch and reused for every candidate.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

import torch
from torch import nn

from diswot.data.batch import Batch
from diswot.errors import DiswotError
from diswot.models.features import FeatureExtractor, Features, network_on_batch
from diswot.models.init import gaussian_copy
from diswot.registry import Registry
from diswot.similarity import (
    class_similarity,
    classifier_gradient,
    row_normalised_gram,
    self_attention_relations,
)

T = TypeVar("T")


def scoring_mode(model: nn.Module, train: bool = True) -> nn.Module:
    """``model.train(train)`` with dropout switched off: proxies measure the network's function
    at initialisation, and dropout would only add noise (and depend on the batch's shape)."""
    model.train(train)
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.eval()
    return model


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """Convolutions and linear layers: the layers the classic proxies sum over."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Conv1d, nn.Linear))]


@contextlib.contextmanager
def preserved_state(model: nn.Module) -> Iterator[nn.Module]:
    """Run a block that may change weights, buffers, dtype or mode; restore all of it after."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    dtype = next(model.parameters()).dtype
    was_training = model.training
    try:
        yield model
    finally:
        model.to(dtype)
        model.load_state_dict(saved)
        model.train(was_training)
        model.zero_grad(set_to_none=True)


@contextlib.contextmanager
def restored_buffers(model: nn.Module) -> Iterator[nn.Module]:
    """Run a block that only changes buffers (train-mode BN statistics); restore them after.

    Cheaper than :func:`preserved_state` for passes that leave weights and dtype alone."""
    saved = {k: v.clone() for k, v in model.named_buffers()}
    try:
        yield model
    finally:
        with torch.no_grad():
            for k, v in model.named_buffers():
                v.copy_(saved[k])


@dataclass
class TeacherContext:
    """The teacher's side of every similarity for one batch, computed once.

    Args:
        teacher: the teacher network (random-init or pretrained).
        batch: the batch every candidate is scored on.
        pretrained: a trained teacher runs in eval mode (its BN statistics are meaningful);
            a random one in train mode, like the students.
    """

    teacher: nn.Module
    batch: Batch
    pretrained: bool = False
    features: Features = field(init=False)
    classifier_grad: torch.Tensor = field(init=False)
    class_similarity: torch.Tensor = field(init=False)
    relation: torch.Tensor = field(init=False)
    #: MiniLM relations of the last self-attention layer (Transformers only)
    attention_relations: tuple[torch.Tensor, torch.Tensor] | None = field(init=False, default=None)
    _memo: dict[str, Any] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # the teacher object is the caller's: its mode and (train-mode BN) statistics stay as given
        modes = {m: m.training for m in self.teacher.modules()}
        scoring_mode(self.teacher, train=not self.pretrained)
        try:
            with torch.no_grad(), restored_buffers(self.teacher):
                feats = network_on_batch(FeatureExtractor(self.teacher), self.batch)
        finally:
            for module, training in modes.items():
                module.training = training
        if feats.attention is not None:
            self.attention_relations = self_attention_relations(*feats.attention, self.batch.attention_mask)
        num_classes = feats.logits.shape[1]
        if self.batch.num_classes_seen > num_classes:
            raise DiswotError(
                f"the teacher predicts {num_classes} classes but the data has labels up to "
                f"{self.batch.num_classes_seen - 1}; use a teacher trained for this dataset"
            )
        self.features = Features(
            feats.logits.detach(), feats.feature_map.detach(), feats.embedding.detach(), feats.classifier
        )
        self.classifier_grad = classifier_gradient(feats.logits, self.batch.labels, feats.embedding)
        self.class_similarity = class_similarity(self.classifier_grad)
        self.relation = row_normalised_gram(self.features.feature_map, self.batch.attention_mask)

    @property
    def num_classes(self) -> int:
        return int(self.features.logits.shape[1])

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per context: the teacher's side of a similarity several proxies
        (and every candidate) read."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def reinitialised(self, seed: int) -> TeacherContext:
        """The context of a copy of this teacher re-initialised as DisWOT's authors do (their
        code re-initialises even a trained teacher); it runs in train mode, like any random
        network. The teacher itself is left untouched."""
        return TeacherContext(gaussian_copy(self.teacher, seed), self.batch, pretrained=False)


class Probe:
    """Everything proxies read about one candidate on one batch, computed at most once.

    ``teacher`` is the teacher context of the proxy being scored: the scorer sets it before each
    proxy runs, since proxies that re-initialise the teacher read another context than those
    that keep it as given.
    """

    def __init__(
        self,
        model: nn.Module,
        batch: Batch,
        needs: frozenset[str],
        teacher: TeacherContext | None = None,
        seed: int = 0,
        extractor: FeatureExtractor | None = None,
    ) -> None:
        self.model, self.batch, self.teacher, self.seed = model, batch, teacher, seed
        self.extractor = extractor or FeatureExtractor(model)
        self.features: Features | None = None
        self.weight_grads: dict[nn.Module, torch.Tensor] = {}
        self.relu_kernel: torch.Tensor | None = None
        self.fisher_terms: list[torch.Tensor] = []
        self.attention: tuple[torch.Tensor, torch.Tensor] | None = None  # last layer's (probs, values)
        self.shared_pass_ms = 0.0
        self._memo: dict[str, Any] = {}
        self._memo_ms: dict[str, float] = {}  # what computing each memoised value took
        self.memo_read: set[str] = set()  # keys read since the scorer last cleared it
        if needs:
            self._shared_pass(needs)

    def _shared_pass(self, needs: frozenset[str]) -> None:
        started = time.perf_counter()
        model, batch = self.model, self.batch
        scoring_mode(model)
        model.zero_grad(set_to_none=True)
        handles = []
        if "relu_codes" in needs:
            n = batch.inputs.shape[0]
            self.relu_kernel = torch.zeros(n, n, dtype=torch.float64)

            def codes(_m: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
                # 0/1 codes: float32 products are exact integers far beyond these sizes
                c = (inputs[0].detach().reshape(n, -1) > 0).float()
                agree = c @ c.t() + (1 - c) @ (1 - c).t()
                self.relu_kernel += agree.double()  # type: ignore[operator]

            handles += [m.register_forward_pre_hook(codes) for m in model.modules() if _is_relu(m)]
        if "fisher" in needs:

            def keep_activation(m: nn.Module, _i: Any, out: torch.Tensor) -> None:
                if out.requires_grad:
                    activation, fan_in = out.detach(), m.weight[0].numel()
                    out.register_hook(lambda grad: self._fisher(activation, grad, fan_in))

            handles += [m.register_forward_hook(keep_activation) for m in weight_layers(model)]
        needs_grad = bool({"grads", "fisher"} & needs)
        # train-mode BN updates running statistics; keep the candidate exactly as it was built
        try:
            with restored_buffers(model), torch.set_grad_enabled(needs_grad):
                feats = network_on_batch(self.extractor, batch)
                if needs_grad:
                    loss = nn.functional.cross_entropy(feats.logits, batch.labels)
                    loss.backward()
        finally:
            for h in handles:
                h.remove()
        if needs_grad:
            self.weight_grads = {
                m: m.weight.grad.detach().clone() for m in weight_layers(model) if m.weight.grad is not None
            }
            model.zero_grad(set_to_none=True)
        if feats.attention is not None:
            self.attention = (feats.attention[0].detach(), feats.attention[1].detach())
        self.features = Features(
            feats.logits.detach(), feats.feature_map.detach(), feats.embedding.detach(), feats.classifier
        )
        self.shared_pass_ms = (time.perf_counter() - started) * 1e3

    def _fisher(self, activation: torch.Tensor, grad: torch.Tensor, fan_in: int) -> None:
        reduce_dims = tuple(range(2, activation.dim()))
        per_channel = (activation * grad).sum(reduce_dims) if reduce_dims else activation * grad
        # The reference (zero-cost-nas) copies each output channel's value onto every weight of
        # that channel before summing, so a channel counts once per weight: its fan-in
        # (in_channels / groups x kernel area; in_features for a linear layer).
        self.fisher_terms.append(0.5 * per_channel.pow(2).mean(0).sum() * fan_in)

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, run once per probe under ``key``: for passes several proxies read."""
        if key not in self._memo:
            started = time.perf_counter()
            self._memo[key] = compute()
            self._memo_ms[key] = (time.perf_counter() - started) * 1e3
        self.memo_read.add(key)
        return self._memo[key]

    def memo_ms(self, keys: set[str]) -> float:
        """What the memoised values under ``keys`` took to compute, in milliseconds."""
        return sum(self._memo_ms[k] for k in keys)

    def require_teacher(self, proxy: str) -> TeacherContext:
        if self.teacher is None:
            raise DiswotError(f"proxy {proxy!r} compares with a teacher; give one (--teacher NAME|CKPT)")
        return self.teacher

    @property
    def feats(self) -> Features:
        assert self.features is not None, "the shared pass did not run"
        return self.features


def _is_relu(module: nn.Module) -> bool:
    return isinstance(module, (nn.ReLU, nn.ReLU6))


ProxyFn = Callable[[Probe], float | torch.Tensor]

#: What a proxy's networks are before it scores them, always on copies (a caller's model and
#: teacher objects are never changed):
#:
#: * ``as_built``: the candidate as its space built it, the teacher as given;
#: * ``authors``: both re-initialised as DisWOT's authors do (:func:`diswot.models.init.gaussian_init_`;
#:   their code re-initialises a trained teacher too);
#: * ``authors_student``: the candidate re-initialised so, the teacher kept as given (a
#:   trained teacher stays trained).
Init = Literal["as_built", "authors", "authors_student"]
INITS: frozenset[str] = frozenset(get_args(Init))


@dataclass(frozen=True)
class ProxySpec:
    """A registered proxy.

    ``needs`` lists what the shared pass must provide (``forward``, ``grads``, ``relu_codes``,
    ``fisher``); an empty set means the proxy runs its own passes. Every proxy is defined so
    that **higher is better**; ``formula`` says how (e.g. a negated distance). ``init`` says on
    what weights it scores (:data:`Init`).
    """

    name: str
    fn: ProxyFn
    needs: frozenset[str]
    needs_teacher: bool
    formula: str
    #: raised when the definition changes, so caches made by an older definition are not reused
    version: int = 1
    init: Init = "as_built"

    @property
    def student_reinit(self) -> bool:
        return self.init != "as_built"

    @property
    def teacher_reinit(self) -> bool:
        return self.init == "authors"

    @property
    def cache_key(self) -> str:
        """The name scores are stored under: ``name`` for version 1, else ``name@version``."""
        return self.name if self.version == 1 else f"{self.name}@{self.version}"

    @property
    def summary(self) -> str:
        return self.formula


PROXIES: Registry[ProxySpec] = Registry("proxy", plural="proxies")


#: what a proxy can ask the shared pass for: logits and features, weight gradients of the
#: cross-entropy, NASWOT's ReLU codes, Fisher's activation x gradient terms
Need = Literal["forward", "grads", "relu_codes", "fisher"]
NEEDS: frozenset[str] = frozenset(get_args(Need))


def register_proxy(
    name: str,
    *,
    needs: tuple[Need, ...] = (),
    teacher: bool = False,
    formula: str = "",
    version: int = 1,
    init: Init = "as_built",
) -> Callable[[ProxyFn], ProxyFn]:
    """Decorator registering ``fn(probe) -> float`` as proxy ``name`` (higher is better).

    ``needs`` names what the shared pass must compute (see :data:`Need`); a name outside it is an
    error here, at registration, rather than a proxy that silently reads nothing. Raise
    ``version`` whenever the definition changes: cached scores of other versions are then
    recomputed instead of reused. ``init`` declares the weights it scores (:data:`Init`); the
    scorer re-initialises copies, so the proxy itself never touches a model's weights.
    """
    unknown = sorted(set(needs) - NEEDS)
    if unknown:
        raise DiswotError(
            f"proxy {name!r} needs {', '.join(map(repr, unknown))}, which the shared pass does not "
            f"provide; choose from {', '.join(sorted(NEEDS))}"
        )
    if init not in INITS or (init == "authors" and not teacher):
        raise DiswotError(
            f"proxy {name!r}: init {init!r} is not one of {', '.join(sorted(INITS))} "
            "('authors' re-initialises a teacher, so only teacher proxies take it)"
        )

    def add(fn: ProxyFn) -> ProxyFn:
        text = formula or (fn.__doc__ or "").strip().splitlines()[0]
        spec = ProxySpec(name, fn, frozenset(needs), teacher, text, version=version, init=init)
        PROXIES.register(name, text)(spec)
        return fn

    return add


def finite(value: float | torch.Tensor, proxy: str, arch: str) -> float:
    """``value`` as a float; NaN or infinity is an error naming the proxy and the architecture."""
    number = float(value.detach().item() if isinstance(value, torch.Tensor) else value)
    if not math.isfinite(number):
        raise DiswotError(
            f"proxy {proxy!r} gave {number} for architecture {arch!r}; this usually means the "
            "network's activations overflow at initialisation (try another --seed or batch)"
        )
    return number
