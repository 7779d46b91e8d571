"""Adversarial pass over every entry point (issue 15): hostile files, absurd numbers, SIGKILL.

Every case runs ``python -m diswot ...`` (or a short Python-API snippet) in a subprocess, in its
own temporary directory, under a timeout, and its outcome is classified:

* ``clean``: exit 2 with a one-line ``diswot <cmd>: error: ...`` on stderr, no traceback, and no
  half-written output left behind;
* ``ok``: the command was right to succeed (e.g. a batch larger than the data) and its output
  checks out;
* ``FAIL``: a traceback, exit 1, a hang, code executed by a hostile file, data lost, a wrong
  result, or an outcome the case does not allow (nonsense accepted, valid input refused).

Run from the repository root (``OMP_NUM_THREADS=1 python benchmarks/robustness.py``); the
table is printed and written to ``benchmarks/results/robustness.json``. Tiny settings keep the
whole run to a few minutes on one core.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "robustness.json"
CLEAN_LINE = re.compile(r"^diswot [\w -]+: error: \S")

SEARCH = [
    "--space",
    "resnet-depth",
    "--teacher",
    "resnet8",
    "--evaluations",
    "4",
    "--batch-size",
    "16",
    "--population",
    "4",
    "--no-plots",
]
TRAIN = ["--epochs", "1", "--batch-size", "40"]
DISTILL = ["distill", "--student", "resnet8", *TRAIN]
BENCH_PROXIES = ["bench", "proxies", "--space", "resnet-depth", "--teacher", "resnet8",
                 "--proxies", "nwot,flops", "--num-archs", "6", "--batch-size", "16", "--no-plots",
                 "--bootstrap", "0"]  # fmt: skip
KD_GROUND_TRUTH = ["bench", "kd-ground-truth", "--space", "resnet-depth", "--num-archs", "1", *TRAIN]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.setdefault("MPLBACKEND", "Agg")
    return env


# ---------------------------------------------------------------------------------------------
# fixtures: hostile and malformed files, built once
# ---------------------------------------------------------------------------------------------
class Evil:
    """Unpickling this runs code: it would create the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def _write_pngs(folder: Path, n: int, seed: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def _write_bomb(path: Path) -> None:
    """A PNG header claiming 20000 x 20000 pixels (a decompression bomb), with no image data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.parent.mkdir(parents=True, exist_ok=True)
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def build_fixtures(fx: Path) -> None:
    import pickle

    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT))
    from diswot.models import build_model, save_checkpoint

    marker = fx / "PWNED"
    evil = Evil(marker)
    rng = random.Random(15)
    # checkpoints
    (fx / "hostile.pt").write_bytes(pickle.dumps({"format": "diswot-checkpoint", "x": evil}))
    torch.save({"state_dict": {"w": torch.zeros(1)}, "x": evil}, fx / "hostile_zip.pt")
    (fx / "zero.pt").write_bytes(b"")
    (fx / "random.pt").write_bytes(bytes(rng.getrandbits(8) for _ in range(4096)))
    torch.manual_seed(0)
    good = save_checkpoint(fx / "teacher.pt", build_model("resnet8", 10), "resnet8", 10)
    blob = good.read_bytes()
    (fx / "truncated.pt").write_bytes(blob[: len(blob) // 2])
    save_checkpoint(fx / "teacher100.pt", build_model("resnet8", 100), "resnet8", 100)
    torch.save(build_model("resnet8", 10).state_dict(), fx / "bare.pt")
    payload = torch.load(good, weights_only=True)
    payload["model"] = "resnet20"  # tampered: the state is a resnet8's
    torch.save(payload, fx / "wrong_arch.pt")
    payload["model"], payload["state_dict"] = (
        "resnet8",
        {k: v.double() * float("nan") for k, v in payload["state_dict"].items()},
    )
    torch.save(payload, fx / "nan_weights.pt")
    (fx / "hostile_result.json").write_text('{"students": ["__import__(\'os\')"], "topk": 5}')
    # image folders
    _write_pngs(fx / "img_good" / "cat", 6, 0)
    _write_pngs(fx / "img_good" / "dog", 6, 1)
    _write_pngs(fx / "img_corrupt" / "cat", 3, 2)
    _write_pngs(fx / "img_corrupt" / "dog", 3, 3)
    (fx / "img_corrupt" / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    (fx / "img_text" / "cat").mkdir(parents=True)
    (fx / "img_text" / "cat" / "notes.txt").write_text("not an image")
    (fx / "img_text" / "cat" / "fake.jpg").write_text("not a jpeg either")
    (fx / "img_empty").mkdir()
    _write_bomb(fx / "img_bomb" / "cat" / "bomb.png")
    _write_pngs(fx / "img_one_class" / "cat", 4, 4)
    # CIFAR python layout
    meta = {"label_names": [f"c{i}" for i in range(10)]}
    batch = {"data": np.zeros((20, 3072), np.uint8), "labels": [i % 10 for i in range(20)]}

    def cifar(name: str, meta_obj: object, batch_bytes: bytes) -> None:
        d = fx / name / "cifar-10-batches-py"
        d.mkdir(parents=True)
        (d / "batches.meta").write_bytes(pickle.dumps(meta_obj))
        (d / "data_batch_1").write_bytes(batch_bytes)
        (d / "test_batch").write_bytes(batch_bytes)

    cifar("cifar_hostile_batch", meta, pickle.dumps({"data": evil, "labels": [0]}))
    cifar("cifar_hostile_meta", {"label_names": evil}, pickle.dumps(batch))
    good_batch = pickle.dumps(batch)
    cifar("cifar_truncated", meta, good_batch[: len(good_batch) // 3])
    cifar("cifar_random", meta, bytes(rng.getrandbits(8) for _ in range(2048)))
    cifar("cifar_shape", meta, pickle.dumps({"data": np.zeros((20, 100), np.uint8), "labels": [0] * 20}))
    cifar("cifar_labels", meta, pickle.dumps({"data": np.zeros((20, 3072), np.uint8), "labels": [0] * 7}))
    cifar("cifar_badlabel", meta, pickle.dumps({"data": np.zeros((20, 3072), np.uint8), "labels": [99] * 20}))
    cifar("cifar_meta_list", ["not", "a", "dict"], good_batch)
    # SST-2 style text
    rows = "sentence\tlabel\n" + "".join(f"a fine film number {i}\t{i % 2}\n" for i in range(40))

    def sst2(name: str, train: bytes, dev: bytes | None = None) -> None:
        d = fx / name / "sst2"
        d.mkdir(parents=True)
        (d / "train.tsv").write_bytes(train)
        (d / "dev.tsv").write_bytes(train if dev is None else dev)

    sst2("sst2_latin1", rows.encode() + "caf\xe9 cr\xe8me\t1\n".encode("latin-1"))
    sst2("sst2_nolabel", rows.replace("\tlabel", "\tscore").encode())
    sst2("sst2_empty", b"")
    sst2("sst2_textlabel", rows.encode() + b"great\tpositive\n")
    sst2("sst2_ragged", rows.encode() + b"one\ttwo\tthree\n")
    sst2("sst2_header_only", b"sentence\tlabel\n")
    sst2("sst2_binary", bytes(rng.getrandbits(8) for _ in range(2048)))
    # ground-truth tables (resnet-depth archs are 3 digits in {1,3,5,7})
    archs = [f"{a}{b}{c}" for a in "1357" for b in "1357" for c in "1357"]
    acc = {a: 50 + i * 0.5 for i, a in enumerate(archs)}

    def table(name: str, text: str) -> None:
        (fx / name).write_text(text)

    body = "".join(f"{a},{acc[a]}\n" for a in archs)
    table("gt_good.csv", "arch,accuracy\n" + body)
    table(
        "gt_nan.csv",
        "arch,accuracy\n" + "".join(f"{a},{'nan' if i % 2 else acc[a]}\n" for i, a in enumerate(archs)),
    )
    table("gt_all_nan.csv", "arch,accuracy\n" + "".join(f"{a},\n" for a in archs))
    table("gt_dup.csv", "arch,accuracy\n" + body + "".join(f"{a},{acc[a] - 10}\n" for a in archs))
    table("gt_text.csv", "arch,accuracy\n" + "".join(f"{a},high\n" for a in archs))
    table("gt_noarch.csv", "name,accuracy\n" + body)
    table("gt_empty.csv", "")
    table("gt_header_only.csv", "arch,accuracy\n")
    table("gt_foreign.csv", "arch,accuracy\n" + "".join(f"zz{i},{i}\n" for i in range(20)))
    table("gt_inf.csv", "arch,accuracy\n" + "".join(f"{a},inf\n" for a in archs))
    (fx / "random.csv").write_bytes(bytes(rng.getrandbits(8) for _ in range(2048)))
    (fx / "kd_dup.csv").write_text("arch,kd_accuracy\n111,abc\n111,5\n")
    # SQLite stores
    (fx / "garbage.sqlite").write_bytes(bytes(rng.getrandbits(8) for _ in range(8192)))
    (fx / "text.sqlite").write_text("hello, I am not a database\n" * 50)
    (fx / "zero.sqlite").write_bytes(b"")
    (fx / "foreign.sqlite").touch()
    with sqlite3.connect(fx / "foreign.sqlite") as conn:
        conn.execute("CREATE TABLE history (x TEXT)")  # a table of our name with another schema
        conn.execute("INSERT INTO history VALUES ('boo')")
    (fx / "dir.sqlite").mkdir()


# ---------------------------------------------------------------------------------------------
# running and classifying
# ---------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    outcome: str  # clean, ok or FAIL
    detail: str
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


@dataclass
class Case:
    """One adversarial input. ``argv`` gets the case's temp dir and the fixtures dir."""

    name: str
    entry: str
    argv: Callable[[Path, Path], list[str]] | None = None
    expect: tuple[str, ...] = ("clean",)
    out: str | None = None  # a path (relative to the case dir) that a refusal must not leave behind
    check: Callable[[Path, subprocess.CompletedProcess], str | None] | None = None
    timeout: float = 90.0
    custom: Callable[[Path, Path], Outcome] | None = None


def run_cli(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(
            [sys.executable, "-m", "diswot", *argv],
            cwd=cwd,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None


def _lines(text: str) -> list[str]:
    """The lines of ``text`` without tqdm's progress bars (they share lines through carriage returns)."""
    parts = re.split(r"[\r\n]+", text)
    return [
        p.strip() for p in (re.sub(r"^.*\|[^|]*?\]", "", p) for p in parts) if p.strip() and "%|" not in p
    ]


def classify(proc: subprocess.CompletedProcess | None, case: Case, tmp: Path) -> Outcome:
    if proc is None:
        return Outcome("FAIL", f"hang: no exit within {case.timeout:.0f} s")
    err = proc.stderr.strip()
    lines = [ln for ln in _lines(err) if not ln.startswith("usage:") and not ln.startswith(" ")]
    tail = lines[-1] if lines else ""
    if "Traceback" in err:
        return Outcome("FAIL", f"traceback (rc {proc.returncode}): {tail[:300]}")
    if proc.returncode == 2:
        if not CLEAN_LINE.match(tail):
            return Outcome("FAIL", f"exit 2 without a clean error line: {tail[:300]!r}")
        if case.out and (tmp / case.out).exists():
            return Outcome("FAIL", f"refused but left {case.out} behind: {tail[:200]}")
        result = Outcome("clean", tail[:300])
    elif proc.returncode == 0:
        reason = case.check(tmp, proc) if case.check else None
        if reason:
            return Outcome("FAIL", f"succeeded with a wrong result: {reason}")
        result = Outcome("ok", (proc.stdout.strip().splitlines() or [""])[-1][:300])
    else:
        return Outcome("FAIL", f"exit {proc.returncode}: {tail[:300]}")
    if result.outcome not in case.expect:
        verdict = "accepted nonsense" if result.outcome == "ok" else "refused valid input"
        return Outcome("FAIL", f"{verdict}: {result.detail}")
    return result


def run_case(case: Case, fx: Path, work: Path) -> Outcome:
    tmp = Path(tempfile.mkdtemp(prefix=case.name[:40].replace(" ", "_") + "-", dir=work))
    marker = fx / "PWNED"
    start = time.perf_counter()
    try:
        if case.custom is not None:
            outcome = case.custom(tmp, fx)
        else:
            assert case.argv is not None
            argv = case.argv(tmp, fx)
            outcome = classify(run_cli(argv, tmp, case.timeout), case, tmp)
    except Exception as exc:  # a bug of this script must not hide the other cases
        outcome = Outcome("FAIL", f"harness error: {type(exc).__name__}: {exc}")
    if marker.exists():
        marker.unlink()
        outcome = Outcome("FAIL", "code executed: a hostile pickle created its marker file")
    outcome.seconds = round(time.perf_counter() - start, 1)
    return outcome


def py_case(code: str) -> Callable[[Path, Path], list[str]]:
    """A Python-API snippet run as ``python -c``; DiswotError is reported as the CLI would."""

    def argv(tmp: Path, fx: Path) -> list[str]:
        body = code.format(tmp=str(tmp), fx=str(fx))
        wrapped = (
            "import sys, diswot\n"
            "try:\n"
            + "".join(f"    {ln}\n" for ln in body.splitlines())
            + "except diswot.DiswotError as exc:\n"
            "    print(f'diswot api: error: {exc}', file=sys.stderr); sys.exit(2)\n"
        )
        return ["-c", wrapped]

    return argv


def run_python(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(
            [sys.executable, *argv], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None


def api(name: str, code: str, expect: tuple[str, ...] = ("clean",), out: str | None = None) -> Case:
    argv = py_case(code)

    def custom(tmp: Path, fx: Path) -> Outcome:
        case = Case(name, "api", expect=expect, out=out)
        return classify(run_python(argv(tmp, fx), tmp, 120), case, tmp)

    return Case(name, "api", custom=custom)


# ---------------------------------------------------------------------------------------------
# checks of successful runs
# ---------------------------------------------------------------------------------------------
def _result(path: Path) -> dict:
    return json.loads(path.read_text())


def search_ok(out: str) -> Callable[[Path, subprocess.CompletedProcess], str | None]:
    def check(tmp: Path, proc: subprocess.CompletedProcess) -> str | None:
        res = tmp / out / "result.json"
        if not res.exists():
            return f"no {out}/result.json"
        data = _result(res)
        score = data.get("score")
        if not data.get("arch") or not isinstance(score, int | float) or not math.isfinite(score):
            return f"the result has no arch with a finite score: {str(data)[:200]}"
        return None

    return check


def distill_ok(out: str) -> Callable[[Path, subprocess.CompletedProcess], str | None]:
    def check(tmp: Path, proc: subprocess.CompletedProcess) -> str | None:
        res = tmp / out / "result.json"
        if not res.exists():
            return f"no {out}/result.json"
        text = res.read_text()
        if "NaN" in text or "Infinity" in text:
            return f"non-finite numbers in result.json: {text[:200]}"
        return None

    return check


# ---------------------------------------------------------------------------------------------
# concurrency and SIGKILL
# ---------------------------------------------------------------------------------------------
def _history(run_dir: Path) -> dict[str, str]:
    path = run_dir / "history.csv"
    if not path.exists():
        return {}
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {r["arch"]: r["score"] for r in rows}


def _best(run_dir: Path) -> tuple:
    data = _result(run_dir / "result.json")
    return data.get("arch"), data.get("score")


def concurrent_store(tmp: Path, fx: Path) -> Outcome:
    """Two searches share one --store at once; both must match a solo run (or one refuses)."""
    args = [*SEARCH, "--evaluations", "8"]
    solo = run_cli(["search", *args, "--out", "solo", "--store", "solo.sqlite"], tmp, 180)
    if solo is None or solo.returncode:
        return Outcome("FAIL", f"the solo reference run failed: {solo and solo.stderr[-300:]}")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "diswot", "search", *args, "--out", f"run{i}", "--store", "shared.sqlite"],
            cwd=tmp,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=240))
        except subprocess.TimeoutExpired:
            p.kill()
            return Outcome("FAIL", "hang: a concurrent search did not finish in 240 s")
    codes = [p.returncode for p in procs]
    reference = (_best(tmp / "solo"), _history(tmp / "solo"))
    finished = [i for i, c in enumerate(codes) if c == 0]
    for i, c in enumerate(codes):
        if c == 2 and CLEAN_LINE.match(outs[i][1].strip().splitlines()[-1]):
            continue
        if c != 0:
            return Outcome("FAIL", f"search {i} exit {c}: {outs[i][1].strip()[-300:]}")
    for i in finished:
        got = (_best(tmp / f"run{i}"), _history(tmp / f"run{i}"))
        if got != reference:
            return Outcome("FAIL", f"wrong result: search {i} found {got[0]}, solo {reference[0]}")
    return Outcome("ok", f"exit codes {codes}; finished runs equal the solo run {reference[0]}")


def _kill_when(
    argv: list[str], cwd: Path, ready: Callable[[], bool], extra_s: float, limit_s: float = 240
) -> dict:
    """Start ``diswot argv``; once ``ready()`` holds, wait ``extra_s`` more and SIGKILL it.

    Polling the run's own progress (evaluations stored, epochs logged) puts the kill inside the
    work rather than in the interpreter's start-up, whatever the machine's speed.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "diswot", *argv],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    start = time.perf_counter()
    while proc.poll() is None and not ready() and time.perf_counter() - start < limit_s:
        time.sleep(0.02)
    try:
        proc.wait(timeout=extra_s)
        finished = True
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        finished = False
    return {"killed_after_s": round(time.perf_counter() - start, 2), "finished_before_kill": finished}


def _store_rows(path: Path) -> int:
    """Evaluations the store holds (0 when it does not exist yet or cannot be read yet)."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM history").fetchone()[0])
    except sqlite3.Error:
        return 0


