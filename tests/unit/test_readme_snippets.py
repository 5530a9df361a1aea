"""The README's "Testing your job" snippets run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_testing_section_snippets_run(monkeypatch):
    monkeypatch.chdir(README.parent)  # snippets name the repository's files (examples/...) relative to it
    section = README.read_text().split("## Testing your job", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "the section has python snippets"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
