"""What the distillation CLI tests share."""

import pytest


@pytest.fixture
def tiny_distill() -> list[str]:
    """``diswot distill`` of one ResNet-8 student for one epoch on 80 embedded images (a teacher
    and ``--out`` still to give)."""
    return ["distill", "--student", "resnet8", "--epochs", "1", "--batch-size", "40", "--train-subset", "80"]