def sigkill_search(rounds: int, seed: int, evaluations: int = 16) -> Callable[[Path, Path], Outcome]:
    """Kill a search after a random number of stored evaluations, resume it, compare with a whole run."""

    def custom(tmp: Path, fx: Path) -> Outcome:
        args = [*SEARCH, "--evaluations", str(evaluations), "--proposals-per-step", "1"]
        ref = run_cli(["search", *args, "--out", "ref"], tmp, 240)
        if ref is None or ref.returncode:
            return Outcome("FAIL", f"the uninterrupted run failed: {ref and ref.stderr[-300:]}")
        reference = (_best(tmp / "ref"), _history(tmp / "ref"))
        rng = random.Random(seed)
        kills = []
        for r in range(rounds):
            out = tmp / f"killed{r}"
            after = rng.randint(0, evaluations - 2)
            kill = _kill_when(
                ["search", *args, "--out", out.name],
                tmp,
                lambda o=out, k=after: (
                    _store_rows(o / "store.sqlite") >= max(k, 1) or (k == 0 and (o / "run.json").exists())
                ),
                rng.uniform(0, 0.3),
            )
            stored = _store_rows(out / "store.sqlite")
            resumed = run_cli(["search", *args, "--out", out.name, "--resume"], tmp, 240)
            if resumed is None or resumed.returncode:
                return Outcome(
                    "FAIL",
                    f"resume after a kill at {kill['killed_after_s']} s failed: "
                    f"{resumed and resumed.stderr.strip()[-300:]}",
                    extra={"kills": kills},
                )
            got = (_best(out), _history(out))
            match = re.search(r"\((\d+) from the store", resumed.stdout)
            reused = int(match.group(1)) if match else None
            kill.update(
                evaluations_stored_at_kill=stored,
                reused_on_resume=reused,
                evaluations_lost=None if reused is None else max(0, stored - reused),
                equal=got == reference,
            )
            kills.append(kill)
            if got != reference:
                return Outcome(
                    "FAIL",
                    f"wrong result after a kill at {kill['killed_after_s']} s: best {got[0]} vs "
                    f"{reference[0]}, {len(got[1])} vs {len(reference[1])} archs",
                    extra={"kills": kills},
                )
        lost = sum(k["evaluations_lost"] or 0 for k in kills)
        return Outcome(
            "ok",
            f"{rounds} kills; every resumed run equals the whole run; {lost} stored evaluations lost",
            extra={"kills": kills},
        )

    return custom


