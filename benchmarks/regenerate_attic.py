"""The results attic: per-run folders merged into one CSV per experiment, and regenerated from it.

A benchmark that runs searches or trainings leaves one folder per run under ``results/``: a
search's ``result.json``, ``run.json``, ``history.csv``, ``topk.csv``, ``pareto.csv`` and two
plots; a training's ``result.json``, ``metrics.csv`` and ``metrics.png``. Only these are kept in
git, per top-level folder ``T`` of ``results/``:

* ``T/<experiment>.csv``: the rows of every run's ``history.csv`` or ``metrics.csv``, verbatim,
  after a ``seed`` column (runs named ``seed<k>``) or a ``run`` column (the run's sub-folder):
  a run at ``T/<experiment>/<sub-folder>`` goes to ``T/<experiment>.csv``. A run directly in
  ``T`` (``T/<run>``) is an experiment of one: ``T/<run>.csv`` is its table as it is.
* ``T/runs.json``: each run's ``result.json`` and ``run.json`` (and its table's line ending), by
  the run's folder relative to ``T``.

Everything else of a run folder follows from those two files: ``topk.csv`` and ``pareto.csv``
are the ``history.csv`` rows of the architectures ``result.json`` lists, in its order; the plots
are drawn by diswot's own plotting code (``diswot.search.outputs.plot_search``,
``diswot.distill.trainer.write_metrics``). The ``scatter_<proxy>.png`` of a ``bench proxies``
folder are drawn again from its ``scores.csv`` and ``results.json``. Folder names with ``:``
(not allowed on Windows) are written with ``-`` instead.

Usage:
  python benchmarks/regenerate_attic.py --merge   # fold the run folders present into CSV + runs.json
  python benchmarks/regenerate_attic.py           # write every run folder and plot back
  python benchmarks/regenerate_attic.py --check   # regenerate into a temporary folder and compare
                                                  # every text file with the one in results/
  [--results DIR] [--no-plots] [--prune] (--merge --prune: delete what can be regenerated)

Figures that need a rerun rather than this script: ``search_nb201/summary.png``
(``search_nb201.py --summarize``), ``nb201_space/fitness_top.png`` (``fitness_top_nb201.py``),
``ranking_protocol/within_budget_tau_nb201_cifar10.png`` (``ranking_protocol.py``); all three
read only committed tables, and are committed because RESULTS.md shows them.
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import json
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TABLES = ("history.csv", "metrics.csv")  # the per-row table of a search run and of a training run
META_FILES = ("result.json", "run.json")
DERIVED = ("topk.csv", "pareto.csv", "best_score.png", "score_vs_flops.png", "metrics.png")
RUNS_FILE = "runs.json"
SEED = re.compile(r"^seed(\d+)$")


def safe_name(name: str) -> str:
    """A path part legal on Windows: ``:`` (in aggregate names like ``cal:log:...``) becomes ``-``."""
    return name.replace(":", "-")


@dataclass(frozen=True)
class Run:
    """One run folder, ``T/<rest>`` under the results root, and where its rows are merged."""

    top: str
    rest: tuple[str, ...]  # path parts below T (already Windows-safe)
    table: str  # history.csv or metrics.csv

    @property
    def folder(self) -> str:
        return "/".join(self.rest)

    @property
    def experiment(self) -> str:
        """The merged CSV's path relative to the results root."""
        return f"{self.top}/{self.rest[0]}.csv"

    @property
    def key(self) -> str:
        """The run within its experiment (``""``: the experiment is this one run)."""
        return "/".join(self.rest[1:])


KEY_COLUMNS = ("seed", "run")


def key_column(keys: list[str]) -> str | None:
    if keys == [""]:
        return None  # a single run: its table as it is
    return "seed" if all(SEED.match(k) for k in keys) else "run"


def key_value(column: str, key: str) -> str:
    return SEED.match(key).group(1) if column == "seed" else key  # type: ignore[union-attr]


def value_key(column: str, value: str) -> str:
    return f"seed{value}" if column == "seed" else value


