"""The trainer's fast paths (precision, device-side loss sums, evaluation cadence) and the
ground-truth command's exact student lists, seeds, workers and resume."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from diswot import build_model
from diswot.bench import kd_ground_truth as gt_module
from diswot.bench.kd_ground_truth import GroundTruthConfig, choose_archs
from diswot.cli import main
from diswot.data import load_sample
from diswot.distill import Recipe, StudentRun, Trainer
from diswot.distill import trainer as trainer_module
from diswot.errors import DiswotError
from diswot.models.checkpoint import save_checkpoint

SMALL = ("111", "113")  # the two smallest resnet-depth students: quick to train


def _fit(tmp_path, recipe, teacher=None, distillers="none"):
    train, test = load_sample().split(0.2)
    torch.manual_seed(0)
    run = StudentRun("s", "resnet8", build_model("resnet8"), tmp_path, distillers=distillers)
    trainer = Trainer([run], train, test, recipe, teacher=teacher, progress=False)
    return trainer, trainer.fit()[0], run


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_on_cpu(tmp_path, precision):
    teacher = build_model("resnet8")
    _, summary, run = _fit(tmp_path, Recipe(epochs=1, batch_size=40, precision=precision), teacher, "kd")
    assert torch.isfinite(torch.tensor(run.metrics[-1]["loss"]))
    assert 0 <= summary["test_accuracy"] <= 100
    assert summary["recipe"]["precision"] == precision


def test_auto_precision_is_fp32_on_cpu():
    assert trainer_module.resolve_precision("auto", "cpu") == "fp32"
    assert trainer_module.resolve_precision("auto", "cuda") == "bf16"


def test_losses_summed_on_the_device_equal_the_per_step_sums(tmp_path, monkeypatch):
    steps: list[torch.Tensor] = []
    original = Trainer._step

    def recording(self, run, batch, teacher):
        values = original(self, run, batch, teacher)
        steps.append(values.clone())
        return values

    monkeypatch.setattr(Trainer, "_step", recording)
    _, _, run = _fit(tmp_path, Recipe(epochs=1, batch_size=40), build_model("resnet8"), "kd")
    per_step = torch.stack(steps).double()
    n = len(steps)
    for i, name in enumerate(("loss", "ce", "distill")):
        assert run.metrics[0][name] == pytest.approx(float(per_step[:, i].sum()) / n, rel=1e-9, abs=1e-12)
    assert run.metrics[0]["distill"] > 0


def test_eval_every_keeps_the_final_accuracy_and_weights(tmp_path):
    _, every, run_a = _fit(tmp_path / "a", Recipe(epochs=3, batch_size=40, eval_every=1))
    _, sparse, run_b = _fit(tmp_path / "b", Recipe(epochs=3, batch_size=40, eval_every=2))
    assert sparse["test_accuracy"] == every["test_accuracy"]
    a, b = run_a.model.state_dict(), run_b.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    evaluated = [m["epoch"] for m in run_b.metrics if m["test_accuracy"] == m["test_accuracy"]]
    assert evaluated == [2, 3]  # every 2nd epoch, and the last one always
    assert (tmp_path / "b" / "metrics.png").exists()


def test_metrics_figure_is_drawn_once_at_the_end(tmp_path, monkeypatch):
    plots = []
    original = trainer_module.write_metrics

    def counting(run, plot=True):
        plots.append(plot)
        original(run, plot)

    monkeypatch.setattr(trainer_module, "write_metrics", counting)
    _fit(tmp_path, Recipe(epochs=3, batch_size=40))
    assert plots == [False, False, True]


def test_bad_recipe_values_are_clear_errors():
    with pytest.raises(DiswotError, match="precision must be one of"):
        Recipe(precision="fp8")
    with pytest.raises(DiswotError, match="eval_every"):
        Recipe(eval_every=0)


@pytest.fixture()
def teacher_file(tmp_path):
    path = tmp_path / "t.pt"
    save_checkpoint(path, build_model("resnet8"), "resnet8", 10)
    return path


def _gt_args(teacher, out, *extra):
    return ["bench", "kd-ground-truth", "--teacher", str(teacher), "--epochs", "1", "--batch-size", "40",
            "--out", str(out), *extra]  # fmt: skip


def test_ground_truth_seeds_write_per_seed_columns_and_their_mean(tmp_path, teacher_file):
    out = tmp_path / "gt.csv"
    assert main(_gt_args(teacher_file, out, "--archs", ",".join(SMALL), "--seeds", "0,1", "--vanilla")) == 0
    table = pd.read_csv(out, dtype={"arch": str})
    assert list(table["arch"]) == list(SMALL)
    for measure in ("kd_accuracy", "vanilla_accuracy"):
        seeds = table[[f"{measure}_seed0", f"{measure}_seed1"]]
        assert table[measure].tolist() == pytest.approx(seeds.mean(axis=1).tolist())
    assert (table["params"] > 0).all() and (table["flops"] > 0).all()


def test_a_rerun_trains_only_the_missing_arch_seed_pairs(tmp_path, teacher_file, monkeypatch):
    out = tmp_path / "gt.csv"
    assert main(_gt_args(teacher_file, out, "--archs", SMALL[0], "--seeds", "0")) == 0
    trained = []
    original = gt_module._train_group

    def recording(cfg, group, device, progress):
        trained.extend((a, group.seed) for a in group.archs)
        return original(cfg, group, device, progress)

    monkeypatch.setattr(gt_module, "_train_group", recording)
    archs_file = tmp_path / "archs.txt"
    archs_file.write_text(f"# students\n{SMALL[0]}\n{SMALL[1]}\n")
    assert main(_gt_args(teacher_file, out, "--archs", str(archs_file), "--seeds", "0,1")) == 0
    assert sorted(trained) == sorted([(SMALL[1], 0), (SMALL[0], 1), (SMALL[1], 1)])
    table = pd.read_csv(out, dtype={"arch": str})
    assert table[["kd_accuracy_seed0", "kd_accuracy_seed1"]].notna().all().all()


def test_workers_give_the_same_table_as_one_process(tmp_path, teacher_file, monkeypatch):
    # each of the 2 workers gets cores // 2 threads; the single process must use as many, since
    # CPU kernels round differently with another thread count
    threads = torch.get_num_threads()
    monkeypatch.setattr(gt_module.os, "cpu_count", lambda: 2)
    torch.set_num_threads(1)
    args = ["--archs", ",".join(SMALL), "--group-size", "1"]
    try:
        assert main(_gt_args(teacher_file, tmp_path / "one.csv", *args)) == 0
    finally:
        torch.set_num_threads(threads)
    assert main(_gt_args(teacher_file, tmp_path / "two.csv", *args, "--workers", "2")) == 0
    one = pd.read_csv(tmp_path / "one.csv")
    two = pd.read_csv(tmp_path / "two.csv")
    pd.testing.assert_frame_equal(one, two)


def test_all_takes_every_arch_of_a_finite_space(tmp_path):
    cfg = GroundTruthConfig(space="resnet-depth", teacher="t.pt", out=tmp_path / "x.csv", all_archs=True)
    archs = choose_archs(cfg)
    assert len(archs) == 64 and len(set(archs)) == 64
    nb201 = choose_archs(GroundTruthConfig(space="nb201", teacher="t", out="x.csv", all_archs=True))
    assert len(nb201) == 15625


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--archs", "111,999"], "not allowed"),
        (["--workers", "0"], "positive whole number"),
        (["--precision", "fp8"], "invalid choice"),
        (["--seeds", "0,x"], "comma list of integers"),
        (["--archs", "111", "--all"], "either --archs or --all"),
        *(
            []
            if torch.cuda.is_available()
            else [
                (
                    ["--archs", "111", "--device", "cuda"],
                    # a CPU-only torch build says so (issue 26); a CUDA build without a GPU sees none
                    "CUDA is not available in this torch build; use --device cpu"
                    if torch.version.cuda is None
                    else "sees none; use --device cpu",
                )
            ]
        ),
    ],
)
def test_ground_truth_bad_input_is_one_line_and_exit_2(tmp_path, teacher_file, capsys, extra, message):
    out = tmp_path / "gt.csv"
    try:
        code = main(_gt_args(teacher_file, out, *extra))
    except SystemExit as exc:  # argparse's own checks
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "gt_runs").exists()


def test_a_table_from_before_seed_columns_counts_as_the_sampling_seed(tmp_path, teacher_file, monkeypatch):
    out = tmp_path / "gt.csv"
    out.write_text(f"arch,kd_accuracy,vanilla_accuracy,params,flops\n{SMALL[0]},31.5,,1000,2000\n")
    trained = []
    monkeypatch.setattr(gt_module, "_train_group", lambda cfg, group, *_: trained.append(group) or [])
    assert main(_gt_args(teacher_file, out, "--archs", SMALL[0], "--seed", "0")) == 0
    assert trained == []  # seed 0's value is the old kd_accuracy
    table = pd.read_csv(out, dtype={"arch": str})
    assert table.loc[0, "kd_accuracy_seed0"] == 31.5 and "vanilla_accuracy_seed0" not in table


def test_compile_leaves_the_hooked_modules_eager_and_compiles_the_rest(monkeypatch):
    # which blocks --compile hands to torch.compile (compiling itself takes minutes on a CPU)
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: compiled.append(self))
    model = build_model("resnet8")
    trainer_module._compile_around(model, {"stages", "fc"})
    names = {m: n for n, m in model.named_modules()}
    chosen = sorted(names[m] for m in compiled)
    # the hooked "stages" is descended into (its blocks compiled); "pool" has no weights
    assert chosen == sorted(["stem", *(f"stages.{n}" for n, _ in model.stages.named_children())])
    assert "fc" not in chosen and "stages" not in chosen
