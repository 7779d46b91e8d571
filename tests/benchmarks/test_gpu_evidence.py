"""The GPU evidence job (benchmarks/gpu_evidence.py): its planner, cost model, device kit and
command line. The planner runs on fake clocks; the kit on small real pickles; the command line
as the device would run it (one line and exit status 2 for bad input)."""

from __future__ import annotations

import importlib.util
import json
import lzma
import os
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_evidence.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_evidence", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_evidence"] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


ge = _load()


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class FakeStage:
    """Estimates ``estimate_s`` and, when run, takes ``takes_s`` of the fake clock."""

    def __init__(self, name, estimate_s, takes_s, clock, reserve_s=0.0, timeout_s=None, blocked=""):
        self.name, self.estimate_s, self.takes_s, self.clock = name, estimate_s, takes_s, clock
        self.reserve_s, self.timeout_s, self.blocked = reserve_s, timeout_s, blocked
        self.started_at = self.given_timeout = None

    def plan(self, job):
        return ge.StagePlan(self.estimate_s, self.reserve_s, self.timeout_s, self.blocked)

    def run(self, job, plan, timeout_s):
        self.started_at, self.given_timeout = self.clock.t, timeout_s
        self.clock.t += min(self.takes_s, timeout_s)  # the runner stops a stage at its limit
        return ge.StageRecord(self.name, "done" if self.takes_s <= timeout_s else "cut")


def _run(stages, budget, fake):
    clock = ge.Clock(budget, now=fake)
    lines = []
    records = ge.run_stages(stages, None, clock, lines.append, margin_s=8.0)
    return {r.name: r for r in records}, lines, clock


def test_a_stage_that_cannot_fit_is_skipped_and_the_next_that_fits_runs():
    fake = FakeClock()
    stages = [FakeStage("a", 10, 10, fake), FakeStage("big", 100, 100, fake), FakeStage("c", 20, 20, fake)]
    records, lines, _ = _run(stages, 60, fake)
    assert [records[n].status for n in ("a", "big", "c")] == ["done", "skipped", "done"]
    assert "needs ~100 s; 42 s usable" in records["big"].reason
    assert any(line.startswith("skip big: needs ~100 s") for line in lines)
    assert stages[1].started_at is None
    # c started at 10 s with 50 left: its limit is what is left less the stopping margin
    assert stages[2].given_timeout == pytest.approx(60 - 10 - 8)


def test_no_stage_starts_past_the_budget_and_none_may_run_past_it():
    fake = FakeClock()
    # the first stage overruns its estimate and is stopped at its limit; nothing starts after
    stages = [FakeStage("slow", 10, 500, fake), FakeStage("tiny", 0.5, 0.5, fake)]
    records, _, clock = _run(stages, 60, fake)
    assert records["slow"].status == "cut"
    assert records["tiny"].status == "skipped" and "the budget is spent" in records["tiny"].reason
    assert clock.elapsed() <= 60 - 8 + 1e-9


@pytest.mark.parametrize("seed", range(20))
def test_every_started_stage_fitted_when_it_started(seed):
    """Random estimates and durations (some overrunning): each stage that started had its
    estimate and reserve within the time left, and its limit ends inside the budget."""
    rng = np.random.default_rng(seed)
    fake = FakeClock()
    stages = [
        FakeStage(f"s{i}", float(rng.uniform(1, 60)), float(rng.uniform(0.5, 120)), fake,
                  reserve_s=float(rng.choice([0, 20])))
        for i in range(8)
    ]  # fmt: skip
    budget = 200.0
    records, _, clock = _run(stages, budget, fake)
    for stage in stages:
        if stage.started_at is None:
            assert records[stage.name].status == "skipped" and records[stage.name].reason
            continue
        elapsed = stage.started_at - clock.started
        assert elapsed + stage.estimate_s + stage.reserve_s <= budget - 8.0
        assert elapsed + stage.given_timeout <= budget - 8.0 + 1e-9
    assert clock.elapsed() <= budget - 8.0 + 1e-9


