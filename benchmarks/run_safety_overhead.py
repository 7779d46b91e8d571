"""What the run lock and the atomic writes cost a search (issue 26): milliseconds per run.

One small search (nb201, ``--proxy params``, 20 evaluations) runs once; then, on that run's
folder and result, the script times (a) taking and releasing the folder's lock and (b) writing
the run's outputs (``result.json``, three CSVs, ``run.json``) atomically (temporary name, fsync,
rename) against plain in-place writes of the same content. Both are per run, not per candidate.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/run_safety_overhead.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import diswot.atomic as atomic
import diswot.search.outputs as outputs
from diswot import run_search
from diswot.runlock import RunLock

REPS = 30


def _ms(fn, reps: int = REPS) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _plain_writers():
    """The writers as they were before: in place, no fsync, no rename."""
    return {
        "write_json": lambda path, obj, indent=2: Path(path).write_text(json.dumps(obj, indent=indent)),
        "write_with": lambda path, write: write(Path(path)),
    }


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="diswot-overhead-"))
    t = time.perf_counter()
    result = run_search(
        "nb201", proxy="params", evaluations=20, out=work / "run", progress=False, plots=False
    )
    search_ms = (time.perf_counter() - t) * 1000
    run_json = json.loads((work / "run" / "run.json").read_text())
    out = work / "outputs"
    out.mkdir()

    def write_all() -> None:
        outputs.write_outputs(result, out, None, "flops", plots=False)
        outputs_json(out / "run.json", run_json)

    outputs_json = atomic.write_json
    atomic_ms = _ms(write_all)
    saved = {k: getattr(outputs, k) for k in ("write_json", "write_with")}
    plain = _plain_writers()
    for k, v in plain.items():
        setattr(outputs, k, v)
    outputs_json = plain["write_json"]
    plain_ms = _ms(write_all)
    for k, v in saved.items():
        setattr(outputs, k, v)

    lock_dir = work / "locked"
    lock_ms = _ms(lambda: RunLock.on(lock_dir).release(), reps=100)
    report = {
        "search_ms": round(search_ms, 1),
        "evaluations": result.evaluations,
        "lock_acquire_release_ms": round(lock_ms, 3),
        "outputs_atomic_ms": round(atomic_ms, 3),
        "outputs_plain_ms": round(plain_ms, 3),
        "atomic_overhead_ms": round(atomic_ms - plain_ms, 3),
        "overhead_share_of_search": round((lock_ms + atomic_ms - plain_ms) / search_ms, 5),
        "reps": REPS,
    }
    print(json.dumps(report, indent=2))
    if len(sys.argv) > 1:
        atomic.write_json(sys.argv[1], report)


if __name__ == "__main__":
    main()
