"""Hostile or broken files and paths given to search and bench: one line, exit 2, nothing left."""

from __future__ import annotations

import sqlite3

import pytest
import torch

from diswot import build_model, run_search
from diswot.cli import main
from diswot.errors import CheckpointError, DiswotError, StoreError
from diswot.models import load_teacher
from diswot.models.checkpoint import save_checkpoint

SEARCH = ["search", "--proxy", "params", "--evaluations", "2", "--population", "2", "--batch-size", "10",
          "--no-plots"]  # fmt: skip


def _bad_stores(tmp_path):
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(bytes(range(256)) * 64)
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database\n")
    folder = tmp_path / "folder.sqlite"
    folder.mkdir()
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE history (x INTEGER)")
    good = tmp_path / "good.sqlite"
    assert main([*SEARCH, "--store", str(good), "--out", str(tmp_path / "made-good")]) == 0
    truncated = tmp_path / "truncated.sqlite"
    truncated.write_bytes(good.read_bytes()[:3000])
    return [garbage, text, folder, other, truncated]


def test_a_store_that_is_not_a_diswot_store_is_one_line_and_leaves_no_run_dir(tmp_path, capsys):
    stores = _bad_stores(tmp_path)
    capsys.readouterr()  # the good run made for the truncated copy printed its progress
    for store in stores:
        out = tmp_path / f"run-{store.stem}"
        assert main([*SEARCH, "--store", str(store), "--out", str(out)]) == 2, store
        err = capsys.readouterr().err
        assert "is not a diswot store" in err or "another layout" in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert not out.exists(), store
    with pytest.raises(StoreError):
        run_search("nb201", proxy="params", evaluations=2, store=tmp_path / "garbage.sqlite", progress=False)


@pytest.mark.parametrize("command", ["search", "bench"])
def test_an_output_folder_below_a_file_is_one_line(tmp_path, capsys, command):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    args = (
        [*SEARCH, "--out", str(blocker / "run")]
        if command == "search"
        else ["bench", "proxies", "--space", "resnet-depth", "--ground-truth", str(_truth(tmp_path)),
              "--proxies", "params,flops", "--num-archs", "8", "--out", str(blocker / "run")]
    )
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "cannot create the output folder" in err and err.count("\n") == 1


def _truth(tmp_path):
    from diswot.search_spaces import get_space

    space = get_space("resnet-depth")
    rows = [f"{space.encode(a)},{i}" for i, a in enumerate(space.enumerate())]
    path = tmp_path / "truth.csv"
    path.write_text("arch,accuracy\n" + "\n".join(rows) + "\n")
    return path


def test_a_zero_byte_checkpoint_and_a_nan_teacher_are_clear_errors(tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_teacher(empty, num_classes=10)
    model = build_model("resnet8")
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    nan_teacher = tmp_path / "nan.pt"
    save_checkpoint(nan_teacher, model, "resnet8", 10)
    with pytest.raises(CheckpointError, match="NaN or infinite weights"):
        run_search("nb201", teacher=str(nan_teacher), proxy="diswot", evaluations=2, batch_size=10,
                   progress=False)  # fmt: skip


def test_top_k_below_one_is_an_error():
    with pytest.raises(DiswotError, match="top_k must be at least 1"):
        run_search("nb201", proxy="params", evaluations=2, top_k=-1, progress=False)
