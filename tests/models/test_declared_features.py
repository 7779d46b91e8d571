"""Models that declare where their features are skip the discovery pass and read the same tensors."""

from __future__ import annotations

import random

import pytest
import torch

from diswot.models import build_model, list_models
from diswot.models.features import FeatureExtractor
from diswot.search_spaces import get_space


def _image_models():
    models = [(n, lambda n=n: build_model(n)) for n in list_models() if not n.startswith("bert")]
    for space_name in ("nb201", "resnet-depth", "resnet"):
        space = get_space(space_name)
        arch = space.sample(random.Random(0))
        models.append((space_name, lambda s=space, a=arch: s.build(a)))
    return models


@pytest.mark.parametrize(("name", "make"), _image_models(), ids=[n for n, _ in _image_models()])
def test_declared_feature_modules_equal_what_discovery_finds(name, make):
    torch.manual_seed(0)
    model = make().eval()
    declared = FeatureExtractor(model)
    assert declared.resolved, f"{name} declares no feature_map_module/classifier_module"
    discovered = FeatureExtractor(model)
    discovered.classifier_name = discovered.feature_layer_name = None  # force the discovery pass
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        a, b = declared(x), discovered(x)
    assert (declared.classifier_name, declared.feature_layer_name) == (
        discovered.classifier_name,
        discovered.feature_layer_name,
    )
    for field in ("logits", "feature_map", "embedding"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