def _sort_key(key: str) -> list[Any]:
    """Natural order: seed2 before seed10."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)]


def find_runs(root: Path) -> list[tuple[Path, Run]]:
    """Every run folder under ``root``: one holding ``result.json`` beside a history or metrics table."""
    found = []
    for result in sorted(root.rglob("result.json")):
        folder = result.parent
        tables = [t for t in TABLES if (folder / t).is_file()]
        if not tables or len(folder.relative_to(root).parts) < 2:
            continue  # a run folder is T/<experiment>[/...], never T itself
        parts = tuple(safe_name(p) for p in folder.relative_to(root).parts)
        found.append((folder, Run(parts[0], parts[1:], tables[0])))
    return found


def _newline(path: Path) -> str:
    return "\r\n" if b"\r\n" in path.read_bytes()[:4096] else "\n"


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _write_rows(path: Path, header: list[str], rows: list[list[str]], newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def read_experiment(path: Path) -> tuple[str | None, list[str], dict[str, list[list[str]]]]:
    """A merged CSV as (key column, the tables' header, rows by run key)."""
    header, rows = _read_rows(path)
    if header[0] not in KEY_COLUMNS:
        return None, header, {"": rows}
    by_key: dict[str, list[list[str]]] = defaultdict(list)
    for row in rows:
        by_key[value_key(header[0], row[0])].append(row[1:])
    return header[0], header[1:], dict(by_key)


def merge(root: Path = RESULTS, prune: bool = False) -> list[str]:
    """Fold every run folder under ``root`` into its experiment's CSV and ``runs.json`` (a run
    merged before is replaced). ``prune`` then deletes the run folders' files (all regenerable)."""
    runs = find_runs(root)
    experiments: dict[str, list[tuple[Path, Run]]] = defaultdict(list)
    for folder, run in runs:
        experiments[run.experiment].append((folder, run))
    for name, members in experiments.items():
        path = root / name
        old_header: list[str] | None = None
        by_key: dict[str, list[list[str]]] = {}
        if path.is_file():
            _, old_header, by_key = read_experiment(path)
        for folder, run in members:
            header, rows = _read_rows(folder / run.table)
            if old_header is not None and header != old_header:
                raise SystemExit(f"{folder / run.table}: its columns differ from those merged in {path}")
            old_header, by_key[run.key] = header, rows
        assert old_header is not None
        column = key_column(list(by_key))
        if column is None:
            _write_rows(path, old_header, by_key[""])
            continue
        merged = [[key_value(column, k), *row] for k in sorted(by_key, key=_sort_key) for row in by_key[k]]
        _write_rows(path, [column, *old_header], merged)
    by_top: dict[str, list[tuple[Path, Run]]] = defaultdict(list)
    for folder, run in runs:
        by_top[run.top].append((folder, run))
    for top, members in by_top.items():
        index_path = root / top / RUNS_FILE
        index = _read_json(index_path)
        for folder, run in members:
            entry: dict[str, Any] = {"table": run.table, "newline": _newline(folder / run.table)}
            for meta in META_FILES:
                if (folder / meta).is_file():
                    entry[meta] = json.loads((folder / meta).read_text())
            index[run.folder] = entry
        index_path.write_text(json.dumps(dict(sorted(index.items(), key=lambda kv: _sort_key(kv[0]))),
                                          indent=1) + "\n")  # fmt: skip
    if prune:
        for folder, run in runs:
            for name in (run.table, *META_FILES, *DERIVED):
                (folder / name).unlink(missing_ok=True)
            for empty in (folder, *folder.parents):
                if empty == root or any(empty.iterdir()):
                    break
                empty.rmdir()
    return sorted(experiments)


def regenerate(root: Path = RESULTS, out: Path | None = None, plots: bool = True) -> list[Path]:
    """Write every merged run folder back (into ``out``, default ``root``); returns the files written."""
    out = out or root
    written: list[Path] = []
    experiments: dict[str, tuple[str | None, list[str], dict[str, list[list[str]]]]] = {}
    for index_path in sorted(root.glob(f"*/{RUNS_FILE}")):
        top = index_path.parent.name
        for folder, entry in json.loads(index_path.read_text()).items():
            run = Run(top, tuple(folder.split("/")), entry["table"])
            if run.experiment not in experiments:
                experiments[run.experiment] = read_experiment(root / run.experiment)
            _, header, by_key = experiments[run.experiment]
            target = out / top / folder
            written += _write_run(target, run, entry, header, by_key[run.key])
            if plots:
                written += _plot_run(target, run, entry)
    if plots:
        for scores in sorted(root.rglob("scores.csv")):
            written += plot_scatters(scores.parent, out / scores.parent.relative_to(root))
    return written


def _write_run(
    target: Path, run: Run, entry: dict[str, Any], header: list[str], rows: list[list[str]]
) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    files = [target / run.table]
    _write_rows(target / run.table, header, rows, entry["newline"])
    for meta in META_FILES:
        if meta in entry:
            (target / meta).write_text(json.dumps(entry[meta], indent=2))
            files.append(target / meta)
    if run.table == "history.csv":  # topk.csv and pareto.csv: the listed architectures' rows
        by_arch = {row[header.index("arch")]: row for row in rows}
        for name, listed in (("topk.csv", "top_k"), ("pareto.csv", "pareto")):
            chosen = [by_arch[e["arch"]] for e in entry["result.json"][listed]]
            _write_rows(target / name, header, chosen, entry["newline"])
            files.append(target / name)
    return files


def _plot_run(target: Path, run: Run, entry: dict[str, Any]) -> list[Path]:
    if run.table == "history.csv":
        from diswot.search import SearchResult
        from diswot.search.outputs import plot_search

        objective = entry.get("run.json", {}).get("objective", "flops")
        plot_search(SearchResult.load(target), target, objective)
        return [target / "best_score.png", target / f"score_vs_{objective}.png"]
    from diswot.distill.trainer import StudentRun, write_metrics

    with open(target / "metrics.csv", newline="") as f:
        metrics = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    result = entry["result.json"]
    student = StudentRun(result["name"], result["model"], None, target, distillers=result["distillers"])  # type: ignore[arg-type]
    student.metrics = metrics
    original = (target / "metrics.csv").read_bytes()
    write_metrics(student)  # also rewrites metrics.csv, from floats: put the verbatim one back
    (target / "metrics.csv").write_bytes(original)
    return [target / "metrics.png"]


def plot_scatters(folder: Path, target: Path) -> list[Path]:
    """The ``scatter_<proxy>.png`` of a ``diswot bench proxies`` folder (``scores.csv`` and
    ``results.json``) into ``target``, coloured by FLOPs band as ``bench proxies`` draws them."""
    import numpy as np

    from diswot.bench.metrics import budget_bands
    from diswot.bench.proxy_bench import _plot
    from diswot.search_spaces import get_space

    report = _read_json(folder / "results.json")
    if "proxies" not in report or "space" not in report:
        return []
    with open(folder / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    proxies = [p for p in report["proxies"] if p in rows[0]]
    if not proxies:
        return []
    column = next(iter(report["proxies"][proxies[0]]["by_column"]))  # the primary ground truth
    archs = [r["arch"] for r in rows]
    space = get_space(report["space"])
    flops = np.array([float(r["flops"]) if r.get("flops") else space.cost(space.decode(a)).flops
                      for r, a in zip(rows, archs, strict=True)])  # fmt: skip
    bands = budget_bands(flops, int((report.get("protocol") or {}).get("budget_bands", 4)))
    truth = {r["arch"]: float(r[column]) for r in rows if r[column] not in ("", "nan")}
    values = {p: [float(r[p]) for r in rows] for p in proxies}
    target.mkdir(parents=True, exist_ok=True)
    _plot(target, archs, values, truth, column, report["proxies"], flops, bands)
    return [target / f"scatter_{p.replace(':', '_').replace('+', '-')}.png" for p in proxies]


def check(root: Path = RESULTS) -> int:
    """Regenerate into a temporary folder; every text file must equal the one under ``root``
    (run folders still present there, under their original names, are compared)."""
    present = {f"{run.top}/{run.folder}": folder for folder, run in find_runs(root)}
    with tempfile.TemporaryDirectory() as tmp:
        written = regenerate(root, Path(tmp), plots=False)
        differing, compared = [], 0
        for path in written:
            relative = path.relative_to(tmp)
            folder = present.get(relative.parent.as_posix())
            if folder is None:
                continue  # a run folder pruned from root: nothing to compare it with
            compared += 1
            original = folder / relative.name
            if not original.is_file() or not filecmp.cmp(path, original, shallow=False):
                differing.append(str(original))
    print(f"{len(written)} files regenerated; {compared - len(differing)} of the {compared} with an "
          f"original in {root} are identical to it")  # fmt: skip
    for path in differing[:20]:
        print(f"  differs or missing: {path}")
    return 1 if differing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--merge", action="store_true", help="fold the run folders into CSV + runs.json")
    mode.add_argument("--check", action="store_true", help="regenerate into a temporary folder and compare")
    parser.add_argument("--prune", action="store_true", help="with --merge: delete the merged run folders")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args()
    if args.merge:
        merged = merge(args.results, prune=args.prune)
        print(f"merged {len(merged)} experiments: {', '.join(merged)}")
        return 0
    if args.check:
        return check(args.results)
    written = regenerate(args.results, plots=not args.no_plots)
    print(f"wrote {len(written)} files under {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
