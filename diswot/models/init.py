"""Re-initialisations a proxy can declare, applied to the copies it scores.

DisWOT's authors score teacher and student after ``network_weight_gaussian_init`` (their
``exps/parse_s1_zc.py`` and ``exps/parse_nb201_distill.py``): every ``Conv2d`` and ``Linear``
weight drawn from N(0, 1), their biases zero, ``BatchNorm2d``/``GroupNorm`` weight 1 and bias 0;
every other module is left as it was. The scale matters little where batch normalisation
follows a layer, but it decides the classifier's logits, and with them the gradients the
semantic term compares.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

#: the module types the authors' initialisation touches, and nothing else
_WEIGHT_LAYERS = (nn.Conv2d, nn.Linear)
_NORM_LAYERS = (nn.BatchNorm2d, nn.GroupNorm)


@torch.no_grad()
def gaussian_init_(model: nn.Module, seed: int) -> nn.Module:
    """Re-initialise ``model`` in place as DisWOT's authors do, reproducibly from ``seed``.

    Values are drawn on the CPU from a generator of their own (the global RNG is left alone)
    and copied to the model's device, so a seed gives the same weights on every device.
    """
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, _WEIGHT_LAYERS):
            weight = module.weight
            weight.copy_(torch.randn(weight.shape, generator=generator, dtype=weight.dtype))
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, _NORM_LAYERS) and module.weight is not None:
            module.weight.fill_(1.0)
            module.bias.zero_()
    return model


def gaussian_copy(model: nn.Module, seed: int) -> nn.Module:
    """A re-initialised deep copy of ``model`` (see :func:`gaussian_init_`); ``model`` is untouched."""
    return gaussian_init_(copy.deepcopy(model), seed)
