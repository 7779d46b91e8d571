"""The boundary checks of issue 26, one message each: devices, seeds, data roots, teacher
checkpoint fields, ground-truth encodings and the messages that used to point the wrong way."""

from __future__ import annotations

import pytest
import torch

from diswot.cli import main
from diswot.models.checkpoint import build_model

SEARCH = ["search", "--proxy", "params", "--evaluations", "1", "--population", "2", "--batch-size", "10",
          "--no-plots"]  # fmt: skip


def _fail(argv, capsys) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    assert code == 2, argv
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("diswot")]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    "device, expected",
    [("banana", "is not a device name"), ("xla", "diswot runs on cpu, cuda or mps"),
     ("cuda" if torch.version.cuda is None else "cuda:99", "CUDA is not available in this torch build"
      if torch.version.cuda is None else "number them from 0")],
)  # fmt: skip
def test_devices_are_parsed_then_checked(tmp_path, capsys, device, expected):
    assert expected in _fail([*SEARCH, "--device", device, "--out", str(tmp_path / "o")], capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("seed", ["-1", "4294967296", "1.5"])
def test_seeds_outside_the_generators_range_are_refused(tmp_path, capsys, seed):
    err = _fail([*SEARCH, "--seed", seed, "--out", str(tmp_path / "o")], capsys)
    assert "--seed" in err


def test_a_data_root_without_dataset_is_inferred_or_refused(tmp_path, capsys, shared_data):
    err = _fail([*SEARCH, "--data-root", str(tmp_path), "--out", str(tmp_path / "o")], capsys)
    assert "needs --dataset" in err
    assert main([*SEARCH, "--data-root", str(shared_data), "--out", str(tmp_path / "o")]) == 0
    assert "using --dataset cifar10" in capsys.readouterr().err
    from diswot import load_dataset
    from diswot.errors import DataError

    with pytest.raises(DataError, match="embedded sample"):  # the Python API refuses it too
        load_dataset("sample", shared_data)


@pytest.mark.parametrize(
    "fields, named",
    [({"num_classes": "ten"}, "'num_classes'"), ({"num_classes": True}, "'num_classes'"),
     ({"num_classes": 0}, "'num_classes'"), ({"state_dict": [1, 2]}, "'state_dict'"),
     ({"state_dict": {"w": "x"}}, "'state_dict'"), ({"meta": 3}, "'meta'"),
     ({"space_options": ["cells"]}, "'space_options'"), ({"model": 7}, "'model'")],
)  # fmt: skip
@pytest.mark.parametrize("command", ["search", "distill"])
def test_teacher_checkpoint_fields_of_wrong_type_or_value(tmp_path, capsys, fields, named, command):
    payload = {"format": "diswot", "version": 1, "model": "resnet20", "num_classes": 10,
               "state_dict": build_model("resnet20", 10).state_dict(), "meta": {}}  # fmt: skip
    path = tmp_path / "teacher.pt"
    torch.save({**payload, **fields}, path)
    out = tmp_path / "o"
    argv = [*SEARCH, "--proxy", "kd"] if command == "search" else ["distill", "--student", "resnet20"]
    err = _fail([*argv, "--teacher", str(path), "--out", str(out)], capsys)
    assert f"bad {named} field" in err and "rewrite it with diswot" in err
    assert not out.exists()


def test_ground_truth_encodings_folders_and_text_cells(tmp_path, capsys):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("arch,acc\n333,9\xe9\n".encode("latin-1"))
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    cells = tmp_path / "cells.csv"
    cells.write_text("arch,acc\n333,90\n153,91\n111,n/a\n")
    base = [*SEARCH, "--space", "resnet-depth", "--out", str(tmp_path / "o"), "--ground-truth"]
    assert "is not UTF-8 text" in _fail([*base, str(latin)], capsys)
    assert "is a folder; give the table file" in _fail([*base, str(folder)], capsys)
    assert "cells.csv:4: column 'acc' holds 'n/a'" in _fail([*base, str(cells)], capsys)


def test_messages_name_the_real_cause(tmp_path, capsys):
    assert "`diswot list proxies`" in _fail(
        [*SEARCH, "--proxy", "synflo", "--out", str(tmp_path / "o")], capsys
    )
    assert main(["list", "proxies"]) == 0  # the command the message names works
    capsys.readouterr()
    err = _fail([*SEARCH, "--teacher", str(tmp_path / "runs" / "teacher"), "--proxy", "kd",
                 "--out", str(tmp_path / "o")], capsys)  # fmt: skip
    assert "looks like a path, but no such file or folder exists" in err
    out = tmp_path / "r"
    assert main([*SEARCH, "--out", str(out)]) == 0
    capsys.readouterr()
    err = _fail([*SEARCH, "--proxy", "synflow", "--out", str(out), "--resume"], capsys)
    assert "proxy: run has 'params', now 'synflow'" in err and "another version" not in err


@pytest.mark.parametrize(
    "flag, value, expected",
    [("--gpus", ",", "give at least one of the GPU indices"),
     ("--gpus", "-1", "comma list of integers (GPU indices, >= 0)"),
     ("--seeds", "a", "comma list of integers (seeds)")],
)  # fmt: skip
def test_comma_lists_name_what_they_hold(tmp_path, capsys, flag, value, expected):
    argv = ["bench", "kd-ground-truth", "--space", "resnet-depth", "--teacher", "resnet20", flag, value,
            "--out", str(tmp_path / "gt.csv")]  # fmt: skip
    assert expected in _fail(argv, capsys)
    assert not (tmp_path / "gt.csv").exists()


LONG = "a" * 300


@pytest.mark.parametrize(
    "argv, named",
    [([*SEARCH, "--ground-truth", LONG + ".csv"], "--ground-truth"),
     ([*SEARCH, "--dataset", "cifar10", "--data-root", LONG], "--data-root"),
     ([*SEARCH, "--data-root", LONG], "--data-root"),
     ([*SEARCH, "--teacher", "resnet20", "--teacher", LONG + ":0.5"], "--teacher"),
     (["distill", "--teacher", "resnet20", "--student", LONG + ".json"], "--student"),
     (["bench", "proxies", "--space", "nb201", "--ground-truth", LONG + ".csv"], "--ground-truth"),
     (["export", LONG], "the export source")],
)  # fmt: skip
def test_paths_the_file_system_cannot_look_up_are_named(tmp_path, capsys, argv, named):
    err = _fail([*argv, "--out", str(tmp_path / "o")], capsys)
    assert f"{named} 'aaaa" in err and "cannot be a path here" in err
    assert not (tmp_path / "o").exists()
