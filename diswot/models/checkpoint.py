"""Building models from a spec string, saving checkpoints and loading teachers.

A *model spec* is a registered model name (``resnet56``) or a search-space architecture
(``nb201:|nor_conv_3x3~0|+...`` / ``resnet-depth:153``). Checkpoints are plain dicts of
tensors and primitives, so they load with ``torch.load(..., weights_only=True)``:

``{"format": "diswot", "version": 1, "model": SPEC, "num_classes": K, "state_dict": {...},
"meta": {...}}``, plus ``"space_options": {...}`` for an architecture of a space built with
non-default options (a shallower NB201, say), so the checkpoint rebuilds the network it holds.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from diswot.atomic import save_torch
from diswot.errors import CheckpointError, DiswotError, UnknownNameError
from diswot.models.registry import MODELS, build_from_spec
from diswot.paths import check_path_name, path_exists

CHECKPOINT_FORMAT = "diswot"


def build_model(spec: str, num_classes: int = 10, space_options: dict[str, Any] | None = None) -> nn.Module:
    """A random-initialised network for a registered model name or ``SPACE:ARCH``.

    ``space_options`` are the non-default constructor options of the space (e.g. ``{"cells": 2}``
    for a shallower NB201), as a search records them; a zoo name takes none.
    """
    if spec in MODELS:
        if space_options:
            raise DiswotError(f"{spec!r} is a zoo model: it takes no space options ({space_options})")
        return MODELS.get(spec)(num_classes=num_classes)
    if ":" in spec:
        prefix, key = spec.split(":", 1)
        model = build_from_spec(prefix, key, num_classes, space_options)
        if model is not None:
            return model
    try:
        MODELS.get(spec)
    except UnknownNameError as exc:
        raise UnknownNameError(
            f"{exc} A search-space architecture is written SPACE:ARCH, e.g. resnet-depth:333."
        ) from None
    raise AssertionError("unreachable")


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    spec: str,
    num_classes: int,
    space_options: dict[str, Any] | None = None,
    **meta: Any,
) -> Path:
    """Write ``model``'s weights with what is needed to rebuild it (atomically): the spec and,
    for an architecture of a space built with non-default options, those options."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "model": spec,
        "num_classes": int(num_classes),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta,
    }
    if space_options:
        payload["space_options"] = dict(space_options)
    return save_torch(payload, path)  # a crash mid-write never leaves a truncated checkpoint behind


@dataclass
class Teacher:
    """A loaded teacher and where it came from."""

    model: nn.Module
    spec: str
    num_classes: int
    source: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def pretrained(self) -> bool:
        return self.source != "random-init"


