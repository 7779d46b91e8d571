"""The blocks of a network: the repeated units whose outputs AZ-NAS-style proxies compare.

A *block* is an outermost module that sits in an ``nn.Sequential`` or ``nn.ModuleList`` and is
not itself a container or a layer of ``torch.nn`` (a convolution, a norm, an activation): the
NB201 cells and reduction blocks, the residual blocks of a ResNet, the inverted residuals of a
MobileNetV2. Modules inside a block are not blocks. A model can instead name them itself with a
class attribute ``block_modules`` (dotted module names in execution order).
"""

from __future__ import annotations

from torch import nn

from diswot.errors import DiswotError

_CONTAINERS = (nn.Sequential, nn.ModuleList)


def _is_torch_layer(module: nn.Module) -> bool:
    return type(module).__module__.startswith("torch.")


def find_blocks(model: nn.Module) -> list[nn.Module]:
    """The blocks of ``model`` in definition order (see the module docstring).

    Raises :class:`DiswotError` when the model has fewer than two, naming the fix."""
    declared = getattr(model, "block_modules", None)
    if declared is not None:
        modules = dict(model.named_modules())
        missing = [name for name in declared if name not in modules]
        if missing:
            raise DiswotError(f"block_modules names {missing} that are not modules of {type(model).__name__}")
        blocks = [modules[name] for name in declared]
    else:
        blocks = []

        def visit(module: nn.Module) -> None:
            for child in module.children():
                in_container = isinstance(module, _CONTAINERS) and not isinstance(child, _CONTAINERS)
                if in_container and not _is_torch_layer(child):
                    blocks.append(child)
                    continue  # a block's own submodules are not blocks
                visit(child)

        visit(model)
    if len(blocks) < 2:
        raise DiswotError(
            f"{type(model).__name__} has {len(blocks)} block(s); block-wise proxies need at least two "
            "(give the model a class attribute block_modules = ('name.of.block', ...))"
        )
    return blocks
