"""NAS-Bench-201: 5 operations on the 6 edges of a 4-node cell, 15,625 cells.

Networks (:class:`diswot.models.nb201.NB201Network`) follow the benchmark's macro skeleton
(C=16, N=5), so parameter counts equal the benchmark's. Architecture keys are the benchmark's
strings, and :meth:`NB201Space.index` / :meth:`NB201Space.arch_at` use the benchmark's own index order
(embedded as ``assets/nb201_order.npy``). Several strings name one network;
:meth:`NB201Space.canonical` maps each to one key (``nb201_graph`` says how), and
:meth:`NB201Space.invalid_reason` rejects the cells whose output is cut off from the input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property
from importlib import resources

import numpy as np
import torch
from torch import nn

from diswot.errors import InvalidArchError
from diswot.models.nb201 import EDGES, OPS, NB201Network
from diswot.search_spaces.base import Arch, Choice, ChoiceSpace, register_space
from diswot.search_spaces.nb201_graph import all_network_classes, is_disconnected

# Edge (to_node, from_node) of each gene, in the order the benchmark string lists them.
_TOKEN = re.compile(r"^([a-z_0-9]+)~(\d)$")


@register_space("nb201", "NAS-Bench-201 cells (15,625) on the benchmark's C=16, N=5 skeleton")
class NB201Space(ChoiceSpace):
    """NAS-Bench-201. Keys look like ``|nor_conv_3x3~0|+|skip_connect~0|none~1|+|...|``."""

    choices = tuple(Choice(f"edge{t}<-{f}", OPS) for t, f in EDGES)

    def __init__(self, channels: int = 16, cells: int = 5, image_size: int = 32) -> None:
        super().__init__()
        self.channels, self.cells, self.image_size = channels, cells, image_size

    def encode(self, arch: Arch) -> str:
        ops = self.validate(arch)
        nodes = [
            "|" + "|".join(f"{ops[i]}~{EDGES[i][1]}" for i in range(len(EDGES)) if EDGES[i][0] == t) + "|"
            for t in (1, 2, 3)
        ]
        return "+".join(nodes)

    def decode(self, key: str) -> Arch:
        example = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|none~2|"
        if not isinstance(key, str):
            raise InvalidArchError(f"NB201 key must be a string like {example}")
        nodes = key.strip().split("+")
        if len(nodes) != 3 or any(not (n.startswith("|") and n.endswith("|")) for n in nodes):
            raise InvalidArchError(
                f"malformed NB201 string {key!r}: expected three '|'-delimited nodes joined by '+', "
                f"e.g. {example}"
            )
        ops: list[str] = []
        for to_node, node in enumerate(nodes, start=1):
            tokens = node[1:-1].split("|")
            if len(tokens) != to_node:
                raise InvalidArchError(
                    f"malformed NB201 string {key!r}: node {to_node} needs {to_node} edge(s), "
                    f"found {len(tokens)}; e.g. {example}"
                )
            for from_node, token in enumerate(tokens):
                match = _TOKEN.match(token)
                if not match or int(match.group(2)) != from_node:
                    raise InvalidArchError(
                        f"malformed NB201 edge {token!r} in {key!r}: expected 'op~{from_node}'"
                    )
                if match.group(1) not in OPS:
                    raise InvalidArchError(
                        f"unknown NB201 operation {match.group(1)!r} in {key!r}; valid: {', '.join(OPS)}"
                    )
                ops.append(match.group(1))
        return tuple(ops)

    # which cells are the same network (see nb201_graph) ---------------------------------------
    def canonical(self, arch: Arch) -> str:
        """The key of the simplest cell computing the same network as ``arch``.

        Cells that differ only in ``none``/dead edges, in where identities sit, or by swapping
        the interchangeable intermediate nodes share it; of the 15,625 cells, 5,260 networks
        remain (the 341 disconnected cells count as one). The partition of all cells is built
        on first use (under a second) and cached for the process.
        """
        return self.encode(all_network_classes().representative[self.validate(arch)])

    def invalid_reason(self, arch: Arch) -> str | None:
        """Disconnected cells (no input->output path without ``none``) output zeros: not scored."""
        if is_disconnected(self.validate(arch)):
            return (
                "no input->output path avoids 'none' edges, so the cell outputs zeros whatever its "
                "weights; give node 3 a non-'none' path from node 0"
            )
        return None

    def build(self, arch: Arch, num_classes: int = 10) -> nn.Module:
        return NB201Network(self.validate(arch), self.channels, self.cells, num_classes)

    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        return torch.zeros(batch_size, 3, self.image_size, self.image_size)

    # the benchmark's index order ---------------------------------------------------------------
    @staticmethod
    def _code(arch: Arch) -> int:
        """Base-5 number of the ops (first edge most significant)."""
        code = 0
        for op in arch:
            code = code * len(OPS) + OPS.index(op)
        return code

    @staticmethod
    def _from_code(code: int) -> Arch:
        ops = []
        for _ in EDGES:
            code, digit = divmod(code, len(OPS))
            ops.append(OPS[digit])
        return tuple(reversed(ops))

    @cached_property
    def _order(self) -> np.ndarray:
        """``_order[i]`` is the base-5 code of benchmark index ``i``."""
        ref = resources.files("diswot.search_spaces").joinpath("assets/nb201_order.npy")
        with ref.open("rb") as f:
            return np.load(f)

    @cached_property
    def _index_of_code(self) -> np.ndarray:
        inverse = np.empty_like(self._order)
        inverse[self._order] = np.arange(len(self._order), dtype=self._order.dtype)
        return inverse

    def index(self, arch: Arch) -> int:
        """The benchmark index of ``arch`` (row of the benchmark's tables)."""
        return int(self._index_of_code[self._code(self.validate(arch))])

    def arch_at(self, index: int) -> Arch:
        """The architecture at benchmark index ``index`` (0 <= index < 15625)."""
        if not 0 <= int(index) < self.size:
            raise InvalidArchError(f"NB201 index {index} is outside 0..{self.size - 1}")
        return self._from_code(int(self._order[int(index)]))

    def enumerate(self) -> Iterator[Arch]:
        """Every cell in the benchmark's index order."""
        return (self._from_code(int(code)) for code in self._order)
