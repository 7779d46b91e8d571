"""CIFAR networks from the distillation literature (CRD / DisWOT model zoos), random-initialised.

The ResNet here is parameterised by per-stage depth and width so the ``resnet-depth`` search
space builds its students with the very same class as the hand-designed resnet20/56/110.
Global pooling is adaptive, so every model also runs on inputs larger than 32x32.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from diswot.models.registry import register_model


def conv_bn(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
    ]


class BasicBlock(nn.Module):
    """Post-activation residual block of two 3x3 convolutions (He et al. 2016)."""

    expansion = 1

    def __init__(self, c_in: int, width: int, stride: int = 1) -> None:
        super().__init__()
        c_out = width * self.expansion
        self.body = nn.Sequential(
            *conv_bn(c_in, width, 3, stride), nn.ReLU(inplace=True), *conv_bn(width, c_out, 3, 1)
        )
        self.shortcut = (
            nn.Sequential(*conv_bn(c_in, c_out, 1, stride)) if stride != 1 or c_in != c_out else nn.Identity()
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class Bottleneck(BasicBlock):
    """1x1-3x3-1x1 residual block whose output is ``4 * width`` channels."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1) -> None:
        super().__init__(c_in, width, stride)
        c_out = width * self.expansion
        self.body = nn.Sequential(
            *conv_bn(c_in, width, 1),
            nn.ReLU(inplace=True),
            *conv_bn(width, width, 3, stride),
            nn.ReLU(inplace=True),
            *conv_bn(width, c_out, 1),
        )


