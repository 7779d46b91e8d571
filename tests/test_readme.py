"""The README and the docs/ pages: their Python examples run as written and print what they claim,
the README stays a short guide, and every relative link points to a file (and heading) that exists.

Convention: a ```python block is executed here (it must be self-contained, on the embedded sample
or inline data); a ```py block is a sketch that needs the user's own files and is not run.
"""

import contextlib
import io
import re
from pathlib import Path

import pytest

from diswot.distill import DISTILLERS
from diswot.proxies import PROXIES
from diswot.search_spaces import SPACES

REGISTRIES = (SPACES, PROXIES, DISTILLERS)
REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_MAX_LINES = 260
# [text](target) outside code; the target ends at whitespace or ')'
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), re.S)


EXAMPLES = [(page, block) for page in PAGES for block in _blocks(page)]


def _run_and_check(example: str, where: str, must_claim: bool = False) -> None:
    """Run one example with no plug-in leaking out; a last line ``print(...)  # X`` must print X."""
    out = io.StringIO()
    before = {id(r): set(r._entries) for r in REGISTRIES}
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(example, where, "exec"), {})
    finally:  # the example's plug-in must not leak into later tests that list a registry
        for registry in REGISTRIES:
            for name in set(registry._entries) - before[id(registry)]:
                del registry._entries[name]
    last = example.strip().splitlines()[-1]
    claimed = re.search(r"# (.+)$", last)
    assert claimed or not must_claim, f"{where}: the example's last line should state what it prints"
    if claimed and last.lstrip().startswith("print("):
        assert out.getvalue().strip() == claimed.group(1).strip()


@pytest.mark.parametrize("marker", ["register_space", "register_proxy", "register_distiller"])
def test_plugin_examples_run_and_print_their_comment(marker):
    page, example = next((p, b) for p, b in EXAMPLES if marker in b)
    _run_and_check(example, page.name, must_claim=True)


@pytest.mark.parametrize(
    "page, example",
    [
        (p, b)
        for p, b in EXAMPLES
        if not any(m in b for m in ("register_space", "register_proxy", "register_distiller"))
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v.strip().splitlines()[0][:40],
)
def test_every_python_example_of_the_docs_runs(page, example):
    _run_and_check(example, page.name)


def test_the_readme_is_a_short_guide():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"
    assert "## Which fitness" in lines
    assert DOCS, "the reference pages live in docs/"


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as '-'."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    headings = re.findall(r"^#{1,6} (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def missing_links(page: Path) -> list[str]:
    """Relative link targets of ``page`` (outside fenced code) whose file, or whose heading in a
    Markdown file, does not exist."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    missing = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # a URL
            continue
        path, _, anchor = target.partition("#")
        file = page.parent / path if path else page
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
            missing.append(target)
    return missing


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_points_to_a_file_that_exists(page):
    assert not missing_links(page), f"{page.name} links to missing files: {missing_links(page)}"


def test_the_link_check_sees_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# Top: the `page`'s start\n"
        "[ok](page.md) [gone](nothing.md#x) [web](https://x.org) [up](../page.md)\n"
        "[here](#top-the-pages-start)\n"
        "[no such heading](#bottom) [heading of a file](page.md#top-the-pages-start)\n"
        "```bash\n[in code](no.md)\n```\n"
    )
    assert missing_links(page) == ["nothing.md#x", "../page.md", "#bottom"]
