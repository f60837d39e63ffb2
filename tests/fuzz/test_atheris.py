"""The coverage-guided targets of atheris_targets.py, each run for a few seconds.

CI runs them briefly so that they keep working and catch what a few seconds of mutation finds;
NOAIGUARD_FUZZ_SECONDS runs each longer (see README.md here).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "atheris", reason="atheris has wheels for Linux x86-64 only (pip install atheris)"
)

ROOT = Path(__file__).resolve().parents[2]
SECONDS = int(os.environ.get("NOAIGUARD_FUZZ_SECONDS", "2"))


@pytest.mark.parametrize("target", ["xmp", "html", "config"])
def test_the_target_finds_nothing(target: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    command = [
        sys.executable,
        "-m",
        "tests.fuzz.atheris_targets",
        target,
        f"-max_total_time={SECONDS}",
        f"-artifact_prefix={tmp_path}/",
        str(corpus),
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 120, check=False
    )
    crashes = sorted(path.name for path in tmp_path.glob("crash-*"))
    assert done.returncode == 0 and not crashes, done.stderr[-4000:]
    assert any(corpus.iterdir())  # it ran on the seeds
