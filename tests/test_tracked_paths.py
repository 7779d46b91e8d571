"""Every tracked path can be checked out on Windows, macOS and Linux, and the results attic stays small."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ILLEGAL = re.compile(r'[<>:"|?*\x00-\x1f]')  # not allowed in a Windows file name
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{port}{i}" for port in ("COM", "LPT") for i in range(1, 10))}
MAX_PATH = 200  # Windows' limit is 260 with the checkout's own folder in front
ATTIC = "benchmarks/results/"
ATTIC_FILES = 150


def problems(path: str) -> list[str]:
    """Why ``path`` (relative, ``/``-separated) cannot be checked out everywhere; empty if it can."""
    found = [f"{len(path)} characters (over {MAX_PATH})"] if len(path) > MAX_PATH else []
    for part in path.split("/"):
        if ILLEGAL.search(part):
            found.append(f"{part!r} holds one of <>:\"|?* or a control character")
        if part.endswith((".", " ")):
            found.append(f"{part!r} ends with a dot or a space")
        if part.split(".")[0].upper() in RESERVED:
            found.append(f"{part!r} is a reserved name on Windows")
        if len(part.encode()) > 255:
            found.append(f"{part[:40]!r}... is over 255 bytes")
    return found


@pytest.fixture(scope="module")
def tracked() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [p for p in listing.decode().split("\0") if p]


def test_every_tracked_path_is_legal_on_windows_macos_and_linux(tracked):
    bad = {path: problems(path) for path in tracked if problems(path)}
    assert not bad, f"rename these: {bad}"


def test_no_two_tracked_paths_differ_only_in_case(tracked):
    seen: dict[str, str] = {}
    clashes = [(seen.setdefault(p.lower(), p), p) for p in tracked if seen.setdefault(p.lower(), p) != p]
    assert not clashes, f"these collide on case-insensitive file systems: {clashes}"


@pytest.mark.parametrize(
    "path,problem",
    [
        ("results/evolution_cal:log:a+b_500/x.csv", "<>:"),
        ('a/say "hi".txt', "<>:"),
        ("a/b?.json", "<>:"),
        ("docs/notes.", "ends with a dot"),
        ("docs/notes /a", "ends with a dot or a space"),
        ("src/con.py", "reserved"),
        ("aux/readme.md", "reserved"),
        ("x/" + "a" * 300, "over 255 bytes"),
        ("/".join(["abcdefghij"] * 20) + "/z.txt", "characters (over 200)"),
    ],
)
def test_the_check_names_each_rule(path, problem):
    assert any(problem in p for p in problems(path)), problems(path)
    assert problems("benchmarks/results/search_nb201/evolution_cal-log-a+b_500.csv") == []
    assert problems("console/conf.d/com10.txt") == []  # only the exact reserved names


def test_the_results_attic_is_summaries_and_the_figures_results_md_shows(tracked):
    attic = [p for p in tracked if p.startswith(ATTIC)]
    assert 0 < len(attic) <= ATTIC_FILES, f"{len(attic)} tracked files in {ATTIC}"
    shown = (REPO / "benchmarks" / "RESULTS.md").read_text() + (REPO / "README.md").read_text()
    figures = [p for p in attic if p.endswith(".png")]
    assert all(Path(p).name in shown for p in figures), figures  # any other plot is regenerated
    kinds = {Path(p).suffix for p in attic} - {".csv", ".json", ".png", ""}
    assert not kinds, f"only summary CSV/JSON and shown figures belong in {ATTIC}: {kinds}"
