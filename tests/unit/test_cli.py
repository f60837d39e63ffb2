"""The command line: check-config, classify, robots, agents."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from noaiguard.cli import EXIT_INVALID_CONFIG, EXIT_OK, main
from tests.conftest import BROWSER_UA, CONFIGS, GPTBOT_UA

from ..conftest import PREFERENCE_LINES


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_config_accepts_every_ready_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check-config", *map(str, CONFIGS))
    assert code == EXIT_OK
    assert out.count(": valid (") == len(CONFIGS)


def test_check_config_exits_2_with_every_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: enforcing\nsignals:\n  x_robots_tag:\n    directive: [noai]\n")
    code, _, err = run(capsys, "check-config", str(bad))
    assert code == EXIT_INVALID_CONFIG == 2
    assert f"{bad}:1:7: mode: unknown value 'enforcing'" in err
    assert (
        f"{bad}:4:5: signals.x_robots_tag.directive: unknown key; did you mean 'directives'?" in err
    )
    assert f"{bad}: 2 problems" in err


def test_classify_explains_each_user_agent(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "classify", GPTBOT_UA, BROWSER_UA)
    assert code == EXIT_OK
    assert "GPTBot (ai-training, OpenAI) -> block [default.ai-training]" in out
    assert "Chrome 124.0.0 on Windows 10 (pc) (browser) -> allow [default.browser]" in out


def test_classify_json_reads_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{GPTBOT_UA}\n\ncurl/8.5.0\n"))
    code, out, _ = run(capsys, "classify", "-", "--json", "--ip", "203.0.113.9", "--path", "/a.png")
    assert code == EXIT_OK
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["agent"] for r in records] == ["GPTBot", "curl"]
    assert {"agent", "category", "action", "reasons"} <= set(records[0])
    assert records[0]["category"] == "ai-training" and records[0]["action"] == "block"
    assert records[1]["action"] == "log" and records[1]["reasons"]


def test_classify_follows_the_config(capsys: pytest.CaptureFixture[str]) -> None:
    monitor = next(p for p in CONFIGS if p.stem == "monitor")
    _, out, _ = run(capsys, "classify", "--config", str(monitor), GPTBOT_UA)
    assert "block (monitor mode: logged, not blocked)" in out
    strict = next(p for p in CONFIGS if p.stem == "strict")
    _, out, _ = run(capsys, "classify", "--config", str(strict), "--json", "python-requests/2.32")
    assert json.loads(out)["action"] == "block"


def test_robots_prints_the_merged_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    own = tmp_path / "robots.txt"
    own.write_text("User-agent: *\nDisallow: /private/\n")
    code, out, _ = run(capsys, "robots", "--merge", str(own))
    assert code == EXIT_OK
    assert "User-agent: GPTBot\n" in out
    # The trap link's path is disallowed in every group that does not disallow everything.
    assert out.rstrip().endswith(
        "User-agent: *\nDisallow: /private/\nDisallow: /all-originals/\n" + PREFERENCE_LINES
    )


def test_agents_lists_the_database(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "agents", "--category", "feed-reader")
    assert code == EXIT_OK
    assert "Miniflux" in out and "GPTBot" not in out
    code, out, _ = run(capsys, "agents", "--json")
    names = {json.loads(line)["name"] for line in out.splitlines()}
    assert {"GPTBot", "Googlebot", "Miniflux"} <= names


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "noaiguard"
    result = subprocess.run(
        [str(script), "classify", "--json", GPTBOT_UA],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout)["agent"] == "GPTBot"
    version = subprocess.run(
        [sys.executable, "-m", "noaiguard", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert version.stdout.startswith("noaiguard ")
