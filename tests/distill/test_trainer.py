"""Trainer robustness (issue 15): hostile or impossible input ends in one clear DiswotError."""

from __future__ import annotations

import pytest
import torch

from diswot import build_model
from diswot.data import load_sample
from diswot.distill import Recipe, StudentRun, Trainer
from diswot.distill import trainer as trainer_module
from diswot.errors import CheckpointError, DiswotError, RunDirError

QUICK = Recipe(epochs=1, batch_size=40, seed=0)


def test_an_output_folder_that_cannot_be_created_is_a_clear_error(tmp_path):
    blocker = tmp_path / "teacher.pt"
    blocker.write_bytes(b"a file where a folder should go")
    data = load_sample()
    run = StudentRun("resnet8", "resnet8", build_model("resnet8"), blocker / "run")
    with pytest.raises(RunDirError, match=r"cannot create the output folder .*choose another --out"):
        Trainer([run], data, data, QUICK, progress=False)


@pytest.mark.parametrize(
    ("field", "value"),
    [("lr", float("inf")), ("weight_decay", float("inf")), ("ce_weight", float("nan")), ("ce_weight", -1.0)],
)
def test_a_recipe_of_non_finite_or_negative_weights_is_refused(field, value):
    with pytest.raises(DiswotError, match=r"finite|>= 0"):
        Recipe(**{field: value})


def test_a_teacher_with_nan_weights_is_refused_before_training(tmp_path):
    teacher = build_model("resnet8")
    with torch.no_grad():
        for p in teacher.parameters():
            p.fill_(float("nan"))
    data = load_sample()
    run = StudentRun("resnet8", "resnet8", build_model("resnet8"), tmp_path / "run", distillers="kd")
    with pytest.raises(CheckpointError, match="not finite"):
        Trainer([run], data, data, QUICK, teacher=teacher, progress=False)
    assert not (tmp_path / "run").exists()


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def test_a_hostile_training_state_is_refused_in_one_line_and_runs_nothing(tmp_path):
    marker = tmp_path / "PWNED"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    torch.save({"spec": "resnet8", "x": _Evil(marker)}, run_dir / trainer_module.STATE_FILE)
    data = load_sample()
    run = StudentRun("resnet8", "resnet8", build_model("resnet8"), run_dir)
    trainer = Trainer([run], data, data, QUICK, progress=False)
    with pytest.raises(CheckpointError, match="cannot read training state") as info:
        trainer.resume()
    assert "\n" not in str(info.value)
    assert not marker.exists()
