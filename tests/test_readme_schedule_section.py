"""README's "schedule API" section: its code runs and prints what the README says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_schedule_section_prints_what_it_claims():
    section = README.read_text().split("## The schedule API", 1)[1].split("\n## ", 1)[0]
    code_blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    printed = re.search(r"\nprints\n\n```\n(.*?)```", section, flags=re.S).group(1)
    assert len(code_blocks) == 2, "the printing example and the dampening example"
    namespace: dict = {}
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        for block in code_blocks:  # the second block continues the first, as a reader would run them
            exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - the README's own code
    assert output.getvalue() == printed
    assert namespace["warmup_scheduler"].last_step == 1000
