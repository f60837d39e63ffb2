"""``noaiguard audit`` from the command line: files, .gz, standard input, bad lines, outputs."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from noaiguard.cli import main

from .logs import (
    ANTHROPIC_IP,
    CLAUDEBOT,
    FIREFOX,
    GPTBOT,
    OPENAI_IP,
    START,
    line,
    ranges_config,
    write,
)

ROOT = Path(__file__).resolve().parent.parent.parent


def traffic() -> list[str]:
    """An afternoon: people, GPTBot from OpenAI's addresses, ClaudeBot, and robots.txt."""
    lines = []
    for n in range(40):
        t = START + n * 60
        lines.append(line(f"198.51.100.{n}", t, "/gallery/dawn", FIREFOX))
        lines.append(line(f"198.51.100.{n}", t + 1, "/images/dawn.jpg", FIREFOX, size=48_000))
        lines.append(line(OPENAI_IP, t + 5, f"/images/{n}.jpg", GPTBOT, size=52_000))
    lines.append(line(OPENAI_IP, START + 3, "/robots.txt", GPTBOT, size=120))
    lines.extend(line(ANTHROPIC_IP, START + 90 + n, "/about", CLAUDEBOT) for n in range(5))
    return lines


def audit_json(capsys: pytest.CaptureFixture[str], *arguments: str) -> dict[str, Any]:
    """The report as JSON on stdout; stderr stays in ``capsys`` for the test to read."""
    assert main(["audit", *arguments, "--report-format", "json", "-o", "-"]) == 0
    out, err = capsys.readouterr()
    sys.stderr.write(err)
    report: dict[str, Any] = json.loads(out)
    return report


def test_the_report_names_the_ai_crawlers_and_what_refusing_them_would_have_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(tmp_path / "access.log", traffic())
    report = audit_json(capsys, str(log), "--config", str(ranges_config(tmp_path)))
    agents = {a["agent"]: a for a in report["agents"]}
    assert agents["GPTBot"]["requests"] == 40
    assert agents["GPTBot"]["refused"] == 40
    assert agents["GPTBot"]["bytes_withheld"] == 40 * 52_000
    assert agents["ClaudeBot"]["requests"] == 5
    assert report["headline"]["requests"]["now"] == len(traffic())
    assert report["headline"]["refused"]["now"] == 45
    assert report["robots"]["fetched"][0]["agent"] == "GPTBot"
    assert report["period"]["label"] == "log audit, 2026-10-12"
    assert "noaiguard audit" in report["notes"][0]
    assert report["spoofed"] == []


def test_gzip_and_standard_input_through_python_m_noaiguard(tmp_path: Path) -> None:
    packed = tmp_path / "access.log.1"  # compressed without the .gz name: read by content
    packed.write_bytes(gzip.compress("".join(f"{x}\n" for x in traffic()).encode()))
    config = str(ranges_config(tmp_path))
    command = [sys.executable, "-m", "noaiguard", "audit", "--report-format", "json", "-o", "-"]
    from_file = subprocess.run(
        [*command, str(packed), "--config", config], capture_output=True, cwd=ROOT, check=True
    )
    from_stdin = subprocess.run(
        [*command, "-", "--config", config],
        input=packed.read_bytes(),
        capture_output=True,
        cwd=ROOT,
        check=True,
    )
    for result in (from_file, from_stdin):
        report = json.loads(result.stdout)
        assert {a["agent"]: a["refused"] for a in report["agents"]} == {
            "GPTBot": 40, "ClaudeBot": 5,
        }  # fmt: skip
        assert b"126 lines, 126 requests" in result.stderr
    assert "lines of <stdin>" in json.loads(from_stdin.stdout)["notes"][0]


def test_bad_lines_are_counted_and_shown_with_their_line_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = traffic()
    lines.insert(3, "\x00\x01\x02\xff binary garbage")
    lines.insert(10, lines[9][:60])  # a line cut short
    lines.insert(
        20, '198.51.100.9 - - [12/Oct/2026:08:20:00 +0000] "\\x16\\x03\\x01" 400 157 "-" "-"'
    )
    log = write(tmp_path / "access.log", lines)
    report = audit_json(capsys, str(log), "--config", str(ranges_config(tmp_path)))
    assert report["headline"]["requests"]["now"] == len(traffic())
    note = next(n for n in report["notes"] if "not read as requests" in n)
    assert note.startswith("3 lines were not read as requests")
    assert "access.log:4 `\\x00\\x01\\x02\xff binary garbage`" in note
    main(["audit", str(log), "-o", str(tmp_path / "r.md"), "--report-format", "md"])
    err = capsys.readouterr().err
    assert "3 lines skipped:" in err
    assert f"{log}:11: not a combined log line:" in err
    assert f"{log}:21: the request is not HTTP" in err


def test_a_truncated_gz_is_reported_and_what_was_read_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    many = traffic() * 40
    data = gzip.compress("".join(f"{x}\n" for x in many).encode())
    cut = tmp_path / "access.log.2.gz"
    cut.write_bytes(data[: len(data) // 2])
    whole = write(tmp_path / "access.log", traffic())
    report = audit_json(capsys, str(whole), str(cut), "--config", str(ranges_config(tmp_path)))
    read = report["headline"]["requests"]["now"]
    assert len(traffic()) + 100 < read < len(traffic()) + len(many)
    assert any(f"{cut}: the compressed data ends early" in n for n in report["notes"])
    assert f"{cut}: the compressed data ends early" in capsys.readouterr().err


def test_a_missing_file_stops_the_audit_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    log = write(tmp_path / "access.log", traffic())
    assert main(["audit", str(log), "nope.log"]) == 2
    assert "noaiguard audit: nope.log: No such file or directory" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["access.log"]
    assert main(["audit", "-", "-"]) == 2


def test_html_by_default_in_a_file_named_after_the_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    log = write(tmp_path / "access.log", traffic())
    assert main(["audit", str(log), "--config", str(ranges_config(tmp_path))]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "noaiguard-audit-2026-10-12.html"
    html = (tmp_path / out.strip()).read_text("utf-8")
    assert html.startswith("<!doctype html>")
    assert "log audit, 2026-10-12" in html and "GPTBot" in html
    assert "126 lines, 126 requests" in err and "AI crawlers: GPTBot 40, ClaudeBot 5" in err


def test_a_log_without_a_single_request_writes_no_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    log = write(tmp_path / "junk.log", ["nothing here", "nor here"])
    assert main(["audit", str(log)]) == 1
    assert "no request could be read" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["junk.log"]


def test_the_events_can_be_kept_for_noaiguard_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(tmp_path / "access.log", traffic())
    store = f"sqlite:///{tmp_path / 'audit.db'}"
    audited = audit_json(
        capsys, str(log), "--store", store, "--config", str(ranges_config(tmp_path))
    )
    assert main(
        ["report", "--store", store, "--since", "2026-10-12", "--until", "2026-10-13",
         "--format", "json", "-o", "-"]
    ) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["agents"] == audited["agents"]
    assert report["headline"] == audited["headline"]


def test_two_worker_processes_make_the_same_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(tmp_path / "access.log", traffic() * 3)
    config = str(ranges_config(tmp_path))
    alone = audit_json(capsys, str(log), "--config", config, "--workers", "1")
    shared = audit_json(capsys, str(log), "--config", config, "--workers", "2")
    alone.pop("generated")
    shared.pop("generated")
    assert shared == alone
    assert main(["audit", "-", "--workers", "2"]) == 2
    assert "--workers: standard input" in capsys.readouterr().err
