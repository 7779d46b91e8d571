"""One way to get logits, last feature map, pooled embedding and classifier from any classifier.

Works on models the toolkit never saw: on the first call the extractor watches one forward pass
with hooks on every module and picks

* the classifier: the ``nn.Linear`` whose output is what the model returns (else the last
  ``nn.Linear`` run);
* the feature map: the last output before the classifier that looks like the map it pools --
  ``(N, C, H, W)`` with ``H*W > 1`` and ``C`` equal to the classifier's input width, or a
  ``(N, T, D)`` sequence of hidden states for Transformers.

Later calls hook only those two modules. Odd models can name either module explicitly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from diswot.errors import DiswotError


@dataclass
class Features:
    """What the proxies and distillers need from one forward pass (graph kept for backward)."""

    logits: torch.Tensor  # (N, num_classes)
    feature_map: torch.Tensor  # (N, C, H, W) for CNNs, (N, T, D) for Transformers
    embedding: torch.Tensor  # (N, D): the classifier's input
    classifier: nn.Linear
    #: token inputs only: 1 for real tokens, so similarities can ignore padding
    attention_mask: torch.Tensor | None = None
    #: Transformers only: the last self-attention layer's (probs, values), when captured
    attention: tuple[torch.Tensor, torch.Tensor] | None = None


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    if isinstance(value, dict):
        return _first_tensor(list(value.values()))
    return None


def _all_tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _all_tensors(item)]
    if isinstance(value, dict):
        return _all_tensors(list(value.values()))
    return []


def _looks_like_feature_map(out: torch.Tensor, width: int, *, strict: bool) -> bool:
    if out.dim() == 4:
        spatial_ok = out.shape[2] * out.shape[3] > 1
        return spatial_ok and (out.shape[1] == width or not strict)
    if out.dim() == 3:
        return out.shape[2] == width or not strict
    return False


class FeatureExtractor:
    """Runs ``model`` and returns :class:`Features`.

    Args:
        model: any classifier ending in an ``nn.Linear``.
        classifier: dotted module name of the final linear layer, to override the automatic choice.
        feature_layer: dotted module name whose output is the last feature map, likewise.
    """

    def __init__(
        self, model: nn.Module, *, classifier: str | None = None, feature_layer: str | None = None
    ) -> None:
        self.model = model
        # a model may declare where its features are (class attributes ``feature_map_module`` and
        # ``classifier_module``): then no discovery pass runs; explicit arguments still win
        classifier = classifier or getattr(model, "classifier_module", None)
        feature_layer = feature_layer or getattr(model, "feature_map_module", None)
        self._modules = dict(model.named_modules())
        for role, name in (("classifier", classifier), ("feature_layer", feature_layer)):
            if name is not None and name not in self._modules:
                raise DiswotError(
                    f"{role}={name!r} is not a module of {type(model).__name__}; "
                    f"choose one of: {', '.join(n for n in self._modules if n)[:500]}"
                )
        if classifier is not None and not isinstance(self._modules[classifier], nn.Linear):
            raise DiswotError(f"classifier={classifier!r} must name an nn.Linear module")
        self.classifier_name = classifier
        self.feature_layer_name = feature_layer

    @property
    def resolved(self) -> bool:
        return self.classifier_name is not None and self.feature_layer_name is not None

    def __call__(self, *args: Any, **kwargs: Any) -> Features:
        if not self.resolved:
            return self._discover(*args, **kwargs)
        return self._run(*args, **kwargs)

    def _run(self, *args: Any, **kwargs: Any) -> Features:
        assert self.classifier_name is not None and self.feature_layer_name is not None
        classifier = self._modules[self.classifier_name]
        captured: dict[str, torch.Tensor] = {}

        def grab_map(_m: nn.Module, _i: Any, out: Any) -> None:
            captured["map"] = _first_tensor(out)

        def grab_head(_m: nn.Module, inputs: Any, out: torch.Tensor) -> None:
            captured["embedding"] = inputs[0]
            captured["logits"] = out

        handles = [
            self._modules[self.feature_layer_name].register_forward_hook(grab_map),
            classifier.register_forward_hook(grab_head),
        ]
        try:
            self.model(*args, **kwargs)
        finally:
            for h in handles:
                h.remove()
        if "logits" not in captured or "map" not in captured:
            raise DiswotError(
                f"the forward pass of {type(self.model).__name__} did not run "
                f"{self.classifier_name!r} and {self.feature_layer_name!r}"
            )
        return Features(
            logits=captured["logits"],
            feature_map=captured["map"],
            embedding=captured["embedding"].flatten(1),
            classifier=classifier,  # type: ignore[arg-type]
        )

    def _discover(self, *args: Any, **kwargs: Any) -> Features:
        records: list[tuple[str, nn.Module, Any, Any]] = []

        def make_hook(name: str) -> Any:
            def hook(module: nn.Module, inputs: Any, out: Any) -> None:
                records.append((name, module, inputs, out))

            return hook

        handles = [m.register_forward_hook(make_hook(n)) for n, m in self._modules.items() if n]
        try:
            result = self.model(*args, **kwargs)
        finally:
            for h in handles:
                h.remove()

        linear_positions = [i for i, r in enumerate(records) if isinstance(r[1], nn.Linear)]
        if self.classifier_name is not None:
            named = [i for i in linear_positions if records[i][0] == self.classifier_name]
            if not named:
                raise DiswotError(f"classifier {self.classifier_name!r} did not run")
            head_pos = named[-1]
        else:
            if not linear_positions:
                raise DiswotError(
                    f"{type(self.model).__name__} has no nn.Linear classifier that runs in forward; "
                    "pass classifier='module.name' explicitly"
                )
            returned = {id(t) for t in _all_tensors(result)}
            matching = [i for i in linear_positions if id(records[i][3]) in returned]
            head_pos = matching[-1] if matching else linear_positions[-1]
        head_name, head, head_inputs, logits = records[head_pos]
        width = head.in_features

        if self.feature_layer_name is not None:
            named = [i for i, r in enumerate(records) if r[0] == self.feature_layer_name]
            if not named:
                raise DiswotError(f"feature_layer {self.feature_layer_name!r} did not run")
            map_pos = named[-1]
        else:
            map_pos = -1
            for strict in (True, False):
                candidates = [
                    i
                    for i in range(head_pos)
                    if (t := _first_tensor(records[i][3])) is not None
                    and _looks_like_feature_map(t, width, strict=strict)
                ]
                if candidates:
                    map_pos = candidates[-1]
                    break
            if map_pos < 0:
                raise DiswotError(
                    f"could not find a feature map before the classifier of "
                    f"{type(self.model).__name__}; pass feature_layer='module.name' explicitly"
                )
        self.classifier_name = head_name
        self.feature_layer_name = records[map_pos][0]
        feature_map = _first_tensor(records[map_pos][3])
        assert feature_map is not None
        return Features(
            logits=logits,
            feature_map=feature_map,
            embedding=head_inputs[0].flatten(1),
            classifier=head,
        )


def extract_features(model: nn.Module, *args: Any, **kwargs: Any) -> Features:
    """One-off convenience: ``FeatureExtractor(model)(*args)``."""
    return FeatureExtractor(model)(*args, **kwargs)


def last_attention(model: nn.Module) -> nn.Module | None:
    """The last self-attention module that can keep its relations (``keep_relations``), if any."""
    found = [m for m in model.modules() if hasattr(m, "keep_relations")]
    return found[-1] if found else None


@contextlib.contextmanager
def capturing_attention(model: nn.Module) -> Iterator[list[tuple[torch.Tensor, torch.Tensor]]]:
    """Collect the last attention layer's ``(probs, values)`` of the forward passes in the block."""
    captured: list[tuple[torch.Tensor, torch.Tensor]] = []
    layer = last_attention(model)
    if layer is None:
        yield captured
        return

    def keep(module: nn.Module, _inputs: Any, _out: Any) -> None:
        captured.append((module.last_probs, module.last_values))  # type: ignore[arg-type]

    layer.keep_relations = True
    handle = layer.register_forward_hook(keep)
    try:
        yield captured
    finally:
        handle.remove()
        layer.keep_relations = False
        layer.last_probs = layer.last_values = None


def network_on_batch(extractor: FeatureExtractor, batch: Any) -> Features:
    """What every consumer reads of ``extractor``'s network on one ``batch``: logits, feature map,
    embedding, classifier, the batch's padding mask and, for Transformers, the last attention
    layer's ``(probs, values)``. The one producer shared by the proxies' pass, the teacher context
    and the trainer (gradients flow as the caller's grad mode says)."""
    with capturing_attention(extractor.model) as attention:
        feats = extractor(*batch.model_args())
    feats.attention_mask = batch.attention_mask
    feats.attention = attention[-1] if attention else None
    return feats