def _metrics(run_dir: Path) -> list[dict]:
    if not (run_dir / "metrics.csv").exists():
        return []
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    keep = ("epoch", "train_loss", "test_acc", "test_accuracy", "lr")
    return [{k: v for k, v in r.items() if k in keep} for r in rows]


def _state_epoch(path: Path) -> int:
    """The epoch of a last.pt (0: none or unreadable at this instant)."""
    import torch

    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])
    except Exception:
        return 0


def sigkill_distill(rounds: int, seed: int, epochs: int = 3) -> Callable[[Path, Path], Outcome]:
    """Kill a distillation after a random number of logged epochs (plus a random slice of the
    next), resume it, and compare every epoch's metrics with a whole run."""

    def custom(tmp: Path, fx: Path) -> Outcome:
        args = [
            "distill",
            "--teacher",
            str(fx / "teacher.pt"),
            "--student",
            "resnet8",
            "--epochs",
            str(epochs),
            "--batch-size",
            "40",
        ]
        ref = run_cli([*args, "--out", "ref"], tmp, 240)
        if ref is None or ref.returncode:
            return Outcome("FAIL", f"the uninterrupted run failed: {ref and ref.stderr[-300:]}")
        reference = _metrics(tmp / "ref")
        rng = random.Random(seed)
        kills = []
        for r in range(rounds):
            out = tmp / f"killed{r}"
            after = rng.randint(0, epochs - 1)
            kill = _kill_when(
                [*args, "--out", out.name],
                tmp,
                lambda o=out, k=after: len(_metrics(o)) >= k and o.exists(),
                rng.uniform(0, 0.6),
            )
            saved = _state_epoch(out / "last.pt")
            resumed = run_cli([*args, "--out", out.name, "--resume"], tmp, 240)
            if resumed is None or resumed.returncode:
                return Outcome(
                    "FAIL",
                    f"resume after a kill at {kill['killed_after_s']} s failed: "
                    f"{resumed and resumed.stderr.strip()[-300:]}",
                    extra={"kills": kills},
                )
            got = _metrics(out)
            kill.update(epochs_saved_at_kill=saved, equal=got == reference)
            kills.append(kill)
            if got != reference:
                return Outcome(
                    "FAIL",
                    f"wrong result after a kill at {kill['killed_after_s']} s: {got} vs {reference}",
                    extra={"kills": kills},
                )
        return Outcome(
            "ok",
            f"{rounds} kills; every resumed run's metrics equal the whole run's (at most the "
            "epoch in flight is redone)",
            extra={"kills": kills},
        )

    return custom


