"""The README's Python examples run as written and print what they claim."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_custom_space_example_runs_and_prints_its_comment():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = next(b for b in blocks if "register_space" in b)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, "README.md", "exec"), {})
    claimed = re.search(r"# (.+)$", example.strip().splitlines()[-1]).group(1)
    assert out.getvalue().strip() == claimed.strip()
