"""The README's promises: two commands first, and CI runs exactly the second one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def first_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    assert readme.index(block.group(0)) < 40, "the commands must open the README"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_opens_with_two_commands() -> None:
    demo, tests = first_commands()
    assert demo.endswith("noaiguard demo")
    assert "pytest" in tests


def test_ci_runs_the_readmes_test_command_word_for_word() -> None:
    _, tests = first_commands()
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    assert script[-1] == tests