def test_the_reserve_for_later_stages_and_an_elastic_limit_are_kept():
    left = 100.0
    assert not ge.decide(ge.StagePlan(50, reserve_s=45), left, 8).run  # 95 > 92 usable
    fits = ge.decide(ge.StagePlan(50, reserve_s=40, timeout_s=52), left, 8)
    assert fits.run and fits.timeout_s == 52
    assert ge.decide(ge.StagePlan(50), left, 8).timeout_s == 92
    blocked = ge.decide(ge.StagePlan(1, blocked="no trained teacher"), left, 8)
    assert not blocked.run and blocked.reason == "no trained teacher"
    assert not ge.decide(ge.StagePlan(float("inf")), left, 8).run


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie has ended


def test_a_command_past_its_limit_is_stopped_with_its_worker_processes(tmp_path):
    child = tmp_path / "child.pid"
    script = ("import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; "
              f"time.sleep(60)']); open({str(child)!r}, 'w').write(str(p.pid)); time.sleep(60)")  # fmt: skip
    polls = []
    with open(tmp_path / "log.txt", "a") as log:
        status, rc = ge.run_command([sys.executable, "-c", script], dict(os.environ), log, 2.0,
                                    lambda: polls.append(1), poll_s=0.2)  # fmt: skip
    assert (status, rc) == ("cut", None) and len(polls) >= 5
    assert child.exists() and not _alive(int(child.read_text()))
    with open(tmp_path / "log.txt", "a") as log:
        assert ge.run_command([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), log, 30,
                              lambda: None) == ("failed", 3)  # fmt: skip
        assert ge.run_command([sys.executable, "-c", "print('ok')"], dict(os.environ), log, 30,
                              lambda: None) == ("done", 0)  # fmt: skip
    assert "ok" in (tmp_path / "log.txt").read_text()


def test_a_stopped_job_stops_its_running_stage_and_records_why(tmp_path, shared_data):
    """SIGTERM to the job (a lease ending early) ends the stage's processes and leaves a summary."""
    import signal
    import time

    out = tmp_path / "out"
    environment = {k: v for k, v in os.environ.items() if k not in {"SMOKE", "OUT"}}
    environment.update(SMOKE="1", DISWOT_DATA=str(shared_data))
    job = subprocess.Popen([sys.executable, str(SCRIPT), "--budget-s", "300", "--out", str(out),
                            "--work", str(tmp_path / "work")], env=environment, cwd=REPO,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while "start throughput" not in (out / "log.txt").read_text() if (out / "log.txt").exists() else True:
        assert time.monotonic() < deadline, "the throughput stage never started"
        time.sleep(0.2)
    time.sleep(1.0)
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=30) == 128 + signal.SIGTERM
    summary = json.loads((out / "summary.json").read_text())
    assert "stopped by SIGTERM" in summary["interrupted"] and summary["running"]["stage"] == "throughput"
    stage = subprocess.run(["pgrep", "-f", f"kd_throughput.py.*{out}"], capture_output=True, text=True)
    assert stage.stdout.strip() == "", "the stage's process outlived the job"


