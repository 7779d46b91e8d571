import json

import pytest

from diswot.cli import build_parser, main
from diswot.data.readers import DATASETS


def test_list_spaces_and_models(capsys):
    assert main(["list", "spaces"]) == 0
    out = capsys.readouterr().out
    assert "nb201" in out and "resnet-depth" in out and "autodistil-tiny" in out
    assert main(["list", "models"]) == 0
    assert "resnet56" in capsys.readouterr().out


def test_cost_json(capsys):
    key = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|"
    assert main(["cost", "--space", "nb201", key, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"arch": key, "params": 73306, "flops": 7783040}]


def test_sample_runs_on_the_embedded_data(capsys):
    assert main(["sample", "--space", "resnet-depth", "--num", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and all(r["feature_map"] == "64x8x8" for r in rows)
    assert all(1.5 < r["init_loss"] < 4 for r in rows)  # about ln(10) at initialisation


def test_bad_input_is_one_line_and_exit_2(capsys):
    assert main(["cost", "--space", "nb201", "|nope|"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("diswot cost: error: malformed NB201 string") and "Traceback" not in err
    assert main(["cost", "--space", "nb2", "x"]) == 2
    assert "Did you mean 'nb201'" in capsys.readouterr().err
    assert main(["sample", "--dataset", "cifar10", "--data-root", "/nonexistent"]) == 2
    assert "--download" in capsys.readouterr().err


def test_piping_into_a_reader_that_stops_early_is_not_an_error():
    import subprocess
    import sys

    # `true` exits without reading, so diswot writes into a closed pipe
    shell = f"{sys.executable} -m diswot list proxies | true"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=99)
    assert done.returncode == 0 and "Traceback" not in done.stderr


def test_dataset_flag_takes_the_dataset_registry_as_its_choices(capsys):
    """Every registered dataset (so one registered later too) parses, with its ``:classes=`` option;
    an unknown name or option is refused while parsing, naming the valid ones."""
    parser = build_parser()
    for name in DATASETS.names():
        assert parser.parse_args(["search", "--dataset", name.upper()]).dataset == name
    assert parser.parse_args(["search", "--dataset", "cifar10:classes=0-4"]).dataset == "cifar10:classes=0-4"
    refusals = [("cifar11", "Did you mean 'cifar10'"), ("sample:colour=1", "the one option is classes")]
    for bad, says in refusals:
        with pytest.raises(SystemExit) as stop:
            parser.parse_args(["search", "--dataset", bad])
        assert stop.value.code == 2 and says in capsys.readouterr().err
