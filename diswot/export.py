"""A searched or distilled student as a standalone artifact that plain torch loads.

``export(source, out)`` writes into the folder ``out``:

* ``model.pt2``: a :func:`torch.export.export` program (batch size free; for token models the
  sequence length too, up to the model's maximum). ``torch.export.load(path).module()`` gives
  a module that runs without diswot installed.
* ``model.onnx``: the same network in ONNX, when the optional ``onnx`` extra (``onnx``,
  ``onnxscript``) is installed; else the card says it was skipped and why.
* ``card.json``: what the network is (space, arch, params, FLOPs, inputs and outputs) and where
  it came from (teacher, distiller, accuracy when known; the search and rank it was picked at),
  and the largest difference between the program's outputs and diswot's on a check batch.

A source is a distilled student (a ``diswot distill`` run folder or its ``model.pt``), a
search's ``result.json`` (the architecture at rank k, randomly initialised), or ``SPACE:ARCH``
or a zoo name (randomly initialised).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from diswot.atomic import write_json
from diswot.errors import DiswotError, RunDirError
from diswot.models.checkpoint import build_model, load_teacher
from diswot.models.profile import count_macs, count_params
from diswot.models.registry import MODELS
from diswot.models.transformer import TransformerClassifier
from diswot.paths import make_dir, path_exists
from diswot.search.result import SearchResult
from diswot.search_spaces.base import SPACES, get_space

CARD_FORMAT = "diswot-export"
PROGRAM_FILE, ONNX_FILE, CARD_FILE = "model.pt2", "model.onnx", "card.json"
CHECK_BATCH = 2  # a batch of one would be specialised by torch.export; two keeps the batch free
ONNX_MODULES = ("onnx", "onnxscript")


@dataclass
class ExportSource:
    """A network to export, with what is known of where it came from (the card's facts)."""

    model: nn.Module
    spec: str  # SPACE:ARCH or a zoo name
    num_classes: int
    space_options: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)  # weights, teacher, distiller, accuracy, ...


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_student` wrote."""

    program: Path
    onnx: Path | None
    card: dict[str, Any]


def load_source(
    source: str | Path, rank: int = 1, num_classes: int | None = None, seed: int = 0
) -> ExportSource:
    """The network named by ``source``: a distill run folder or checkpoint, a search's
    ``result.json`` (its architecture at ``rank``), or ``SPACE:ARCH`` / a zoo name.

    ``num_classes`` sizes a randomly initialised network (default: 10 for images, 2 for text,
    as the space counts its cost); a checkpoint keeps its own. ``seed`` seeds that initialisation.
    """
    text = str(source)
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / "model.pt").is_file():
            return _from_checkpoint(path / "model.pt")
        if (path / "result.json").is_file():
            return _from_search(path / "result.json", rank, num_classes, seed)
        raise DiswotError(
            f"{path} holds neither a distilled student's model.pt nor a search's result.json; "
            "pass the run folder of diswot distill or diswot search"
        )
    if path.suffix in {".pt", ".pth"}:
        if not path.is_file():
            raise DiswotError(f"checkpoint {path} does not exist; pass a diswot distill model.pt")
        return _from_checkpoint(path)
    if path.suffix == ".json":
        return _from_search(path, rank, num_classes, seed)
    if rank != 1:
        raise DiswotError("--rank needs a search's result.json as the source")
    return _random_init(text, {}, num_classes, seed, {"weights": "random-init"})


def _from_checkpoint(path: Path) -> ExportSource:
    teacher = load_teacher(path)  # a diswot checkpoint rebuilds its network; refuses anything else
    meta = dict(teacher.meta)
    options = meta.pop("space_options", {})
    summary = _read_json(path.with_name("result.json"))  # what distill wrote beside the checkpoint
    facts = {
        "weights": "trained",
        "checkpoint": str(path),
        "teacher": summary.get("teacher"),
        "teachers": summary.get("teachers"),
        "distiller": meta.get("distillers", summary.get("distillers")),
        "accuracy": meta.get("test_accuracy", summary.get("test_accuracy")),
        "dataset": summary.get("dataset"),
        "epochs": meta.get("epochs", summary.get("epochs")),
    }
    return ExportSource(teacher.model, teacher.spec, teacher.num_classes, options, facts)


def _from_search(path: Path, rank: int, num_classes: int | None, seed: int) -> ExportSource:
    result = SearchResult.load(path)
    students = result.students(rank)
    if rank < 1 or len(students) < rank:
        raise DiswotError(f"{path} ranks {len(students)} architectures; choose --rank 1..{len(students)}")
    student = students[rank - 1]
    run = _read_json(path.parent / "run.json")
    search = {
        "result": str(path), "rank": rank, "proxy": result.proxy, "strategy": result.strategy,
        "score": ([e.score for e in result.top_k] or [result.score])[rank - 1], "dataset": run.get("dataset"),
    }  # fmt: skip
    if rank == 1 and result.true_accuracy is not None:  # the benchmark's, of the winner trained alone
        search["true_accuracy"] = result.true_accuracy
    facts = {"weights": "random-init", "teacher": run.get("teacher"), "search": search}
    return _random_init(student.spec, dict(student.options), num_classes, seed, facts)


def _random_init(
    spec: str, options: dict[str, Any], num_classes: int | None, seed: int, facts: dict[str, Any]
) -> ExportSource:
    space_name = spec.split(":", 1)[0]
    if num_classes is None and ":" in spec and space_name in SPACES:
        num_classes = get_space(space_name, **options).cost_num_classes  # as the space counts its cost
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # a zoo model without --num-classes keeps its factory's default (10 for CNNs, 2 for BERTs)
        zoo_default = num_classes is None and spec in MODELS
        model = MODELS.get(spec)() if zoo_default else build_model(spec, num_classes or 10, options)
    classes = num_classes or [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features
    return ExportSource(model, spec, classes, options, {**facts, "init_seed": seed})


def _read_json(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


# inputs ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputSpec:
    """The inputs a student reads: images ``(batch, C, H, W)`` or token ids with a padding mask."""

    kind: str  # "images" or "tokens"
    shape: tuple[int, ...]  # of one example
    vocab_size: int | None = None
    max_tokens: int | None = None

    def check_inputs(self, batch: int = CHECK_BATCH, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """A random batch of this kind; token batches have a padded tail in one example."""
        generator = torch.Generator().manual_seed(seed)
        if self.kind == "images":
            return (torch.randn(batch, *self.shape, generator=generator),)
        assert self.vocab_size is not None
        ids = torch.randint(0, self.vocab_size, (batch, *self.shape), generator=generator)
        mask = torch.ones(batch, *self.shape, dtype=torch.long)
        mask[-1, self.shape[0] // 2 :] = 0  # padding must be ignored, as in training
        return ids, mask

    def dynamic_shapes(self) -> tuple[dict[int, Any], ...]:
        batch = torch.export.Dim("batch", min=1, max=65536)
        if self.kind == "images":
            return ({0: batch},)
        tokens = torch.export.Dim("tokens", min=1, max=self.max_tokens)
        return {0: batch, 1: tokens}, {0: batch, 1: tokens}

    def names(self) -> list[str]:
        return ["images"] if self.kind == "images" else ["input_ids", "attention_mask"]

    def describe(self) -> list[dict[str, Any]]:
        if self.kind == "images":
            return [{"name": "images", "dtype": "float32", "shape": ["batch", *self.shape]}]
        token = {"dtype": "int64", "shape": ["batch", "tokens"], "max_tokens": self.max_tokens}
        return [
            {"name": "input_ids", **token, "vocab_size": self.vocab_size},
            {"name": "attention_mask", **token, "values": "1 for a real token, 0 for padding"},
        ]


def input_spec(source: ExportSource) -> InputSpec:
    """What ``source``'s network reads: the space's example input, or a zoo model's kind."""
    space_name, _, _ = source.spec.partition(":")
    example = None  # a zoo model's: CIFAR images, or 128 tokens
    if space_name in SPACES and ":" in source.spec:
        example = get_space(space_name, **source.space_options).example_input(1)
    model = source.model
    if isinstance(model, TransformerClassifier):
        tokens = min(128 if example is None else example.shape[1], model.max_len)
        return InputSpec("tokens", (tokens,), model.token_embedding.num_embeddings, model.max_len)
    return InputSpec("images", (3, 32, 32) if example is None else tuple(example.shape[1:]))


# writing --------------------------------------------------------------------------------------
def onnx_available() -> str | None:
    """``None`` if ONNX can be written, else the one-line reason it cannot."""
    missing = [m for m in ONNX_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        return f"ONNX skipped: {', '.join(missing)} not installed (pip install 'diswot[onnx]')"
    return None


def export_student(
    source: ExportSource, out: str | Path, onnx: bool = True, overwrite: bool = False
) -> ExportReport:
    """Write ``source`` as ``model.pt2`` (+ ``model.onnx``) and ``card.json`` into ``out``
    (``source.model`` is moved to the CPU and set to eval mode, in place).

    The program is loaded back and run on a check batch before anything is kept; files are
    written under temporary names and renamed at the end, so a failed export leaves no artifact.
    """
    out = Path(out)
    _check_out(out, overwrite)
    model = source.model.cpu().eval()
    spec = input_spec(source)
    inputs = spec.check_inputs()
    with torch.no_grad():
        expected = model(*inputs)
        program = torch.export.export(model, inputs, dynamic_shapes=spec.dynamic_shapes())
    make_dir(out)  # a folder the file system refuses is a one-line error, with nothing left behind
    pending: list[tuple[Path, Path]] = []
    try:
        tmp_program = out / f".tmp-{PROGRAM_FILE}"
        torch.export.save(program, tmp_program)
        pending.append((tmp_program, out / PROGRAM_FILE))
        with torch.no_grad():
            found = torch.export.load(tmp_program).module()(*inputs)
        check = {"pt2_max_abs_diff": _max_diff(found, expected)}
        onnx_note = onnx_available() if onnx else "ONNX not asked for"
        if onnx_note is None:
            tmp_onnx = out / f".tmp-{ONNX_FILE}"
            _write_onnx(model, inputs, spec, tmp_onnx)
            pending.append((tmp_onnx, out / ONNX_FILE))
            check["onnx_max_abs_diff"] = _onnx_diff(tmp_onnx, inputs, spec, expected)
        card = _card(source, spec, check, onnx_note)
        tmp_card = out / f".tmp-{CARD_FILE}"
        write_json(tmp_card, card, newline=True)  # fsynced; renamed with the program and the ONNX file below
        pending.append((tmp_card, out / CARD_FILE))
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in pending:
        os.replace(tmp, final)
    if onnx_note is not None:
        (out / ONNX_FILE).unlink(missing_ok=True)  # an older export's ONNX would not match this card
    return ExportReport(out / PROGRAM_FILE, None if onnx_note else out / ONNX_FILE, card)


def export(
    source: str | Path, out: str | Path, rank: int = 1, num_classes: int | None = None,
    onnx: bool = True, overwrite: bool = False,
) -> ExportReport:  # fmt: skip
    """:func:`load_source` then :func:`export_student`: what ``diswot export`` runs."""
    _check_out(Path(out), overwrite)  # before building anything
    return export_student(load_source(source, rank, num_classes), out, onnx=onnx, overwrite=overwrite)


def _check_out(out: Path, overwrite: bool) -> None:
    if path_exists(out / CARD_FILE) and not overwrite:  # a name too long to look up holds nothing
        raise RunDirError(f"{out} already holds an export; pass --overwrite or another --out")


def _card(source: ExportSource, spec: InputSpec, check: dict[str, float], onnx_note: str | None) -> dict:
    space, _, arch = source.spec.partition(":") if ":" in source.spec else (None, "", source.spec)
    example = spec.check_inputs(batch=1)[0]
    facts = {k: v for k, v in source.facts.items() if v is not None}
    return {
        "format": CARD_FORMAT,
        "version": 1,
        "space": space,
        "arch": arch,
        "model": source.spec,
        "space_options": source.space_options,
        "num_classes": source.num_classes,
        "params": count_params(source.model),
        "flops": count_macs(source.model, example),  # multiply-adds of one example of these inputs
        "flops_input": list(example.shape),
        "teacher": facts.pop("teacher", None),
        "distiller": facts.pop("distiller", None),
        "accuracy": facts.pop("accuracy", None),
        **facts,
        "inputs": spec.describe(),
        "output": {"name": "logits", "dtype": "float32", "shape": ["batch", source.num_classes]},
        "files": {"program": PROGRAM_FILE, "onnx": None if onnx_note else ONNX_FILE},
        **({"onnx_note": onnx_note} if onnx_note else {}),
        "check": check,
        "load": f"torch.export.load('{PROGRAM_FILE}').module()({', '.join(spec.names())})",
        "torch": torch.__version__,
    }


def _max_diff(found: torch.Tensor, expected: torch.Tensor) -> float:
    return float((found - expected).abs().max())


def _write_onnx(model: nn.Module, inputs: tuple[torch.Tensor, ...], spec: InputSpec, path: Path) -> None:
    # the exporter logs every torchvision op it cannot register and warns of its own deprecations:
    # noise about torch's internals, not about this network
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.filterwarnings("ignore", "# The axis name", UserWarning)  # two inputs share a dim
            torch.onnx.export(
                model, inputs, str(path), dynamo=True, input_names=spec.names(), output_names=["logits"],
                dynamic_shapes=spec.dynamic_shapes(), external_data=False, verbose=False,
            )  # fmt: skip
    finally:
        registration.setLevel(level)


def _onnx_diff(
    path: Path, inputs: tuple[torch.Tensor, ...], spec: InputSpec, expected: torch.Tensor
) -> float | None:
    """The ONNX Runtime output's largest difference from diswot's (``None`` without onnxruntime)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {name: x.numpy() for name, x in zip(spec.names(), inputs, strict=True)}
    return _max_diff(torch.from_numpy(session.run(None, feeds)[0]), expected)


# Run by a fresh interpreter (-I: no PYTHONPATH, no user site) in which diswot cannot be imported
# (an installed or editable diswot is shadowed), so a program that needed diswot fails to load.
_STANDALONE = r"""
import importlib.abc, importlib.util, json, sys

class NoDiswot(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "diswot":
            raise ImportError("diswot is not available in this process")

sys.meta_path.insert(0, NoDiswot())
try:
    importlib.util.find_spec("diswot")
    raise SystemExit("diswot is importable")
except ImportError:
    pass
import torch

for program, inputs, out in json.loads(sys.argv[1]):
    with torch.no_grad():
        torch.save(torch.export.load(program).module()(*torch.load(inputs)), out)
if [m for m in sys.modules if m.split(".")[0] == "diswot"]:
    raise SystemExit("diswot was imported")
"""


def run_without_diswot(
    jobs: Sequence[tuple[str | Path, tuple[torch.Tensor, ...]]], timeout: float = 600
) -> list[torch.Tensor]:
    """The outputs of each ``(model.pt2, inputs)`` run by plain torch in a fresh interpreter that
    cannot import diswot: the check that an export stands alone. Raises if that process fails."""
    with tempfile.TemporaryDirectory() as tmp:
        specs = []
        for i, (program, inputs) in enumerate(jobs):
            given, found = Path(tmp) / f"in{i}.pt", Path(tmp) / f"out{i}.pt"
            torch.save(tuple(inputs), given)
            specs.append([str(Path(program).resolve()), str(given), str(found)])
        env = {"PATH": os.environ.get("PATH", ""), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        done = subprocess.run([sys.executable, "-I", "-c", _STANDALONE, json.dumps(specs)], env=env, cwd=tmp,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"the standalone load failed: {done.stderr.strip()[-2000:]}")
        return [torch.load(spec[2]) for spec in specs]