def test_results_are_copied_out_when_they_change(tmp_path):
    src, dst = tmp_path / "work.csv", tmp_path / "out.csv"
    assert not ge.copy_if_newer(src, dst)  # nothing yet
    src.write_text("a\n1\n")
    assert ge.copy_if_newer(src, dst) and dst.read_text() == "a\n1\n"
    assert not ge.copy_if_newer(src, dst)  # unchanged
    os.utime(src, (dst.stat().st_mtime + 5, dst.stat().st_mtime + 5))
    src.write_text("a\n1\n2\n")
    os.utime(src, (dst.stat().st_mtime + 5, dst.stat().st_mtime + 5))
    assert ge.copy_if_newer(src, dst) and dst.read_text().endswith("2\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "work.csv"]  # no part file left


# the cost model ------------------------------------------------------------------------------


def test_choose_epochs_takes_the_most_that_fit_within_bounds():
    # (300 / 2 seeds - 30 s fixed) / 20 s an epoch = 6
    assert ge.choose_epochs(300, 20, 30, lo=2, hi=20, copies=2) == 6
    assert ge.choose_epochs(300, 20, 30, lo=2, hi=5, copies=2) == 5
    assert ge.choose_epochs(300, 20, 30, lo=7, hi=20, copies=2) == 0  # below the floor: none
    assert ge.choose_epochs(300, 20, 30, lo=7, hi=20, copies=1) == 13


def _rows():
    return [
        {"row": "step", "device": "cuda", "precision": "bf16", "compiled": False, "batch_size": 128,
         "images_per_s": 12_800.0},  # 10 ms a step
        {"row": "step", "device": "cuda", "precision": "bf16", "compiled": False, "batch_size": 512,
         "images_per_s": 25_600.0},  # 20 ms a step
        {"row": "step", "device": "cuda", "precision": "bf16", "compiled": True, "batch_size": 128,
         "images_per_s": 1e9},
        {"row": "group", "device": "cuda", "precision": "bf16", "compiled": False, "batch_size": 256,
         "images_per_s": 10_000.0},
        {"row": "group-procs", "device": "cuda", "precision": "bf16", "compiled": False, "batch_size": 256,
         "images_per_s": 40_000.0, "processes": 8},
    ]  # fmt: skip


def test_step_seconds_interpolates_between_measured_batches_and_ignores_compiled_rows():
    rows = _rows()
    assert ge.step_seconds(rows, "cuda", "bf16", 128) == pytest.approx(0.010)
    assert ge.step_seconds(rows, "cuda", "bf16", 256) == pytest.approx(0.010 + 0.010 * 128 / 384)
    assert ge.step_seconds(rows, "cuda", "bf16", 1024) == pytest.approx(0.010 + 0.010 * 896 / 384)
    assert ge.step_seconds(rows, "cuda", "fp32", 256) is None
    one = [rows[0]]  # one point: time grows with the batch beyond it, never shrinks below it
    assert ge.step_seconds(one, "cuda", "bf16", 256) == pytest.approx(0.020)
    assert ge.step_seconds(one, "cuda", "bf16", 64) == pytest.approx(0.010)


def test_costs_come_from_the_measured_rows_then_from_the_stages_themselves():
    sizes, rates = ge.GPU_SIZES, ge.Rates(rows=_rows())
    # 39 steps of 256 x 1.5 (ResNet-56 vs the KD step) x 1.25 (the loop)
    step = ge.step_seconds(rates.rows, "cuda", "bf16", 256)
    assert ge.teacher_epoch_s(rates, sizes) == pytest.approx(39 * step * 1.5 * 1.25)
    # 10,000 images at the 8-process rate, x 12/9 for deeper students, x 1.25 for the loop
    assert ge.student_epoch_s(rates, sizes) == pytest.approx(10_000 / 40_000 * 12 / 9 * 1.25)
    no_procs = ge.Rates(rows=[r for r in _rows() if r["row"] != "group-procs"])
    assert ge.student_epoch_s(no_procs, sizes) == pytest.approx(10_000 / 20_000 * 12 / 9 * 1.25)
    assert ge.student_epoch_s(ge.Rates(), sizes) == pytest.approx(10_000 / ge.PRIOR_STUDENT_IMAGES_PER_S)
    assert ge.teacher_epoch_s(ge.Rates(), sizes) == ge.PRIOR_TEACHER_EPOCH_S
    measured = ge.Rates(rows=_rows(), teacher_epoch_s=0.7, student_epoch_s=0.05)
    assert ge.teacher_epoch_s(measured, sizes) == 0.7 and ge.student_epoch_s(measured, sizes) == 0.05


def test_nb201_cells_fill_whole_waves_and_respect_the_cap():
    sizes = replace(ge.GPU_SIZES, startup_s=20, wave_overhead_s=6, workers=8, group_size=8, nb201_max=200)
    # (200 s - 26 s) / (1 s a cell-epoch x 2 epochs) = 87 cells -> one wave of 64
    assert ge.nb201_cells(200, 1.0, 2, sizes) == 64
    assert ge.nb201_cells(26 + 2 * 20, 1.0, 2, sizes) == 16  # 20 fit: two groups of 8
    assert ge.nb201_cells(26 + 2 * 5, 1.0, 2, sizes) == 5  # fewer than a group: what fits
    assert ge.nb201_cells(10, 1.0, 2, sizes) == 0
    assert ge.nb201_cells(1e6, 1.0, 2, sizes) == 192  # the cap of 200, in whole waves


def test_progress_counts_epochs_of_groups_of_one_and_of_several(tmp_path):
    def metrics(folder, epochs):
        folder.mkdir(parents=True)
        (folder / "metrics.csv").write_text("epoch,loss\n" + "".join(f"{e},1.0\n" for e in range(epochs)))

    metrics(tmp_path / "kd-seed0-from-0" / "0-resnet-depth_111", 2)
    metrics(tmp_path / "kd-seed0-from-0" / "1-resnet-depth_135", 2)
    metrics(tmp_path / "kd-seed0-from-2", 1)  # a group of one trains in the group's folder
    metrics(tmp_path / "kd-seed1-from-0", 3)
    assert ge.metrics_rows(tmp_path, "*-seed0-from-*") == 5
    assert ge.metrics_rows(tmp_path, "*") == 8
    assert ge.metrics_rows(tmp_path / "kd-seed1-from-0") == 3
    assert ge.metrics_rows(tmp_path / "missing") == 0


def test_table_stats_counts_finished_students_and_the_seed_to_seed_spearman(tmp_path):
    table = tmp_path / "gt.csv"
    table.write_text("arch,kd_accuracy,kd_accuracy_seed0,kd_accuracy_seed1\n"
                     "111,1,10,11\n135,2,20,19\n333,3,30,33\n777,,40,\n")  # fmt: skip
    stats = ge.table_stats(table)
    assert stats["kd_accuracy_seed0"] == {"finished": 4, "mean": 25.0}
    assert stats["kd_accuracy_seed1"]["finished"] == 3
    assert stats["kd_accuracy_spearman_seed0_seed1"] == 1.0
    assert ge.table_stats(tmp_path / "none.csv") == {}


def _job(tmp_path, student_epoch_s, budget=500.0, teacher=True):
    fake = FakeClock()
    job = ge.Job(ge.GPU_SIZES, tmp_path, tmp_path, ge.Clock(budget, now=fake), smoke=False)
    job.rates.student_epoch_s = student_epoch_s
    if teacher:
        job.teacher.write_bytes(b"stand-in")
    return job


def test_seed0_picks_epochs_for_both_seeds_and_the_proxies_else_one_seed_else_skips(tmp_path):
    stage0, stage1 = ge.StudentsStage(0), ge.StudentsStage(1)
    fixed = ge.seed_fixed_s(ge.GPU_SIZES, 128)  # 20 s start-up + 2 waves x 6 s
    # 0.1 s a student-epoch: 12.8 s an epoch of 128 students; (500 - 8 - 90) / 2 - 32 = 169 -> 13
    plan = stage0.plan(_job(tmp_path, 0.1))
    assert plan.params["epochs"] == 13 and plan.reserve_s == 90
    assert plan.estimate_s == pytest.approx(fixed + 13 * 12.8)
    # 1 s a student-epoch: 128 s an epoch; two seeds of 2 epochs do not fit, one seed of 2 does
    assert stage0.plan(_job(tmp_path, 1.0)).params["epochs"] == 2
    slow = stage0.plan(_job(tmp_path, 2.0))  # 256 s an epoch: not even 2 epochs of one seed
    assert slow.params["epochs"] == 0 and "student-images/s" in slow.blocked
    assert "no trained teacher" in stage0.plan(_job(tmp_path / "x", 0.1, teacher=False)).blocked
    # seed 1 follows seed 0's epochs, and its measured time is seed 1's estimate
    job = _job(tmp_path, 0.1)
    assert "seed 0 did not run" in stage1.plan(job).blocked
    job.student_epochs, job.rates.seed_wall_s[0] = 13, 150.0
    assert stage1.plan(job).estimate_s == 150.0 and stage1.plan(job).params == {"epochs": 13}


def test_apply_settings_types_each_field_and_names_a_bad_one():
    sizes = ge.apply_settings(ge.GPU_SIZES, ["workers=16", "train_images=none", "teacher_share=0.2",
                                             "archs=111,333"])  # fmt: skip
    assert (sizes.workers, sizes.train_images, sizes.teacher_share, sizes.archs) == (16, None, 0.2, "111,333")
    assert sizes.n_archs == 2
    with pytest.raises(ge.InputError, match="name among"):
        ge.apply_settings(ge.GPU_SIZES, ["wokers=16"])
    with pytest.raises(ge.InputError, match="not a valid workers"):
        ge.apply_settings(ge.GPU_SIZES, ["workers=many"])


# the device kit ------------------------------------------------------------------------------


def test_a_trimmed_test_batch_loads_in_diswot_and_reads_under_numpy_1(shared_data, tmp_path):
    from diswot.data import load_dataset

    root = ge.smoke_data(shared_data, tmp_path / "data", 120)
    raw = (root / "cifar-10-batches-py" / "test_batch").read_bytes()
    assert b"cnumpy.core.multiarray\n_reconstruct" in raw and b"numpy._core" not in raw
    test = load_dataset("cifar10", root, train=False)
    full = load_dataset("cifar10", shared_data, train=False)
    assert len(test) == 120
    assert (test.images == full.images[:120]).all() and (test.labels == full.labels[:120]).all()


def _fake_kit(root: Path, images: int) -> Path:
    rng = np.random.default_rng(0)
    batch = {"batch_label": "testing batch 1 of 1", "labels": rng.integers(0, 10, images).tolist(),
             "data": rng.integers(0, 256, (images, 3072), dtype=np.uint8)}  # fmt: skip
    (root / "data").mkdir(parents=True)
    (root / "env.sh").write_text("# env\n")
    (root / "data" / "data_batch_1.xz").write_bytes(lzma.compress(b"train"))
    (root / "data" / "test_batch.xz").write_bytes(lzma.compress(pickle.dumps(batch, protocol=2), preset=0))
    return root


def _checkout(root: Path) -> Path:
    root.mkdir()
    (root / "tracked.txt").write_text("x" * 1000)
    (root / ".gitignore").write_text("/.device-kit/\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "."], check=True)
    return root


def test_prepare_kit_keeps_the_test_images_that_travel_within_the_limit(tmp_path, monkeypatch):
    source, repo = _fake_kit(tmp_path / "kit", 1100), _checkout(tmp_path / "repo")
    info = ge.prepare_kit(source, repo / ".device-kit", 300, repo)
    assert info["test_images"] == 300
    assert ge.read_cifar_batch(repo / ".device-kit" / "data" / "test_batch.xz")["data"].shape == (300, 3072)
    assert (repo / ".device-kit" / "env.sh").read_text() == "# env\n"
    # a limit that leaves room for about 600 random (incompressible) images: 500 are kept
    others = 7 + len(lzma.compress(b"train")) + 200  # env.sh, the training batch, trimmed.json
    monkeypatch.setattr(ge, "TRAVEL_MARGIN_BYTES", 0)
    checkout = ge.travel_bytes(repo, repo / ".device-kit")
    monkeypatch.setattr(ge, "TRAVEL_LIMIT_BYTES", checkout + others + 600 * 3100)
    info = ge.prepare_kit(source, repo / ".device-kit", None, repo)
    assert info["test_images"] == 500
    assert json.loads((repo / ".device-kit" / "trimmed.json").read_text())["test_images"] == 500
    with pytest.raises(ge.InputError, match="device kit"):
        ge.prepare_kit(tmp_path / "nothing", repo / ".device-kit", None, repo)


# the command line ----------------------------------------------------------------------------


def _cli(*args, env=None, cwd=REPO):
    environment = {k: v for k, v in os.environ.items() if k not in {"SMOKE", "OUT"}}
    environment.update(env or {})
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=60)  # fmt: skip


@pytest.mark.parametrize("budget", ["0", "-5", "abc", "nan", "inf"])
def test_a_bad_budget_is_one_line_and_exit_2(budget, tmp_path):
    done = _cli("--budget-s", budget, "--out", str(tmp_path / "out"), env={"SMOKE": "1"})
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--budget-s must be a positive number" in done.stderr
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_a_missing_device_kit_is_one_line_and_exit_2(tmp_path):
    done = _cli("--budget-s", "500", "--kit", str(tmp_path / "none"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "no device kit" in done.stderr and "--prepare-kit" in done.stderr
    assert not (tmp_path / "out").exists()
    for args in (["--set", "wokers=3"], ["--bogus"], ["--stages", "teacher,bogus"]):
        done = _cli("--budget-s", "500", "--out", str(tmp_path / "out"), *args, env={"SMOKE": "1"})
        assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    done = _cli("--budget-s", "500", env={"SMOKE": "1"})  # no --out and no $OUT
    assert done.returncode == 2 and "no output folder" in done.stderr
    done = _cli("--out", str(tmp_path / "out"), env={"SMOKE": "1", "DISWOT_DATA": str(tmp_path / "none")})
    assert done.returncode == 2 and "no CIFAR-10 batches" in done.stderr
    assert not (tmp_path / "out").exists()
    done = _cli("--prepare-kit", "--test-images", "0")
    assert done.returncode == 2 and "--test-images must be at least 1" in done.stderr


def test_a_tiny_budget_skips_every_stage_cleanly(tmp_path, shared_data):
    out = tmp_path / "out"
    done = _cli("--budget-s", "1", "--out", str(out), "--work", str(tmp_path / "work"),
                env={"SMOKE": "1", "DISWOT_DATA": str(shared_data)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["log.txt", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    names = ["setup", "throughput", "teacher", "resnet-depth-seed0", "resnet-depth-seed1", "nb201-seed0"]
    names.append("proxies")
    assert [s["name"] for s in summary["stages"]] == names
    assert all(s["status"] == "skipped" and s["reason"] for s in summary["stages"])
    assert "the budget is spent" in summary["stages"][0]["reason"] and summary["reached"] is None
    log = (out / "log.txt").read_text()
    assert all(f"skip {name}:" in log for name in names) and "reached no stage" in log


TINY = [
    "--set", "teacher_model=resnet20", "--set", "train_images=100", "--set", "test_images=200",
    "--set", "teacher_batch=50", "--set", "student_batch=50", "--set", "archs=111,113,131",
    "--set", "workers=1", "--set", "group_size=4", "--set", "reference_size=2", "--set", "bootstrap=0",
    "--proxies", "params,flops,kd",
]  # fmt: skip


@pytest.mark.slow
def test_a_smoke_run_of_the_training_stages_writes_their_documented_files(tmp_path, shared_data):
    """Set-up, teacher, seed 0 and the proxy study for real (tiny sizes); the stages left out by
    --stages are skipped with that reason. (The full smoke run, every stage and all 7 files, is
    the documented SMOKE=1 command: 4-5 minutes, too long for the suite.)"""
    out = tmp_path / "out"
    done = _cli("--budget-s", "200", "--out", str(out), "--work", str(tmp_path / "work"), *TINY,
                "--stages", "setup,teacher,resnet-depth-seed0,proxies",
                env={"SMOKE": "1", "DISWOT_DATA": str(shared_data)})  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    files = {"log.txt", "summary.json", "resnet_depth_gt.csv", "proxies_results.json", "proxies_scores.csv"}
    assert {p.name for p in out.iterdir()} == files
    summary = json.loads((out / "summary.json").read_text())
    status = {s["name"]: s["status"] for s in summary["stages"]}
    ran = {"setup", "teacher", "resnet-depth-seed0", "proxies"}
    assert status == {name: "done" if name in ran else "skipped" for name in status} and len(status) == 7
    seed0 = next(s for s in summary["stages"] if s["name"] == "resnet-depth-seed0")
    assert seed0["params"] == {"epochs": 1} and seed0["results"]["student_epochs"] == 6
    assert seed0["results"]["student_images_per_s"] > 0 and summary["teacher"]["epochs_done"] == 1
    table = (out / "resnet_depth_gt.csv").read_text().splitlines()
    assert table[0].startswith("arch,kd_accuracy,vanilla_accuracy") and len(table) == 4
    report = json.loads((out / "proxies_results.json").read_text())
    assert set(report["proxies"]) == {"params", "flops", "kd"} and report["num_archs"] == 3
    assert "not selected (--stages)" in (out / "log.txt").read_text()