# ---------------------------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------------------------
def cases() -> list[Case]:
    out: list[Case] = []

    def cli(name: str, entry: str, argv: Callable[[Path, Path], list[str]], **kw: object) -> None:
        out.append(Case(name, entry, argv, **kw))  # type: ignore[arg-type]

    def search(name: str, extra: Callable[[Path], list[str]], **kw: object) -> None:
        kw.setdefault("out", "s")
        cli(name, "search", lambda t, fx: ["search", *SEARCH, "--out", "s", *extra(fx)], **kw)

    def distill(
        name: str, extra: Callable[[Path], list[str]], teacher: str = "teacher.pt", **kw: object
    ) -> None:
        kw.setdefault("out", "d")
        cli(
            name,
            "distill",
            lambda t, fx: [*DISTILL, "--teacher", str(fx / teacher), "--out", "d", *extra(fx)],
            **kw,
        )

    def proxies(name: str, extra: Callable[[Path], list[str]], gt: str = "gt_good.csv", **kw: object) -> None:
        kw.setdefault("out", "b")

        def argv(_t: Path, fx: Path) -> list[str]:
            return [*BENCH_PROXIES, "--ground-truth", str(fx / gt), "--out", "b", *extra(fx)]

        cli(name, "bench proxies", argv, **kw)

    def kdgt(name: str, extra: Callable[[Path], list[str]], **kw: object) -> None:
        kw.setdefault("out", "kd.csv")

        def argv(_t: Path, fx: Path) -> list[str]:
            return [*KD_GROUND_TRUTH, "--teacher", str(fx / "teacher.pt"), "--out", "kd.csv", *extra(fx)]

        cli(name, "bench kd-ground-truth", argv, **kw)

    def teacher(name: str, extra: Callable[[Path], list[str]], **kw: object) -> None:
        kw.setdefault("out", "t.pt")
        cli(
            name,
            "train-teacher",
            lambda t, fx: ["train-teacher", "--model", "resnet8", *TRAIN, "--out", "t.pt", *extra(fx)],
            **kw,
        )

    # hostile / malformed checkpoints, through search (teacher) and distill (teacher)
    for ckpt in (
        "hostile.pt",
        "hostile_zip.pt",
        "zero.pt",
        "random.pt",
        "truncated.pt",
        "wrong_arch.pt",
        "teacher100.pt",
    ):
        distill(f"distill teacher {ckpt}", lambda fx, c=ckpt: [], teacher=ckpt)
    for ckpt in ("hostile.pt", "random.pt", "teacher100.pt", "nan_weights.pt"):
        search(f"search teacher {ckpt}", lambda fx, c=ckpt: ["--teacher", str(fx / c)])
    distill("distill bare state_dict, no --teacher-model", lambda fx: [], teacher="bare.pt")
    distill(
        "distill bare state_dict, wrong --teacher-model",
        lambda fx: ["--teacher-model", "resnet20"],
        teacher="bare.pt",
    )
    distill("distill NaN-weight teacher", lambda fx: [], teacher="nan_weights.pt", expect=("clean",))
    cli(
        "distill --student hostile result.json",
        "distill",
        lambda t, fx: [
            "distill",
            "--teacher",
            str(fx / "teacher.pt"),
            "--student",
            str(fx / "hostile_result.json"),
            *TRAIN,
            "--out",
            "d",
        ],
        out="d",
    )
    cli("distill --resume with hostile last.pt", "distill", _hostile_resume)
    # image folders, CIFAR batches, text files
    for folder in ("img_corrupt", "img_text", "img_empty", "img_one_class", "img_bomb", "teacher.pt"):
        distill(
            f"distill --dataset folder {folder}",
            lambda fx, f=folder: ["--dataset", "folder", "--data-root", str(fx / f)],
        )
    distill(
        "distill --dataset folder (12 valid images, batch 40)",
        lambda fx: ["--dataset", "folder", "--data-root", str(fx / "img_good"), "--distiller", "none"],
        expect=("ok", "clean"),
        check=distill_ok("d"),
    )
    for folder in (
        "cifar_hostile_batch",
        "cifar_hostile_meta",
        "cifar_truncated",
        "cifar_random",
        "cifar_shape",
        "cifar_labels",
        "cifar_badlabel",
        "cifar_meta_list",
    ):
        search(
            f"search --dataset cifar10 {folder}",
            lambda fx, f=folder: ["--dataset", "cifar10", "--data-root", str(fx / f)],
        )
    distill(
        "distill --dataset cifar10 cifar_badlabel",
        lambda fx: ["--dataset", "cifar10", "--data-root", str(fx / "cifar_badlabel")],
    )
    for folder in (
        "sst2_latin1",
        "sst2_nolabel",
        "sst2_empty",
        "sst2_textlabel",
        "sst2_ragged",
        "sst2_header_only",
        "sst2_binary",
    ):
        cli(
            f"distill --dataset sst2 {folder}",
            "distill",
            lambda t, fx, f=folder: [
                "distill",
                "--teacher",
                "bert-tiny",
                "--student",
                "bert-tiny",
                *TRAIN,
                "--dataset",
                "sst2",
                "--data-root",
                str(fx / f),
                "--out",
                "d",
            ],
            out="d",
        )
    # ground-truth tables
    for gt in (
        "gt_nan.csv",
        "gt_all_nan.csv",
        "gt_dup.csv",
        "gt_text.csv",
        "gt_noarch.csv",
        "gt_empty.csv",
        "gt_header_only.csv",
        "gt_foreign.csv",
        "gt_inf.csv",
    ):
        expect = ("clean", "ok") if gt == "gt_nan.csv" else ("clean",)
        proxies(f"bench proxies --ground-truth {gt}", lambda fx: [], gt=gt, expect=expect)
    search("search --ground-truth gt_text.csv", lambda fx: ["--ground-truth", str(fx / "gt_text.csv")])
    search("search --ground-truth gt_dup.csv", lambda fx: ["--ground-truth", str(fx / "gt_dup.csv")])
    search("search --ground-truth gt_empty.csv", lambda fx: ["--ground-truth", str(fx / "gt_empty.csv")])
    # SQLite stores
    for store in ("garbage.sqlite", "text.sqlite", "foreign.sqlite", "dir.sqlite"):
        search(f"search --store {store}", lambda fx, s=store: ["--store", str(fx / s)])
    search(
        "search --store zero-byte file",
        lambda fx: ["--store", str(fx / "zero.sqlite")],
        expect=("ok", "clean"),
        check=search_ok("s"),
    )
    cli("search --store truncated store", "search", _truncated_store)
    out.append(Case("two searches share one --store at once", "search", custom=concurrent_store, timeout=400))
    # absurd numbers
    for flag, value in (
        ("--max-flops", "-5"),
        ("--max-flops", "1e400"),
        ("--max-flops", "nan"),
        ("--evaluations", "0"),
        ("--evaluations", "-3"),
        ("--workers", "0"),
        ("--top-k", "0"),
        ("--batch-size", "0"),
        ("--population", "0"),
        ("--time-budget", "-1"),
        ("--num-batches", "0"),
        ("--max-params", "lots"),
        ("--reference-size", "0"),
        ("--tournament", "0"),
    ):
        search(f"search {flag} {value}", lambda fx, f=flag, v=value: [f, v])
    search("search --max-flops 1 (no arch fits)", lambda fx: ["--max-flops", "1"])
    search(
        "search --batch-size 1000 (> 300 images)",
        lambda fx: ["--batch-size", "1000"],
        expect=("clean", "ok"),
        check=search_ok("s"),
    )
    for flag, value in (
        ("--epochs", "0"),
        ("--lr", "-1"),
        ("--lr", "nan"),
        ("--lr", "inf"),
        ("--train-subset", "0"),
        ("--batch-size", "0"),
        ("--top-k", "0"),
        ("--eval-every", "0"),
        ("--weight-decay", "-1"),
        ("--ce-weight", "nan"),
        ("--ce-weight", "-1"),
        ("--device", "cuda:7"),
        ("--train-subset", "5"),
    ):
        distill(f"distill {flag} {value}", lambda fx, f=flag, v=value: [f, v])
    # a refusal is right too: lr scales with the batch, so shrinking it silently would change the recipe
    distill(
        "distill --batch-size 1000 (> the data)",
        lambda fx: ["--batch-size", "1000"],
        expect=("ok", "clean"),
        check=distill_ok("d"),
    )
    distill("distill --distiller nonsense:1:2", lambda fx: ["--distiller", "kd:abc"])
    for flag, value in (
        ("--num-archs", "0"),
        ("--top-k", "0"),
        ("--bootstrap", "-1"),
        ("--budget-bands", "0"),
        ("--num-archs", "999999"),
    ):
        expect = ("clean", "ok") if value == "999999" else ("clean",)
        proxies(f"bench proxies {flag} {value}", lambda fx, f=flag, v=value: [f, v], expect=expect)
    for flag, value in (
        ("--num-archs", "0"),
        ("--epochs", "0"),
        ("--lr", "-1"),
        ("--train-subset", "0"),
        ("--workers", "0"),
        ("--group-size", "0"),
        ("--seeds", "x"),
    ):
        kdgt(f"bench kd-ground-truth {flag} {value}", lambda fx, f=flag, v=value: [f, v])
    kdgt("bench kd-ground-truth --archs 999", lambda fx: ["--archs", "999"])
    kdgt("bench kd-ground-truth --archs <random bytes file>", lambda fx: ["--archs", str(fx / "random.csv")])
    for table in (
        "random.csv",
        "kd_dup.csv",
    ):  # an existing --out table is resumed: a hostile one must be refused
        cli(
            f"bench kd-ground-truth --out existing {table}",
            "bench kd-ground-truth",
            lambda t, fx, tb=table: [
                "bench",
                "kd-ground-truth",
                "--space",
                "resnet-depth",
                "--teacher",
                str(fx / "teacher.pt"),
                "--num-archs",
                "1",
                *TRAIN,
                "--out",
                str(fx / tb),
            ],
        )
    kdgt("bench kd-ground-truth --teacher hostile.pt", lambda fx: ["--teacher", str(fx / "hostile.pt")])
    for flag, value in (("--epochs", "0"), ("--lr", "-1"), ("--train-subset", "0"), ("--batch-size", "-4")):
        teacher(f"train-teacher {flag} {value}", lambda fx, f=flag, v=value: [f, v])
    teacher("train-teacher --model nonsense", lambda fx: ["--model", "nonsense"])
    # an --out whose parent is a file (a typo, a name clash) must be a one-line error
    cli(
        "search --out through a file",
        "search",
        lambda t, fx: ["search", *SEARCH, "--out", str(fx / "teacher.pt" / "run")],
    )
    cli(
        "distill --out through a file",
        "distill",
        lambda t, fx: [*DISTILL, "--teacher", str(fx / "teacher.pt"), "--out", str(fx / "teacher.pt" / "d")],
    )
    proxies("bench proxies --out through a file", lambda fx: ["--out", str(fx / "teacher.pt" / "b")])
    cli(
        "train-teacher --out into a file path",
        "train-teacher",
        lambda t, fx: [
            "train-teacher",
            "--model",
            "resnet8",
            *TRAIN,
            "--out",
            str(fx / "teacher.pt") + "/x.pt",
        ],
    )
    # Python API
    out += [
        api(
            "api load_dataset cifar10 hostile batch",
            "diswot.load_dataset('cifar10', '{fx}/cifar_hostile_batch')",
        ),
        api("api load_dataset folder corrupt", "diswot.load_dataset('folder', '{fx}/img_corrupt')"),
        api("api load_dataset sst2 latin-1", "diswot.load_dataset('sst2', '{fx}/sst2_latin1')"),
        api("api load_dataset missing root", "diswot.load_dataset('cifar10', '{tmp}/nope')"),
        api("api load_teacher hostile", "diswot.load_teacher('{fx}/hostile.pt')"),
        api("api load_teacher hostile zip", "diswot.load_teacher('{fx}/hostile_zip.pt')"),
        api("api load_teacher truncated", "diswot.load_teacher('{fx}/truncated.pt')"),
        api("api load_teacher wrong classes", "diswot.load_teacher('{fx}/teacher.pt', num_classes=100)"),
        api("api load_teacher model=nonsense bare", "diswot.load_teacher('{fx}/bare.pt', model='nonsense')"),
        api(
            "api run_search evaluations=0",
            "diswot.run_search('resnet-depth', teacher='resnet8', evaluations=0, batch_size=16, "
            "out='{tmp}/s', progress=False)",
            out="s",
        ),
        api(
            "api run_search batch_size=-1",
            "diswot.run_search('resnet-depth', teacher='resnet8', evaluations=2, batch_size=-1, "
            "out='{tmp}/s', progress=False)",
            out="s",
        ),
        api(
            "api run_search workers=0",
            "diswot.run_search('resnet-depth', teacher='resnet8', evaluations=2, workers=0, batch_size=16, "
            "out='{tmp}/s', progress=False)",
            out="s",
        ),
        api(
            "api run_search top_k=-1",
            "diswot.run_search('resnet-depth', teacher='resnet8', evaluations=2, top_k=-1, batch_size=16, "
            "out='{tmp}/s', progress=False)",
            out="s",
        ),
        api(
            "api run_search Budget max_flops=-5",
            "diswot.run_search('resnet-depth', teacher='resnet8', evaluations=2, batch_size=16, "
            "budget=diswot.Budget.parse(max_flops='-5'), out='{tmp}/s', progress=False)",
            out="s",
        ),
        api(
            "api run_search store garbage",
            "diswot.run_search('resnet-depth', teacher='resnet8', evaluations=2, batch_size=16, "
            "store='{fx}/garbage.sqlite', out='{tmp}/s', progress=False)",
            out="s",
        ),
        api(
            "api distill students=[]",
            "import diswot.distill as d\nd.distill('{fx}/teacher.pt', [], out='{tmp}/d', progress=False)",
            out="d",
        ),
        api(
            "api distill Recipe(epochs=0)",
            "import diswot.distill as d\nd.distill('{fx}/teacher.pt', ['resnet8'], out='{tmp}/d', "
            "recipe=d.Recipe(epochs=0), progress=False)",
            out="d",
        ),
        api(
            "api distill train_subset=-1",
            "import diswot.distill as d\nd.distill('{fx}/teacher.pt', ['resnet8'], out='{tmp}/d', "
            "train_subset=-1, recipe=d.Recipe(epochs=1, batch_size=40), progress=False)",
            out="d",
        ),
        api(
            "api distill hostile teacher",
            "import diswot.distill as d\nd.distill('{fx}/hostile.pt', ['resnet8'], out='{tmp}/d', "
            "recipe=d.Recipe(epochs=1, batch_size=40), progress=False)",
            out="d",
        ),
    ]
    # SIGKILL then --resume
    out.append(
        Case(
            "SIGKILL search at random moments, --resume", "search", custom=sigkill_search(4, 15), timeout=600
        )
    )
    out.append(
        Case(
            "SIGKILL distill at random moments, --resume",
            "distill",
            custom=sigkill_distill(3, 15),
            timeout=600,
        )
    )
    return out


