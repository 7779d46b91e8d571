"""The three Transformer student sub-spaces of AutoDistil (Xu et al., NeurIPS 2022).

AutoDistil partitions the BERT student space into base / small / tiny sub-spaces of four
values per dimension (256 students each), following the authors' released configurations:

=========  ==============  ===============  ===============  ===================
sub-space  layers          hidden size      attention heads  FFN ratio
=========  ==============  ===============  ===============  ===================
base       9, 10, 11, 12   544, 576, 608, 640  9, 10, 11, 12  2.5, 3.0, 3.5, 4.0
small      9, 10, 11, 12   256, 288, 320, 352  7, 8, 9, 10    2.5, 3.0, 3.5, 4.0
tiny       4, 5, 6, 7      128, 160, 192, 224  7, 8, 9, 10    2.0, 2.5, 3.0, 3.5
=========  ==============  ===============  ===============  ===================

Heads keep BERT's 64-dimensional width, so attention width is ``heads * 64`` whatever the
hidden size; the FFN width is ``ratio * hidden``. Keys look like ``L4-H128-A7-R2.0``.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from diswot.errors import InvalidArchError
from diswot.models.transformer import TransformerClassifier
from diswot.search_spaces.base import Arch, Choice, ChoiceSpace, register_space

_KEY = re.compile(r"^L(\d+)-H(\d+)-A(\d+)-R(\d+(?:\.\d+)?)$")


class AutoDistilSpace(ChoiceSpace):
    """A Transformer sub-space; FLOPs are counted for ``seq_len`` tokens.

    Args:
        seq_len: tokens per example used for FLOPs and the example input.
        vocab_size: embedding rows (BERT's uncased vocabulary by default).
    """

    input_kind = "tokens"
    LAYERS: tuple[int, ...] = ()
    HIDDEN: tuple[int, ...] = ()
    HEADS: tuple[int, ...] = ()
    RATIOS: tuple[float, ...] = ()
    HEAD_DIM = 64
    cost_num_classes = 2

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.choices = (
            Choice("layers", cls.LAYERS),
            Choice("hidden", cls.HIDDEN),
            Choice("heads", cls.HEADS),
            Choice("ffn_ratio", cls.RATIOS),
        )

    def __init__(self, seq_len: int = 128, vocab_size: int = 30522, max_len: int = 512) -> None:
        super().__init__()
        if not 1 <= seq_len <= max_len:
            raise InvalidArchError(f"seq_len must be within 1..{max_len}, got {seq_len}")
        self.seq_len, self.vocab_size, self.max_len = seq_len, vocab_size, max_len

    def encode(self, arch: Arch) -> str:
        layers, hidden, heads, ratio = self.validate(arch)
        return f"L{layers}-H{hidden}-A{heads}-R{ratio:.1f}"

    def decode(self, key: str) -> Arch:
        match = _KEY.match(key.strip()) if isinstance(key, str) else None
        if not match:
            raise InvalidArchError(
                f"malformed {self.name} key {key!r}: expected L<layers>-H<hidden>-A<heads>-R<ratio>, "
                f"e.g. {self.encode(tuple(c.options[0] for c in self.choices))!r}"
            )
        layers, hidden, heads, ratio = match.groups()
        return self.validate((int(layers), int(hidden), int(heads), float(ratio)))

    def build(self, arch: Arch, num_classes: int = 2) -> nn.Module:
        layers, hidden, heads, ratio = self.validate(arch)
        return TransformerClassifier(
            vocab_size=self.vocab_size,
            hidden=hidden,
            layers=layers,
            heads=heads,
            ffn=int(ratio * hidden),
            num_classes=num_classes,
            max_len=self.max_len,
            head_dim=self.HEAD_DIM,
        )

    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        return torch.zeros(batch_size, self.seq_len, dtype=torch.long)


def _subspace(name: str, summary: str, **genes: tuple[float, ...]) -> type[AutoDistilSpace]:
    """One AutoDistil sub-space: the base class with its four gene tables, registered as ``name``."""
    class_name = f"AutoDistil{name.rsplit('-', 1)[1].title()}"  # importable by name: workers unpickle it
    cls = type(class_name, (AutoDistilSpace,), {"__module__": __name__, **genes})
    return register_space(name, summary)(cls)


# the paper's three sub-spaces (layers, hidden width, attention heads, MLP ratio)
AutoDistilBase = _subspace(
    "autodistil-base", "AutoDistil Base sub-space: 9-12 layers, hidden 544-640",
    LAYERS=(9, 10, 11, 12), HIDDEN=(544, 576, 608, 640), HEADS=(9, 10, 11, 12), RATIOS=(2.5, 3.0, 3.5, 4.0),
)  # fmt: skip
AutoDistilSmall = _subspace(
    "autodistil-small", "AutoDistil Small sub-space: 9-12 layers, hidden 256-352",
    LAYERS=(9, 10, 11, 12), HIDDEN=(256, 288, 320, 352), HEADS=(7, 8, 9, 10), RATIOS=(2.5, 3.0, 3.5, 4.0),
)  # fmt: skip
AutoDistilTiny = _subspace(
    "autodistil-tiny", "AutoDistil Tiny sub-space: 4-7 layers, hidden 128-224",
    LAYERS=(4, 5, 6, 7), HIDDEN=(128, 160, 192, 224), HEADS=(7, 8, 9, 10), RATIOS=(2.0, 2.5, 3.0, 3.5),
)  # fmt: skip
