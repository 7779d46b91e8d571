"""Every entry point against hostile files, absurd numbers and bad paths (the table in
``tests/robustness_cases.py``), plus SIGKILL and shared-store runs behind ``-m robustness_slow``.

A refusal must be exit 2 with one ``diswot <cmd>: error: ...`` line, no traceback, nothing
half-written and no fixture touched; a success must be allowed by the row and leave a sound
result. Hostile pickles would create a marker file if they ever ran: it must never appear. The
fast cases run in this process (``DISWOT_DEBUG=1`` lets a bug through as a real traceback); the
slow ones start ``python -m diswot`` so that a kill is a real SIGKILL.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import pickle
import random
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from robustness_cases import API_CASES, CASES, SEARCH, ApiCase, Case

import diswot
import diswot.distill
from diswot.cli import main
from diswot.errors import DiswotError
from diswot.models import build_model, save_checkpoint

REPO = Path(__file__).resolve().parents[1]
CLEAN_LINE = re.compile(r"^diswot [\w -]+: error: \S")
MARKER = "PWNED"


# fixtures: hostile and malformed files, built once per module -------------------------------
class Evil:
    """Unpickling this runs code: it would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def _pngs(folder: Path, n: int, seed: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def _bomb(path: Path) -> None:
    """A PNG header claiming 20000 x 20000 pixels (a decompression bomb), with no image data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.parent.mkdir(parents=True, exist_ok=True)
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def _checkpoints(fx: Path, evil: Evil, noise: Callable[[int], bytes]) -> None:
    (fx / "hostile.pt").write_bytes(pickle.dumps({"format": "diswot-checkpoint", "x": evil}))
    torch.save({"state_dict": {"w": torch.zeros(1)}, "x": evil}, fx / "hostile_zip.pt")
    (fx / "zero.pt").write_bytes(b"")
    (fx / "random.pt").write_bytes(noise(4096))
    torch.manual_seed(0)
    good = save_checkpoint(fx / "teacher.pt", build_model("resnet8", 10), "resnet8", 10)
    blob = good.read_bytes()
    (fx / "truncated.pt").write_bytes(blob[: len(blob) // 2])
    save_checkpoint(fx / "teacher100.pt", build_model("resnet8", 100), "resnet8", 100)
    torch.save(build_model("resnet8", 10).state_dict(), fx / "bare.pt")
    payload = torch.load(good, weights_only=True)
    payload["model"] = "resnet20"  # tampered: the state is a resnet8's
    torch.save(payload, fx / "wrong_arch.pt")
    payload["model"] = "resnet8"
    payload["state_dict"] = {k: v.double() * float("nan") for k, v in payload["state_dict"].items()}
    torch.save(payload, fx / "nan_weights.pt")
    (fx / "hostile_result.json").write_text('{"students": ["__import__(\'os\')"], "topk": 5}')


def _images(fx: Path) -> None:
    _pngs(fx / "img_good" / "cat", 6, 0)
    _pngs(fx / "img_good" / "dog", 6, 1)
    _pngs(fx / "img_corrupt" / "cat", 3, 2)
    _pngs(fx / "img_corrupt" / "dog", 3, 3)
    (fx / "img_corrupt" / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    (fx / "img_text" / "cat").mkdir(parents=True)
    (fx / "img_text" / "cat" / "notes.txt").write_text("not an image")
    (fx / "img_text" / "cat" / "fake.jpg").write_text("not a jpeg either")
    (fx / "img_empty").mkdir()
    _bomb(fx / "img_bomb" / "cat" / "bomb.png")
    _pngs(fx / "img_one_class" / "cat", 4, 4)


def _cifar(fx: Path, evil: Evil, noise: Callable[[int], bytes]) -> None:
    meta = {"label_names": [f"c{i}" for i in range(10)]}
    batch = {"data": np.zeros((20, 3072), np.uint8), "labels": [i % 10 for i in range(20)]}
    good = pickle.dumps(batch)

    def folder(name: str, meta_obj: object, batch_bytes: bytes) -> None:
        d = fx / name / "cifar-10-batches-py"
        d.mkdir(parents=True)
        (d / "batches.meta").write_bytes(pickle.dumps(meta_obj))
        (d / "data_batch_1").write_bytes(batch_bytes)
        (d / "test_batch").write_bytes(batch_bytes)

    folder("cifar_hostile_batch", meta, pickle.dumps({"data": evil, "labels": [0]}))
    folder("cifar_hostile_meta", {"label_names": evil}, good)
    folder("cifar_truncated", meta, good[: len(good) // 3])
    folder("cifar_random", meta, noise(2048))
    folder("cifar_shape", meta, pickle.dumps({"data": np.zeros((20, 100), np.uint8), "labels": [0] * 20}))
    folder("cifar_labels", meta, pickle.dumps({"data": np.zeros((20, 3072), np.uint8), "labels": [0] * 7}))
    folder(
        "cifar_badlabel", meta, pickle.dumps({"data": np.zeros((20, 3072), np.uint8), "labels": [99] * 20})
    )
    folder("cifar_meta_list", ["not", "a", "dict"], good)


def _sst2(fx: Path, noise: Callable[[int], bytes]) -> None:
    rows = "sentence\tlabel\n" + "".join(f"a fine film number {i}\t{i % 2}\n" for i in range(40))

    def folder(name: str, train: bytes) -> None:
        d = fx / name / "sst2"
        d.mkdir(parents=True)
        (d / "train.tsv").write_bytes(train)
        (d / "dev.tsv").write_bytes(train)

    folder("sst2_latin1", rows.encode() + "caf\xe9 cr\xe8me\t1\n".encode("latin-1"))
    folder("sst2_nolabel", rows.replace("\tlabel", "\tscore").encode())
    folder("sst2_empty", b"")
    folder("sst2_textlabel", rows.encode() + b"great\tpositive\n")
    folder("sst2_ragged", rows.encode() + b"one\ttwo\tthree\n")
    folder("sst2_header_only", b"sentence\tlabel\n")
    folder("sst2_binary", noise(2048))


def _tables(fx: Path, noise: Callable[[int], bytes]) -> None:
    archs = [f"{a}{b}{c}" for a in "1357" for b in "1357" for c in "1357"]  # every resnet-depth arch
    acc = {a: 50 + i * 0.5 for i, a in enumerate(archs)}
    body = "".join(f"{a},{acc[a]}\n" for a in archs)
    head = "arch,accuracy\n"
    tables = {
        "gt_good.csv": head + body,
        "gt_nan.csv": head + "".join(f"{a},{'nan' if i % 2 else acc[a]}\n" for i, a in enumerate(archs)),
        "gt_all_nan.csv": head + "".join(f"{a},\n" for a in archs),
        "gt_dup.csv": head + body + "".join(f"{a},{acc[a] - 10}\n" for a in archs),
        "gt_text.csv": head + "".join(f"{a},high\n" for a in archs),
        "gt_noarch.csv": "name,accuracy\n" + body,
        "gt_empty.csv": "",
        "gt_header_only.csv": head,
        "gt_foreign.csv": head + "".join(f"zz{i},{i}\n" for i in range(20)),
        "gt_inf.csv": head + "".join(f"{a},inf\n" for a in archs),
        "kd_dup.csv": "arch,kd_accuracy\n111,abc\n111,5\n",
    }
    for name, text in tables.items():
        (fx / name).write_text(text)
    (fx / "random.csv").write_bytes(noise(2048))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    fx = tmp_path_factory.mktemp("hostile")
    evil = Evil(fx / MARKER)
    rng = random.Random(15)

    def noise(n: int) -> bytes:
        return bytes(rng.getrandbits(8) for _ in range(n))

    _checkpoints(fx, evil, noise)
    _images(fx)
    _cifar(fx, evil, noise)
    _sst2(fx, noise)
    _tables(fx, noise)
    return fx


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file: a fixture a run touched shows up here."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


# the fast cases, in this process -------------------------------------------------------------
def _lines(text: str) -> list[str]:
    """The message lines of stderr, without tqdm bars (carriage returns), argparse's usage or indents."""
    parts = [p for p in re.split(r"[\r\n]+", text) if p.strip()]
    return [p.strip() for p in parts if "%|" not in p and not p.startswith(("usage:", " "))]


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse refuses with exit 2 itself
        return int(exc.code or 0)


def _sound_search(run: Path) -> None:
    result = json.loads((run / "result.json").read_text())
    assert result.get("arch") and math.isfinite(float(result["score"])), result


def _sound_distill(run: Path) -> None:
    text = (run / "result.json").read_text()
    assert "NaN" not in text and "Infinity" not in text, text[:300]


SOUND = {"search": (_sound_search, "s"), "distill": (_sound_distill, "d")}


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # relative outputs (and any default one) land here
    monkeypatch.setenv("DISWOT_DEBUG", "1")  # a bug raises instead of becoming a one-line report
    return tmp_path


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_entry_point_refuses_hostile_input_in_one_line(case: Case, hostile, scratch, capsys):
    if case.plant:
        source, target = case.plant
        (scratch / target).parent.mkdir(parents=True, exist_ok=True)
        (scratch / target).write_bytes((hostile / source).read_bytes())
    before = _snapshot(hostile)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = _run(case.render(str(hostile), str(scratch)))
    err = capsys.readouterr().err
    assert not (hostile / MARKER).exists(), "a hostile pickle ran its code"
    assert "Traceback" not in err, err
    assert code in (0, 2), (code, err)
    if code == 2:
        assert "refused" in case.accept, f"valid input refused: {err}"
        lines = _lines(err)
        assert lines and CLEAN_LINE.match(lines[-1]), err
        assert sum("error:" in ln for ln in lines) == 1, err
        assert "\x1b" not in err and "weights_only=False" not in err, f"a raw library message: {err}"
        assert not caught, f"a refusal also printed warnings: {[str(w.message)[:120] for w in caught]}"
        assert case.out is None or not _left(scratch / case.out), f"a refusal left {case.out} behind"
    else:
        assert "ok" in case.accept, "nonsense accepted"
        if case.check:
            sound, out = SOUND[case.check]
            sound(scratch / out)
    assert _snapshot(hostile) == before, "a run changed a file it was only given to read"


def _left(path: Path) -> bool:
    """Whether ``path`` exists; a name too long to look up exists nowhere."""
    return os.path.lexists(path)


@pytest.mark.parametrize("case", API_CASES, ids=lambda c: c.name)
def test_the_python_api_refuses_hostile_input_with_one_line_errors(case: ApiCase, hostile, scratch):
    code = case.code.replace("{fx}", str(hostile)).replace("{tmp}", str(scratch))
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(DiswotError) as info:
        exec(code, {"diswot": diswot})  # the rows are this repository's own source text
    assert not (hostile / MARKER).exists(), "a hostile pickle ran its code"
    message = str(info.value).strip()
    assert message and "\n" not in message, message
    assert case.out is None or not _left(scratch / case.out)


def test_the_case_table_names_are_unique_and_say_what_they_try():
    names = [c.name for c in CASES] + [c.name for c in API_CASES]
    assert len(names) == len(set(names))
    assert all(c.out is None or not c.out.startswith("/") for c in CASES)


# the slow cases: real processes, SIGKILL, two runs at once -----------------------------------
def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.pop("DISWOT_DEBUG", None)
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _diswot(argv: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "diswot", *argv], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc


def _history(run: Path) -> dict[str, str]:
    with open(run / "history.csv") as f:
        return {r["arch"]: r["score"] for r in csv.DictReader(f)}


def _search_outcome(run: Path) -> tuple:
    result = json.loads((run / "result.json").read_text())
    return result["arch"], result["score"], _history(run)


def _stored(path: Path) -> int:
    """Evaluations the store holds (0 while it does not exist or cannot be read yet)."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM history").fetchone()[0])
    except sqlite3.Error:
        return 0


def _kill_when(
    argv: list[str], cwd: Path, ready: Callable[[], bool], extra_s: float, limit_s: float = 240
) -> bool:
    """Start ``diswot argv``; once ``ready()`` holds, wait ``extra_s`` more and SIGKILL it.
    True when it was killed (False: it finished first).

    Polling the run's own progress puts the kill inside the work rather than in the interpreter's
    start-up, whatever the machine's speed."""
    proc = subprocess.Popen([sys.executable, "-m", "diswot", *argv], cwd=cwd, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    start = time.perf_counter()
    while proc.poll() is None and not ready() and time.perf_counter() - start < limit_s:
        time.sleep(0.02)
    try:
        proc.wait(timeout=extra_s)
        return False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def _kill_and_resume(args: list[str], tmp_path: Path, rounds: int, steps: int, outcome: Callable,
                     reached: Callable[[Path, int], bool], max_delay_s: float) -> None:  # fmt: skip
    """Run ``args`` whole, then ``rounds`` times SIGKILL a run once ``reached(run, k)`` (k drawn
    below ``steps``) plus a random delay, resume it, and compare ``outcome`` with the whole run's."""
    assert _diswot([*args, "--out", "whole"], tmp_path).returncode == 0
    whole = outcome(tmp_path / "whole")
    rng = random.Random(15)
    kills = 0
    for round_ in range(rounds):
        run = tmp_path / f"killed{round_}"
        after = rng.randint(0, steps - 1)
        kills += _kill_when([*args, "--out", run.name], tmp_path,
                            lambda r=run, k=after: reached(r, k), rng.uniform(0, max_delay_s))  # fmt: skip
        resumed = _diswot([*args, "--out", run.name, "--resume"], tmp_path)
        assert resumed.returncode == 0, resumed.stderr[-500:]
        assert outcome(run) == whole, f"round {round_}: killed after {after} steps"
    assert kills >= 2, "the runs finished before the kill: nothing was interrupted"


@pytest.mark.robustness_slow
def test_a_search_killed_at_random_moments_resumes_to_the_uninterrupted_result(tmp_path):
    evaluations = 16
    args = [*SEARCH, "--evaluations", str(evaluations), "--proposals-per-step", "1"]
    _kill_and_resume(args, tmp_path, rounds=4, steps=evaluations - 1, outcome=_search_outcome,
                     reached=lambda r, k: _stored(r / "store.sqlite") >= max(k, 1)
                     or (k == 0 and (r / "run.json").exists()), max_delay_s=0.3)  # fmt: skip


def _epochs(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    keep = ("epoch", "train_loss", "test_acc", "test_accuracy", "lr")
    return [{k: v for k, v in r.items() if k in keep} for r in rows]


def _logged(run: Path) -> int:
    try:
        return len(_epochs(run))
    except (OSError, csv.Error):
        return 0


@pytest.mark.robustness_slow
def test_a_distillation_killed_at_random_moments_resumes_to_the_uninterrupted_metrics(tmp_path, hostile):
    epochs = 3
    train = ["--student", "resnet8", "--epochs", str(epochs), "--batch-size", "40"]
    args = ["distill", "--teacher", str(hostile / "teacher.pt"), *train]
    _kill_and_resume(args, tmp_path, rounds=3, steps=epochs, outcome=_epochs,
                     reached=lambda r, k: r.exists() and _logged(r) >= k, max_delay_s=0.6)  # fmt: skip


@pytest.mark.robustness_slow
def test_two_searches_sharing_one_store_at_once_match_a_solo_run_or_one_refuses(tmp_path):
    args = [*SEARCH, "--evaluations", "8"]
    assert _diswot([*args, "--out", "solo", "--store", "solo.sqlite"], tmp_path).returncode == 0
    solo = _search_outcome(tmp_path / "solo")
    procs = [subprocess.Popen([sys.executable, "-m", "diswot", *args, "--out", f"run{i}", "--store",
                               "shared.sqlite"], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=240) for p in procs]
    for i, (proc, (_, err)) in enumerate(zip(procs, outputs, strict=True)):
        assert "Traceback" not in err, err[-2000:]
        if proc.returncode == 2:
            assert CLEAN_LINE.match(_lines(err)[-1]), err
        else:
            assert proc.returncode == 0, err[-500:]
            assert _search_outcome(tmp_path / f"run{i}") == solo
    assert any(p.returncode == 0 for p in procs), [o[1][-300:] for o in outputs]


@pytest.mark.robustness_slow
def test_a_bench_asked_for_more_archs_than_the_space_holds_scores_the_whole_space(tmp_path, hostile):
    from robustness_cases import BENCH_PROXIES

    argv = [
        *BENCH_PROXIES,
        "--ground-truth",
        str(hostile / "gt_good.csv"),
        "--out",
        "b",
        "--num-archs",
        "999999",
    ]
    proc = _diswot(argv, tmp_path)
    if proc.returncode == 2:
        assert CLEAN_LINE.match(_lines(proc.stderr)[-1]), proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr[-500:]
        assert (tmp_path / "b").is_dir()
