"""Trainer robustness (issue 15): hostile or impossible input ends in one clear DiswotError."""

from __future__ import annotations

import pytest

from diswot import build_model
from diswot.data import load_sample
from diswot.distill import Recipe, StudentRun, Trainer
from diswot.errors import RunDirError

QUICK = Recipe(epochs=1, batch_size=40, seed=0)


def test_an_output_folder_that_cannot_be_created_is_a_clear_error(tmp_path):
    blocker = tmp_path / "teacher.pt"
    blocker.write_bytes(b"a file where a folder should go")
    data = load_sample()
    run = StudentRun("resnet8", "resnet8", build_model("resnet8"), blocker / "run")
    with pytest.raises(RunDirError, match="cannot create the output folder .*choose another --out"):
        Trainer([run], data, data, QUICK, progress=False)