def load_tensors(path: Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` that runs no code from the file (``weights_only``). A foreign pickle is
    refused by the caller's message alone: torch's warning about its pickle protocol is noise."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        return torch.load(path, map_location=map_location, weights_only=True)


def _read(path: Path) -> Any:
    try:
        return load_tensors(path)
    except Exception as exc:
        raise CheckpointError(
            f"cannot read checkpoint {path}: {type(exc).__name__}: {load_failure_reason(exc)}. "
            "Expected a file written by torch.save holding a state_dict or a diswot checkpoint "
            "(files that need arbitrary code to unpickle are refused)."
        ) from exc


def load_failure_reason(exc: Exception, limit: int = 200) -> str:
    """torch's first sentence of why a load failed: without its advice to load with
    ``weights_only=False`` (which would run the file's code) and cut at a word, not mid-word."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # torch bolds its advice with terminal escapes
    lines = [ln.strip() for ln in plain.splitlines() if ln.strip()]
    lines = [ln for ln in lines if "weights_only" not in ln and not ln.startswith("(")] or lines[:1]
    text = lines[0] if lines else "no message"  # a zero-byte file has none
    for advice in ("Please file an issue", "This file can still be loaded"):  # how to run its code
        text = text.split(advice)[0]
    text = text.rstrip(" .")
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " ..."
    return text


def _check_fields(path: Path, payload: dict[str, Any]) -> None:
    """The fields of a diswot checkpoint, by type and value, before anything is built from them."""

    def bad(field_: str, want: str) -> CheckpointError:
        found = payload.get(field_)
        shown = type(found).__name__ if not isinstance(found, int | float | str) else repr(found)[:40]
        return CheckpointError(
            f"{path} is a diswot checkpoint with a bad {field_!r} field ({shown}; expected {want}); "
            "rewrite it with diswot (save_checkpoint, or diswot train-teacher)"
        )

    if not isinstance(payload.get("model"), str) or not payload["model"]:
        raise bad("model", "a model spec such as resnet56")
    classes = payload.get("num_classes")
    if "num_classes" in payload and (
        isinstance(classes, bool) or not isinstance(classes, int) or classes < 1
    ):
        raise bad("num_classes", "a positive whole number")
    state = payload.get("state_dict")
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
    ):
        raise bad("state_dict", "a non-empty map of parameter names to tensors")
    for name in ("meta", "space_options"):
        value = payload.get(name)
        if value is not None and not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
            raise bad(name, "a map with string keys")


def _classifier_classes(state: dict[str, torch.Tensor]) -> int | None:
    """Rows of the last 2-D weight: the class count of a classifier's state dict."""
    weights = [v for k, v in state.items() if k.endswith("weight") and v.dim() == 2]
    return int(weights[-1].shape[0]) if weights else None


def load_state_checked(model: nn.Module, state: dict[str, Any], source: str, spec: str) -> None:
    """``model.load_state_dict(state)`` with an error that names what does not fit."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{source}: the state_dict must map parameter names to tensors")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: expected {tuple(expected[k].shape)}, found {tuple(state[k].shape)}"
        for k in expected
        if k in state and expected[k].shape != state[k].shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        if mismatched:
            parts.append("shape mismatches: " + "; ".join(mismatched[:5]))
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        raise CheckpointError(
            f"{source} does not fit architecture {spec!r}: "
            + "; ".join(parts)
            + ". Check that the checkpoint was trained for this architecture."
        )
    model.load_state_dict(state)


def names_a_file(spec: str | Path) -> bool:
    """Whether a teacher spec is a checkpoint file or folder (trained weights) rather than a model
    name (a random-init network): a checkpoint suffix, or an existing path."""
    path = Path(str(spec)).expanduser()
    return path.suffix in {".pt", ".pth", ".ckpt", ".bin"} or path_exists(path)


def load_teacher(
    spec: str | Path, num_classes: int | None = None, model: str | None = None, seed: int = 0
) -> Teacher:
    """A teacher from a registered name (random init) or a checkpoint file.

    Args:
        spec: a model spec (``resnet56``, ``nb201:...``) or the path of a checkpoint: a diswot
            checkpoint, a bare ``state_dict`` (then ``model`` must name the architecture), or a
            Hugging Face model folder (BERT family; needs ``transformers``).
        num_classes: the class count the data has; a checkpoint made for another count is an
            error. ``None`` accepts the checkpoint's (or 10 for a random teacher).
        model: architecture of a bare ``state_dict``.
        seed: initialisation seed of a random-init teacher (the global RNG is left untouched),
            so the same name always means the same teacher.
    """
    text = str(spec)
    path = Path(text).expanduser()
    if names_a_file(text):
        check_path_name(path, "teacher")
    if not names_a_file(text):
        if text not in MODELS and ":" not in text and ("/" in text or "\\" in text or text.startswith(".")):
            raise CheckpointError(f"teacher {text!r} looks like a path, but no such file or folder exists")
        if model is not None and model != text:
            raise DiswotError(f"teacher {text!r} is a model name; drop the extra model={model!r}")
        k = num_classes or 10
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_model(text, k)
        return Teacher(net, text, k, "random-init", {"seed": seed})
    if path.is_dir():
        from diswot.models.huggingface import is_hf_folder, load_hf_classifier

        if not is_hf_folder(path):
            raise CheckpointError(
                f"teacher folder {path} has no config.json; a folder teacher must be in the Hugging Face "
                "layout (config.json, weights, tokenizer files), else pass a checkpoint file"
            )
        net, meta = load_hf_classifier(path, num_classes)
        return Teacher(net, f"hf:{path}", int(net.hf.config.num_labels), str(path), meta)
    if not path.is_file():
        raise CheckpointError(f"teacher checkpoint {path} does not exist")
    payload = _read(path)
    if isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT:
        _check_fields(path, payload)
        arch, state = str(payload.get("model")), payload.get("state_dict")
        options = dict(payload.get("space_options") or {})
        meta = dict(payload.get("meta") or {})
        found_classes = int(payload.get("num_classes", _classifier_classes(state) or 0))
    elif isinstance(payload, dict) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        if model is None:
            raise CheckpointError(
                f"{path} is a bare state_dict; name its architecture "
                "(--teacher-model NAME, or model=NAME in Python)"
            )
        arch, state, meta, options = model, payload, {}, {}
        found_classes = _classifier_classes(payload) or 0
    else:
        raise CheckpointError(
            f"{path} holds neither a diswot checkpoint nor a state_dict (found {type(payload).__name__})"
        )
    if num_classes is not None and found_classes != num_classes:
        raise CheckpointError(
            f"{path} classifies {found_classes} classes but the data has {num_classes}: "
            "use a teacher trained on this dataset"
        )
    try:
        net = build_model(arch, found_classes, options)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, DiswotError):
            raise
        raise CheckpointError(
            f"{path}: its model {arch!r} cannot be built with options {options} ({exc}); "
            "rewrite it with diswot (save_checkpoint, or diswot train-teacher)"
        ) from exc
    load_state_checked(net, state, str(path), arch)
    if options:
        meta = {**meta, "space_options": options}
    return Teacher(net, arch, found_classes, str(path), meta)