BLOCKS: dict[str, type[BasicBlock]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNet(nn.Module):
    """A ResNet with free per-stage depth and width.

    Args:
        depths: blocks per stage (a 0 is not allowed).
        widths: block width per stage; the first stage keeps the resolution, later ones halve it.
        stem_width: output channels of the stem.
        block: ``"basic"`` or ``"bottleneck"``.
        imagenet_stem: 7x7/2 convolution and max-pooling (for 224x224) instead of one 3x3 conv.
    """

    # where FeatureExtractor reads the last feature map and the classifier (no discovery pass)
    feature_map_module, classifier_module = "stages", "fc"

    def __init__(
        self,
        depths: Sequence[int],
        widths: Sequence[int],
        num_classes: int = 10,
        stem_width: int = 16,
        block: str = "basic",
        imagenet_stem: bool = False,
    ) -> None:
        super().__init__()
        if len(depths) != len(widths) or min(depths) < 1:
            raise ValueError("depths and widths need one positive entry per stage")
        block_cls = BLOCKS[block]
        if imagenet_stem:
            stem: list[nn.Module] = [
                *conv_bn(3, stem_width, 7, 2),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2, 1),
            ]
        else:
            stem = [*conv_bn(3, stem_width, 3, 1), nn.ReLU(inplace=True)]
        self.stem = nn.Sequential(*stem)
        stages: list[nn.Module] = []
        c_in = stem_width
        for i, (depth, width) in enumerate(zip(depths, widths, strict=True)):
            blocks = []
            for j in range(depth):
                blocks.append(block_cls(c_in, width, 2 if (i > 0 and j == 0) else 1))
                c_in = width * block_cls.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def _init_weights(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def cifar_resnet(depth: int, widths: Sequence[int], num_classes: int) -> ResNet:
    """The CIFAR ResNet-``depth`` of He et al.: three stages of ``(depth - 2) / 6`` basic blocks."""
    if (depth - 2) % 6:
        raise ValueError("CIFAR ResNet depth must be 6n + 2")
    n = (depth - 2) // 6
    return ResNet((n, n, n), widths[1:], num_classes, stem_width=widths[0])


_THIN = (16, 16, 32, 64)
_WIDE = (32, 64, 128, 256)
for _depth in (8, 14, 20, 32, 44, 56, 110):
    register_model(f"resnet{_depth}", f"CIFAR ResNet-{_depth} (16/32/64 channels)")(
        lambda num_classes=10, _d=_depth: cifar_resnet(_d, _THIN, num_classes)
    )
for _depth in (8, 32):
    register_model(f"resnet{_depth}x4", f"CIFAR ResNet-{_depth} with 4x wider stages")(
        lambda num_classes=10, _d=_depth: cifar_resnet(_d, _WIDE, num_classes)
    )


class PooledClassifier(nn.Module):
    """``features`` -> global average pooling -> ``fc``: the head every CIFAR model here shares."""

    features: nn.Module
    fc: nn.Linear
    # where FeatureExtractor reads the last feature map and the classifier (no discovery pass)
    feature_map_module, classifier_module = "features", "fc"

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class PreActBlock(nn.Module):
    """Wide-ResNet block: BN-ReLU-conv twice, projection shortcut when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.pre = nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU(inplace=True))
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.conv2 = nn.Sequential(
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
        )
        self.shortcut = (
            nn.Conv2d(c_in, c_out, 1, stride, 0, bias=False) if c_in != c_out or stride != 1 else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = self.pre(x)
        out = self.conv2(self.conv1(activated))
        return out + (x if self.shortcut is None else self.shortcut(activated))


class WideResNet(PooledClassifier):
    """WRN-depth-k of Zagoruyko & Komodakis (2016)."""

    def __init__(self, depth: int, widen: int, num_classes: int = 10) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError("WRN depth must be 6n + 4")
        n = (depth - 4) // 6
        widths = (16 * widen, 32 * widen, 64 * widen)
        layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, 1, 1, bias=False)]
        c_in = 16
        for i, width in enumerate(widths):
            for j in range(n):
                layers.append(PreActBlock(c_in, width, 2 if (i > 0 and j == 0) else 1))
                c_in = width
        layers += [nn.BatchNorm2d(c_in), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, num_classes)
        _init_weights(self)


for _depth, _k in ((16, 2), (40, 2), (16, 4), (40, 1)):
    register_model(f"wrn-{_depth}-{_k}", f"Wide-ResNet-{_depth}-{_k}")(
        lambda num_classes=10, _d=_depth, _w=_k: WideResNet(_d, _w, num_classes)
    )


class VGG(PooledClassifier):
    """CIFAR VGG with batch norm: stages of 3x3 convs separated by max-pooling."""

    def __init__(self, stages: Sequence[Sequence[int]], num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i, stage in enumerate(stages):
            if i:
                layers.append(nn.MaxPool2d(2, 2))
            for width in stage:
                layers += [*conv_bn(c_in, width), nn.ReLU(inplace=True)]
                c_in = width
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, num_classes)
        _init_weights(self)


_VGG_STAGES = {
    "vgg8": ((64,), (128,), (256,), (512,), (512,)),
    "vgg11": ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    "vgg13": ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
}
for _name, _stages in _VGG_STAGES.items():
    register_model(_name, f"CIFAR {_name.upper()} with batch norm")(
        lambda num_classes=10, _s=_stages: VGG(_s, num_classes)
    )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 linear projection."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [*conv_bn(c_in, hidden, 1), nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            *conv_bn(hidden, c_out, 1),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


class MobileNetV2(PooledClassifier):
    """MobileNetV2 for 32x32 inputs (first strides removed), with a width multiplier."""

    # (expansion, channels, blocks, stride)
    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip

    def __init__(self, width_mult: float = 1.0, num_classes: int = 10) -> None:
        super().__init__()

        def scaled(c: int) -> int:
            return max(8, round(c * width_mult / 8) * 8)

        c_in = scaled(32)
        layers: list[nn.Module] = [*conv_bn(3, c_in), nn.ReLU6(inplace=True)]
        for expand, channels, blocks, stride in self.SETTINGS:
            for j in range(blocks):
                c_out = scaled(channels)
                layers.append(InvertedResidual(c_in, c_out, stride if j == 0 else 1, expand))
                c_in = c_out
        last = 1280 if width_mult <= 1.0 else scaled(1280)
        layers += [*conv_bn(c_in, last, 1), nn.ReLU6(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(last, num_classes)
        _init_weights(self)


register_model("mobilenetv2", "MobileNetV2 (width 1.0) for CIFAR")(
    lambda num_classes=10: MobileNetV2(1.0, num_classes)
)
register_model("mobilenetv2-half", "MobileNetV2 at width 0.5, the CRD student")(
    lambda num_classes=10: MobileNetV2(0.5, num_classes)
)
