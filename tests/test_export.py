"""``diswot export`` / ``distill --export``: artifacts that plain torch loads, without diswot, and
that give diswot's outputs; the card; one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from diswot.cli import main
from diswot.export import ONNX_FILE, PROGRAM_FILE, load_source, run_without_diswot
from diswot.models import load_teacher

TRANSFORMER = "autodistil-tiny:L4-H128-A7-R2.0"

@pytest.fixture(scope="module")
def image_student(tmp_path_factory) -> Path:
    """A student distilled for one epoch with ``--export``: its run folder."""
    run = tmp_path_factory.mktemp("distill") / "d"
    code = main(["distill", "--teacher", "resnet8", "--student", "resnet-depth:111", "--distiller", "kd",
                 "--epochs", "1", "--batch-size", "40", "--train-subset", "80", "--export",
                 "--out", str(run)])  # fmt: skip
    assert code == 0
    return run


@pytest.fixture(scope="module")
def transformer_student(tmp_path_factory) -> Path:
    """A random-init AutoDistil-tiny student exported by ``diswot export SPACE:ARCH`` (no ONNX)."""
    out = tmp_path_factory.mktemp("export") / "tiny"
    assert main(["export", TRANSFORMER, "--no-onnx", "--out", str(out)]) == 0
    return out


def test_distill_export_writes_program_onnx_and_card(image_student):
    export = image_student / "export"
    card = json.loads((export / "card.json").read_text())
    summary = json.loads((image_student / "result.json").read_text())
    assert card["space"] == "resnet-depth" and card["arch"] == "111" and card["weights"] == "trained"
    assert card["teacher"] == "resnet8 (random init)" and card["distiller"] == "kd"
    assert card["accuracy"] == summary["test_accuracy"] and card["dataset"] == "cifar10-sample"
    assert (card["params"], card["flops"]) == (summary["params"], summary["flops"])
    assert card["inputs"][0]["shape"] == ["batch", 3, 32, 32] and card["output"]["shape"] == ["batch", 10]
    assert card["check"]["pt2_max_abs_diff"] <= 1e-5
    assert (export / PROGRAM_FILE).is_file() and not list(export.glob(".tmp-*"))
    if card["files"]["onnx"] is None:  # the onnx extra is not installed
        assert "not installed" in card["onnx_note"] and not (export / ONNX_FILE).exists()
    else:
        assert (export / ONNX_FILE).is_file()
        if card["check"]["onnx_max_abs_diff"] is not None:  # onnxruntime present
            assert card["check"]["onnx_max_abs_diff"] <= 1e-4


def test_exports_load_without_diswot_and_match_its_outputs(image_student, transformer_student):
    generator = torch.Generator().manual_seed(1)
    images = (torch.randn(3, 3, 32, 32, generator=generator),)  # another batch size than exported with
    ids = torch.randint(0, 30522, (3, 20), generator=generator)  # and another sequence length
    mask = torch.ones(3, 20, dtype=torch.long)
    mask[1, 12:] = 0
    mask[2, 5:] = 0
    models = [
        (load_teacher(image_student / "model.pt").model, images, image_student / "export"),
        (load_source(TRANSFORMER).model, (ids, mask), transformer_student),
    ]
    found = run_without_diswot([(folder / PROGRAM_FILE, inputs) for _, inputs, folder in models])
    for (model, inputs, folder), output in zip(models, found, strict=True):
        with torch.no_grad():
            expected = model.eval()(*inputs)
        assert output.shape == expected.shape
        assert float((output - expected).abs().max()) <= 1e-5, folder


def test_transformer_card_describes_token_inputs(transformer_student):
    card = json.loads((transformer_student / "card.json").read_text())
    assert card["space"] == "autodistil-tiny" and card["weights"] == "random-init" and card["init_seed"] == 0
    assert [i["name"] for i in card["inputs"]] == ["input_ids", "attention_mask"]
    assert card["inputs"][0]["max_tokens"] == 512 and card["num_classes"] == 2
    assert card["flops"] == 209731840 and card["flops_input"] == [1, 128]  # the space's cost
    assert card["files"]["onnx"] is None and card["onnx_note"] == "ONNX not asked for"
    assert card["teacher"] is None and card["accuracy"] is None


def test_a_search_result_exports_its_rank_k(tmp_path, capsys):
    assert main(["search", "--proxy", "params", "--evaluations", "3", "--population", "3", "--batch-size",
                 "10", "--no-plots", "--top-k", "3", "--out", str(tmp_path / "s")]) == 0  # fmt: skip
    result = json.loads((tmp_path / "s" / "result.json").read_text())
    source = load_source(tmp_path / "s" / "result.json", rank=2)
    assert source.spec == f"nb201:{result['top_k'][1]['arch']}" and source.num_classes == 10
    assert source.facts["search"]["rank"] == 2 and source.facts["search"]["proxy"] == "params"
    assert source.facts["teacher"] is not None  # the search's, from run.json
    assert main(["export", str(tmp_path / "s"), "--rank", "4", "--out", str(tmp_path / "e")]) == 2
    assert "choose --rank 1..3" in capsys.readouterr().err and not (tmp_path / "e").exists()


def test_export_refuses_onnx_without_the_extra_in_one_line(transformer_student, monkeypatch, capsys):
    monkeypatch.setattr("diswot.export.ONNX_MODULES", ("onnx", "no_such_module_xyz"))
    assert main(["export", TRANSFORMER, "--out", str(transformer_student)]) == 2  # an export is there
    assert "already holds an export" in capsys.readouterr().err
    from diswot.export import onnx_available

    assert onnx_available() == "ONNX skipped: no_such_module_xyz not installed (pip install 'diswot[onnx]')"


@pytest.mark.parametrize(
    "source,message",
    [
        ("missing/model.pt", "does not exist"),
        ("missing/result.json", "does not exist"),
        ("nb201:|nope|", "malformed NB201"),
        ("resnet-depth:999", "resnet-depth"),
        ("resnet999", "unknown model"),
        ("DIR", "holds neither"),
    ],
)
def test_bad_sources_are_one_line_errors_with_exit_2(source, message, tmp_path, capsys):
    source = str(tmp_path) if source == "DIR" else source
    assert main(["export", source, "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "e").exists()


def test_random_init_sources_take_their_class_count_from_the_space_or_the_zoo():
    assert load_source("bert-tiny").num_classes == 2 and load_source("resnet8").num_classes == 10
    assert load_source("resnet8", num_classes=5).num_classes == 5
    assert load_source("autodistil-tiny:L4-H128-A7-R2.0").num_classes == 2  # as the space costs it
    first, again = load_source("resnet8"), load_source("resnet8")  # seeded: the same weights each time
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(),
                                                 again.model.state_dict().values(), strict=True))  # fmt: skip
