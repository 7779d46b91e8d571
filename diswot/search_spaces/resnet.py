"""ResNet-like search spaces.

* ``resnet-depth``: DisWOT's CIFAR space -- the ResNet-20 skeleton (16/32/64 channels, basic
  blocks) with each stage's depth in {1, 3, 5, 7}; 64 architectures keyed by their depths
  (``"333"`` is ResNet-20).
* ``resnet``: block type plus depth and width of each of four stages; for 32x32 inputs
  (CIFAR stem) or 224x224 (ImageNet stem), large enough that a FLOPs budget matters.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from diswot.errors import InvalidArchError
from diswot.models.cifar import ResNet
from diswot.search_spaces.base import Arch, Choice, ChoiceSpace, register_space

_STAGE_DEPTHS = (1, 3, 5, 7)


def _resnet_choices() -> tuple[Choice, ...]:
    """Block type, then depth and width of each of four stages (widths 0.5x..1.25x ResNet's)."""
    genes = [Choice("block", ("basic", "bottleneck"))]
    for i, base in enumerate((64, 128, 256, 512)):
        genes.append(Choice(f"stage{i + 1}_depth", (1, 2, 3, 4)))
        genes.append(Choice(f"stage{i + 1}_width", tuple(int(base * m) for m in (0.5, 0.75, 1.0, 1.25))))
    return tuple(genes)


@register_space("resnet-depth", "DisWOT's CIFAR ResNet space: depth {1,3,5,7} per stage (64 archs)")
class ResNetDepthSpace(ChoiceSpace):
    """Keys are three digits, the depth of each stage: ``"153"``."""

    DEPTHS = _STAGE_DEPTHS
    WIDTHS = (16, 32, 64)
    choices = tuple(Choice(f"stage{i + 1}_depth", _STAGE_DEPTHS) for i in range(3))

    def __init__(self, image_size: int = 32) -> None:
        super().__init__()
        self.image_size = image_size

    def encode(self, arch: Arch) -> str:
        return "".join(str(d) for d in self.validate(arch))

    def decode(self, key: str) -> Arch:
        if not isinstance(key, str) or not re.fullmatch(r"\d{3}", key.strip()):
            raise InvalidArchError(
                f"malformed resnet-depth key {key!r}: expected three stage depths from "
                f"{self.DEPTHS}, e.g. '333' (ResNet-20) or '153'"
            )
        return self.validate(tuple(int(c) for c in key.strip()))

    def build(self, arch: Arch, num_classes: int = 10) -> nn.Module:
        return ResNet(self.validate(arch), self.WIDTHS, num_classes, stem_width=16)

    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        return torch.zeros(batch_size, 3, self.image_size, self.image_size)


@register_space("resnet", "ResNet with block type, depth and width per stage (32x32 or 224x224)")
class ResNetSpace(ChoiceSpace):
    """Keys look like ``basic-2x64-2x128-2x256-2x512`` (block, then depth x width per stage).

    Args:
        image_size: 32 selects the CIFAR stem (3x3 conv), anything larger the ImageNet stem
            (7x7/2 conv and max-pool); FLOPs are counted at this size.
    """

    choices = _resnet_choices()

    def __init__(self, image_size: int = 32) -> None:
        super().__init__()
        if image_size < 32:
            raise InvalidArchError(f"resnet space needs images of at least 32 pixels, got {image_size}")
        self.image_size = image_size

    def encode(self, arch: Arch) -> str:
        block, *genes = self.validate(arch)
        stages = [f"{genes[i]}x{genes[i + 1]}" for i in range(0, len(genes), 2)]
        return "-".join([block, *stages])

    def decode(self, key: str) -> Arch:
        parts = key.strip().split("-") if isinstance(key, str) else []
        pattern = re.compile(r"^(\d+)x(\d+)$")
        if len(parts) != 5 or not all(pattern.match(p) for p in parts[1:]):
            raise InvalidArchError(
                f"malformed resnet key {key!r}: expected BLOCK-DxW-DxW-DxW-DxW, "
                "e.g. 'basic-2x64-2x128-2x256-2x512'"
            )
        genes: list[object] = [parts[0]]
        for part in parts[1:]:
            depth, width = pattern.match(part).groups()  # type: ignore[union-attr]
            genes += [int(depth), int(width)]
        return self.validate(genes)

    def build(self, arch: Arch, num_classes: int = 10) -> nn.Module:
        block, *genes = self.validate(arch)
        return ResNet(
            depths=genes[0::2],
            widths=genes[1::2],
            num_classes=num_classes,
            stem_width=64,
            block=block,
            imagenet_stem=self.image_size > 64,
        )

    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        return torch.zeros(batch_size, 3, self.image_size, self.image_size)
