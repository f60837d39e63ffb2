"""The soak, shortened: ``benchmarks/soak.py`` for 45 seconds with every fault (PostgreSQL and
Redis stopped and started, the proxy restarted with SIGTERM), and all of its checks must pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

from .services import unavailable

pytestmark = pytest.mark.slow


def test_a_short_soak_with_faults_passes_every_check(tmp_path: Path) -> None:
    figures = tmp_path / "soak.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "soak.py"),
            "--duration",
            "45",
            "--browsers",
            "12",
            "--json",
            str(figures),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode == 2:
        unavailable("the soak's servers", done.stderr.strip())
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(figures.read_text())
    assert all(result["checks"].values())
    assert result["events_expected"] == result["events_stored"] > 100
    assert result["browser_errors"] == 0 and result["requests"] > 1000
