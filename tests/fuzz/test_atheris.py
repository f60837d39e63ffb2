"""The coverage-guided targets of atheris_targets.py, each run for a few seconds.

The suite runs them briefly so that they keep working and catch what a few seconds of mutation
finds. In CI (``CI=true``) each runs a fixed number of inputs from a fixed seed, as Hypothesis
derandomizes its tests there, so that a verdict depends on the change and not on the luck of the
run: the html and config targets then meet the same inputs every time (checked: the same corpus
twice), xmp nearly the same. Elsewhere the seed is random; NOAIGUARD_FUZZ_SECONDS runs each target
that long from a random seed, to search further (see README.md here).
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
SECONDS = int(os.environ.get("NOAIGUARD_FUZZ_SECONDS", "0"))
#: Inputs per target in the short run, about two seconds of each here (the config target parses
#: and validates a whole file per input, thousands of times slower than the others).
RUNS = {"xmp": 4000, "html": 4000, "config": 30}
#: The seed of CI's runs; a failure there replays with this seed and count.
CI_SEED = 1


#: Whether this is CI's short run, which has to be the same every time.
REPEATABLE = not SECONDS and os.environ.get("CI") == "true"


def budget(target: str) -> list[str]:
    """libFuzzer's limits for ``target``: a time from a random seed when asked, else a count."""
    if SECONDS:
        return [f"-max_total_time={SECONDS}"]
    runs = [f"-runs={RUNS[target]}"]
    # -reload=0: libFuzzer rereads the corpus folder every second by default, which lets the
    # clock decide which inputs are mutated next.
    return [*runs, f"-seed={CI_SEED}", "-reload=0"] if REPEATABLE else runs


@pytest.mark.parametrize("target", sorted(RUNS))
def test_the_target_finds_nothing(target: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    command = [
        sys.executable,
        "-m",
        "tests.fuzz.atheris_targets",
        target,
        *budget(target),
        f"-artifact_prefix={tmp_path}/",
        str(corpus),
    ]
    # A fixed hash seed too: set and dict orders steer which branches an input reaches.
    environment = {**os.environ, "PYTHONHASHSEED": "0"} if REPEATABLE else None
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SECONDS + 120,
        check=False,
    )
    crashes = sorted(path.name for path in tmp_path.glob("crash-*"))
    assert done.returncode == 0 and not crashes, done.stderr[-4000:]
    assert any(corpus.iterdir())  # it ran on the seeds
