"""One run per folder, atomic outputs: the lock of search, bench proxies and distill, a race of
two processes on one folder, a killed holder, and writes that fail half-way (issue 26)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from diswot.atomic import write_json
from diswot.cli import main
from diswot.errors import OutputError
from diswot.runlock import LOCK_FILE, PID_FILE, RunLock
from diswot.search.store import RunStore

REPO = Path(__file__).resolve().parents[2]
SEARCH = ["search", "--proxy", "params", "--evaluations", "3", "--population", "2", "--batch-size", "10",
          "--no-plots"]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _results(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in (LOCK_FILE, PID_FILE))


def test_a_second_run_on_a_folder_in_use_is_refused_at_once_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    with RunLock.on(out):  # another run holds the folder
        for argv in ([*SEARCH, "--out", str(out)], [*SEARCH, "--out", str(out), "--resume"]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and f"in use by another diswot run (PID {os.getpid()})" in err, err
            assert _results(out) == []  # the refused run touched nothing
        bench = ["bench", "proxies", "--ground-truth", str(tmp_path / "gt.csv"), "--out", str(out)]
        assert main(bench) == 2
        assert "in use by another diswot run" in capsys.readouterr().err
        distill = [
            "distill",
            "--teacher",
            "resnet20",
            "--student",
            "resnet20",
            "--epochs",
            "1",
            "--out",
            str(out),
        ]
        assert main(distill) == 2
        assert "in use by another diswot run" in capsys.readouterr().err
    assert not out.exists()  # the holder made the folder and left it empty: removed on release
    assert main([*SEARCH, "--out", str(out)]) == 0  # free again
    assert {"run.json", "result.json", "history.csv"} <= set(_results(out))


def test_a_lock_left_by_a_killed_process_never_blocks(tmp_path):
    out = tmp_path / "run"
    holder = (
        "import os, signal, sys; from diswot.runlock import RunLock; RunLock.on(sys.argv[1]); "
        "print('held', flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    )
    done = subprocess.run(
        [sys.executable, "-c", holder, str(out)], env=_env(), capture_output=True, text=True
    )
    assert done.returncode == -signal.SIGKILL and "held" in done.stdout
    assert (out / LOCK_FILE).exists()  # left behind by the dead holder ...
    with RunLock(out):  # ... and free: the kernel released it with the process
        pass


def test_two_searches_started_together_on_one_folder_exactly_one_runs(tmp_path):
    out = tmp_path / "race"
    argv = [sys.executable, "-m", "diswot", *SEARCH, "--out", str(out)]
    runs = [
        subprocess.Popen([*argv, "--seed", str(seed), "--evaluations", str(3 + seed)], env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for seed in (0, 1)
    ]  # fmt: skip
    outcomes = [(r.wait(timeout=240), r.stderr.read()) for r in runs]
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 2], outcomes
    refused = next(err for code, err in outcomes if code == 2)
    # refused by the lock (overlapping) or, if the winner was already done, by its finished run
    assert "in use by another diswot run" in refused or "already holds a search run" in refused, refused
    assert "Traceback" not in refused and refused.count("\n") == 1
    # the folder holds one consistent run: the winner's settings, result and history
    winner = json.loads((out / "run.json").read_text())
    result = json.loads((out / "result.json").read_text())
    history = (out / "history.csv").read_text().splitlines()
    assert result["evaluations"] == winner["evaluations"] == len(history) - 1


def test_a_failed_result_write_leaves_the_run_unfinished_and_resumable(tmp_path, monkeypatch, capsys):
    import diswot.search.outputs as outputs

    out = tmp_path / "run"

    def refuse(path, obj, indent=2):
        raise OutputError(f"cannot write {path} (No space left on device); make its folder writable")

    monkeypatch.setattr(outputs, "write_json", refuse)
    assert main([*SEARCH, "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()[-1]  # after the progress bar
    assert err.startswith("diswot search: error: cannot write") and "No space left on device" in err
    assert not (out / "result.json").exists()
    run_id = json.loads((out / "run.json").read_text())["run_id"]
    store = RunStore(out / "store.sqlite", "nb201", "-", "-")
    status = store.conn.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()[0]
    store.close()
    assert status == "running"  # not marked finished without its outputs
    monkeypatch.undo()
    assert main([*SEARCH, "--out", str(out), "--resume"]) == 0
    assert json.loads((out / "result.json").read_text())["evaluations"] == 3


def test_an_empty_or_garbled_run_json_makes_resume_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*SEARCH, "--out", str(out)]) == 0
    for garbage in (b"", b'{"run_id": ', b"\xff\xfe\x00", b"[1, 2]"):
        (out / "run.json").write_bytes(garbage)
        capsys.readouterr()
        assert main([*SEARCH, "--out", str(out), "--resume"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "run.json" in err and "another --out" in err, err


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path):
    target = tmp_path / "result.json"
    write_json(target, {"old": 1})
    with pytest.raises(TypeError):
        write_json(target, {"new": object()})  # not JSON: fails before anything is renamed
    assert json.loads(target.read_text()) == {"old": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]  # no temporary left
    if os.geteuid() != 0:  # root writes into read-only folders
        tmp_path.chmod(0o500)
        try:
            with pytest.raises(OutputError, match=r"cannot write .*result\.json"):
                write_json(target, {"new": 2})
        finally:
            tmp_path.chmod(0o700)
        assert json.loads(target.read_text()) == {"old": 1}


def test_bad_output_paths_are_one_line_and_leave_nothing(tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out, expected in (
        (a_file, "is a file, not a folder"),
        (tmp_path / ("n" * 300), "File name too long"),
    ):
        assert main([*SEARCH, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err and "--store" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_a_store_that_turns_read_only_mid_run_is_one_line(tmp_path):
    import sqlite3

    from diswot.errors import StoreError
    from diswot.scoring.store import writing

    path = tmp_path / "store.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    conn.close()
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)  # what a read-only folder gives
    with (
        pytest.raises(StoreError, match=r"cannot write to the store .*continue with --resume"),
        writing(read_only, path) as c,
    ):
        c.execute("INSERT INTO t VALUES (1)")
    read_only.close()
