"""Ground-truth tables of a space: the NB201 CSV layout, or any CSV with an ``arch`` column.

Read by ``diswot bench proxies`` (what proxies are ranked against) and by a search (the true
accuracy of what it found).

Architecture strings are canonicalised through the space (``decode`` then ``encode``), so a
table may spell them in any form the space accepts.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from diswot.errors import DataError, DiswotError
from diswot.search_spaces.base import SearchSpace

ARCH_COLUMNS = ("arch", "ArchitectureString")
NON_METRIC = {"UniqueString"}


@dataclass
class GroundTruth:
    """``values[column][arch_key]`` for every metric column of a table."""

    source: str
    values: dict[str, dict[str, float]]

    @property
    def columns(self) -> list[str]:
        return list(self.values)

    def keys(self) -> set[str]:
        return set().union(*(v.keys() for v in self.values.values()))


NB201_API_DATASETS = {
    "CIFAR10TestAccuracy200Epochs": "cifar10",
    "CIFAR100TestAccuracy200Epochs": "cifar100",
    "ImageNetTestAccuracy200Epochs": "ImageNet16-120",
}


def read_nb201_benchmark_file(path: str | Path, space: SearchSpace) -> GroundTruth:
    """200-epoch test accuracies from the official NAS-Bench-201 file (``NAS-Bench-201-v1_*.pth``).

    Needs the ``nas-bench-201`` package (a dependency) and the file, which users download from
    the benchmark's authors; columns are named as in the CSV export.
    """
    try:
        from nas_201_api import NASBench201API
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DataError("reading the NB201 benchmark file needs `pip install nas-bench-201`") from exc
    api = NASBench201API(str(path), verbose=False)
    values: dict[str, dict[str, float]] = {c: {} for c in NB201_API_DATASETS}
    for index in range(len(api)):
        key = space.encode(space.decode(api.arch(index)))
        for column, dataset in NB201_API_DATASETS.items():
            info = api.get_more_info(index, dataset, hp="200", is_random=False)
            values[column][key] = float(info["test-accuracy"])
    return GroundTruth(str(path), values)


@dataclass
class Table:
    """A ground-truth file read once: its metric columns and rows (architectures canonicalised);
    :meth:`truth` turns any choice of columns into numbers without reading the file again."""

    source: str
    header: list[str]  # the metric columns: every column but the architecture's and UniqueString
    rows: list[tuple[int, str, dict[str, str]]]  # (line, arch key, cells)
    numeric: GroundTruth | None = None  # a table that is numbers already (NB201's .pth file)

    def truth(self, columns: list[str] | None = None) -> GroundTruth:
        """``columns`` (default: every numeric one) as numbers; an empty cell is a missing value,
        a ``nan``/``inf`` cell or a text cell in a column asked for is an error."""
        if columns:
            unknown = [c for c in columns if c not in self.header]
            if unknown:
                raise DataError(
                    f"{self.source} has no column {', '.join(unknown)}; choose from {', '.join(self.header)}"
                )
        if self.numeric is not None:
            return GroundTruth(self.source, {c: dict(self.numeric.values[c]) for c in columns or self.header})
        return _numbers(self.source, self.rows, list(columns or self.header), strict=bool(columns))


def read_table(path: str | Path, space: SearchSpace) -> Table:
    """Read a ground-truth file once: a CSV with an ``arch`` (or ``ArchitectureString``) column,
    or the official NAS-Bench-201 ``.pth`` file. A repeated architecture is an error."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"--ground-truth {path} is a folder; give the table file (a CSV, or NB201's .pth)")
    if not path.is_file():
        raise DataError(f"ground-truth table {path} does not exist")
    if path.suffix == ".pth":
        numeric = read_nb201_benchmark_file(path, space)
        return Table(str(path), list(NB201_API_DATASETS), [], numeric)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            arch_column = next((c for c in ARCH_COLUMNS if c in header), None)
            if arch_column is None:
                raise DataError(
                    f"{path} has no architecture column; name it 'arch' (or 'ArchitectureString' as in "
                    f"the NB201 table). Found columns: {', '.join(header) or 'none'}"
                )
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 text (byte {exc.start}); give a CSV table saved as UTF-8"
        ) from None
    except csv.Error as exc:
        raise DataError(
            f"{path} is not a readable CSV table ({exc}); give a comma-separated UTF-8 file"
        ) from None
    header = [c for c in header if c != arch_column and c not in NON_METRIC]
    keyed: list[tuple[int, str, dict[str, str]]] = []
    first_line: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        try:
            key = space.encode(space.decode(row[arch_column] or ""))
        except DiswotError as exc:
            raise DataError(f"{path}:{line}: architecture {row[arch_column]!r}: {exc}") from exc
        if key in first_line:
            raise DataError(
                f"{path}:{line}: architecture {key} already appears on line {first_line[key]}; keep one "
                f"row per architecture (average repeated runs, or put them in <column>_seed0, "
                f"<column>_seed1 columns)"
            )
        first_line[key] = line
        keyed.append((line, key, row))
    return Table(str(path), header, keyed)


def read_ground_truth(path: str | Path, space: SearchSpace, columns: list[str] | None = None) -> GroundTruth:
    """Read a table; ``columns`` picks metric columns (default: every numeric one).

    A ``.pth`` file is read as the official NAS-Bench-201 benchmark file. An empty cell is a
    missing value; ``nan``/``inf`` cells and a repeated architecture are errors, since either
    would silently change what the proxies are ranked against.
    """
    return read_table(path, space).truth(columns)


def _numbers(
    path: str, rows: list[tuple[int, str, dict[str, str]]], metric_columns: list[str], strict: bool
) -> GroundTruth:
    """The cells of ``metric_columns`` as numbers; with ``strict`` (columns asked for) a text cell
    is an error, otherwise a column whose cells are text is no metric and is left out."""
    values: dict[str, dict[str, float]] = {c: {} for c in metric_columns}
    text_cells: dict[str, str] = {}  # a column dropped as text: its first cell, for the message
    for line, key, row in rows:
        for column in metric_columns:
            text = (row.get(column) or "").strip()
            if not text:
                continue
            try:
                number = float(text)
            except ValueError:
                if strict or values.get(column):  # asked for, or numbers above: a bad cell
                    raise DataError(
                        f"{path}:{line}: column {column!r} holds {text!r}, not a number; fix the cell or "
                        f"choose a numeric column"
                    ) from None
                values.pop(column, None)  # a non-numeric column is not a metric
                text_cells.setdefault(column, f"column {column!r} holds {text!r} on line {line}")
                metric_columns = [c for c in metric_columns if c != column]
                continue
            if not math.isfinite(number):
                raise DataError(
                    f"{path}:{line}: column {column!r} holds {text!r}; leave the cell empty for a "
                    f"missing value or give a finite number"
                )
            if column in values:
                values[column][key] = number
    values = {c: v for c, v in values.items() if v}
    if not values:
        found = f" ({'; '.join(text_cells.values())})" if text_cells else ""
        raise DataError(f"{path} has no numeric accuracy column{found}; give accuracies as numbers")
    return GroundTruth(path, values)