def _hostile_resume(tmp: Path, fx: Path) -> list[str]:
    """A run dir whose last.pt is a hostile pickle, continued with --resume."""
    (tmp / "d").mkdir()
    (tmp / "d" / "last.pt").write_bytes((fx / "hostile_zip.pt").read_bytes())
    return [*DISTILL, "--teacher", str(fx / "teacher.pt"), "--out", "d", "--resume"]


def _truncated_store(tmp: Path, fx: Path) -> list[str]:
    """A real store cut in half (a disk full or a copy interrupted)."""
    real = fx / "real_store.sqlite"
    if not real.exists():
        proc = run_cli(["search", *SEARCH, "--out", "seed_run", "--store", str(real)], tmp, 120)
        assert proc is not None and proc.returncode == 0, proc and proc.stderr[-300:]
    blob = real.read_bytes()
    (tmp / "cut.sqlite").write_bytes(blob[: max(1024, len(blob) // 2)])
    return ["search", *SEARCH, "--out", "s", "--store", str(tmp / "cut.sqlite")]


# ---------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="run the cases whose name contains this text")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    todo = [c for c in cases() if args.only is None or args.only in c.name]
    rows = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="diswot-robust-") as root:
        fx, work = Path(root) / "fixtures", Path(root) / "cases"
        fx.mkdir()
        work.mkdir()
        build_fixtures(fx)
        for case in todo:
            result = run_case(case, fx, work)
            rows.append(
                {
                    "case": case.name,
                    "entry": case.entry,
                    "outcome": result.outcome,
                    "detail": result.detail,
                    "seconds": result.seconds,
                    **result.extra,
                }
            )
            print(
                f"{result.outcome:<5} {result.seconds:6.1f}s  {case.name:<55} {result.detail[:110]}",
                flush=True,
            )
    counts = {k: sum(r["outcome"] == k for r in rows) for k in ("clean", "ok", "FAIL")}
    summary = {
        "cases": len(rows),
        **counts,
        "wall_s": round(time.perf_counter() - start, 1),
        "python": sys.version.split()[0],
    }
    if args.only is None or args.out != str(RESULTS):  # a partial run never overwrites the record
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"summary": summary, "cases": rows}, indent=1) + "\n")
    print(json.dumps(summary))
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
