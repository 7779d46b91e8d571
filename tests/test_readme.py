"""The README's Python examples run as written and print what they claim."""

import contextlib
import io
import re
from pathlib import Path

import pytest

from diswot.distill import DISTILLERS
from diswot.proxies import PROXIES
from diswot.search_spaces import SPACES

REGISTRIES = (SPACES, PROXIES, DISTILLERS)
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("marker", ["register_space", "register_proxy", "register_distiller"])
def test_plugin_examples_run_and_print_their_comment(marker):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = next(b for b in blocks if marker in b)
    out = io.StringIO()
    before = {id(r): set(r._entries) for r in REGISTRIES}
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(example, "README.md", "exec"), {})
    finally:  # the example's plug-in must not leak into later tests that list a registry
        for registry in REGISTRIES:
            for name in set(registry._entries) - before[id(registry)]:
                del registry._entries[name]
    claimed = re.search(r"# (.+)$", example.strip().splitlines()[-1]).group(1)
    assert out.getvalue().strip() == claimed.strip()
