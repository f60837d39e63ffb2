"""The audit decides as the live guard would: from the log's timestamps, and the addresses'."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from noaiguard.audit.logformats import parser
from noaiguard.audit.reader import in_time_order, text_size
from noaiguard.cli import main

from .logs import (
    CHROME,
    FIREFOX,
    GOOGLE_IP,
    GOOGLEBOT,
    GPTBOT,
    OPENAI_IP,
    START,
    line,
    ranges_config,
    write,
)


def audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], config: str = ""
) -> dict[str, Any]:
    log = write(tmp_path / "access.log", lines)
    arguments = [str(log), "--config", str(ranges_config(tmp_path, config))]
    assert main(["audit", *arguments, "--report-format", "json", "-o", "-", "-q"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def test_a_browser_taking_300_images_in_a_minute_is_caught_by_the_logs_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    harvest = [
        line("185.220.101.44", START + n * 0.2, f"/images/{n}.jpg", FIREFOX) for n in range(300)
    ]
    report = audit(tmp_path, capsys, harvest)
    (row,) = report["unknown_agents"]
    assert (row["user_agent"], row["category"]) == (FIREFOX, "browser")
    assert row["refused"] > 200  # from the 60th image on, and the penalty box after
    assert report["networks"][0]["network"] == "185.220.101.0/24"


def test_the_same_images_over_five_hours_are_a_person_browsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = [line("185.220.101.44", START + n * 60, f"/images/{n}.jpg", FIREFOX) for n in range(300)]
    report = audit(tmp_path, capsys, slow)
    assert report["unknown_agents"] == []
    assert report["headline"]["refused"]["now"] == 0
    assert report["headline"]["by_category"][0]["category"] == "browser"


def test_googlebot_from_an_address_google_does_not_use_is_a_spoof(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [line(GOOGLE_IP, START + n, f"/work/{n}", GOOGLEBOT) for n in range(10)]
    lines += [
        line("45.155.205.233", START + 20 + n, f"/images/{n}.jpg", GOOGLEBOT) for n in range(7)
    ]
    report = audit(tmp_path, capsys, lines)
    (spoof,) = report["spoofed"]
    assert (spoof["claimed"], spoof["requests"], spoof["refused"]) == ("Googlebot", 7, 7)
    assert spoof["examples"] == ["45.155.205.0/24"]
    shares = {s["category"]: s["requests"] for s in report["headline"]["by_category"]}
    assert shares == {"search-engine": 10, "spoofed-bot": 7}


def test_path_rules_are_applied_per_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [line(OPENAI_IP, START + n, f"/press/{n}.html", GPTBOT) for n in range(4)]
    lines += [line(OPENAI_IP, START + 10 + n, f"/images/{n}.jpg", GPTBOT) for n in range(6)]
    rules = (
        "policy:\n  rules:\n    - paths: ['/press/*']\n      agents: [GPTBot]\n      action: log\n"
    )
    report = audit(tmp_path, capsys, lines, rules)
    (gptbot,) = report["agents"]
    assert (gptbot["requests"], gptbot["refused"], gptbot["logged"]) == (10, 6, 4)


def test_monitor_mode_records_what_would_have_been_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [line(OPENAI_IP, START + n, f"/images/{n}.jpg", GPTBOT, size=1000) for n in range(5)]
    report = audit(tmp_path, capsys, lines, "mode: monitor\n")
    assert report["agents"][0]["refused"] == 5
    assert report["agents"][0]["bytes_withheld"] == 0  # served: nothing was kept from it
    assert any("monitor mode" in note for note in report["notes"])


def test_the_client_behind_a_trusted_proxy_is_the_forwarded_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nginx's "main" format: the combined fields, then "$http_x_forwarded_for".
    lines = [
        line("10.0.0.2", START + n * 0.2, f"/images/{n}.jpg", CHROME) + f' "203.0.113.{n % 2}"'
        for n in range(300)
    ]
    report = audit(tmp_path, capsys, lines, "network:\n  trusted_proxies: [10.0.0.0/8]\n")
    networks = {n["network"] for n in report["networks"]}
    assert networks == {"203.0.113.0/24"}


def test_rotated_logs_are_read_oldest_first_whatever_their_order(tmp_path: Path) -> None:
    newest = write(tmp_path / "access.log", [line("192.0.2.1", START + 7200, "/", FIREFOX)])
    middle = write(
        tmp_path / "access.log.1", ["junk", line("192.0.2.1", START + 3600, "/", FIREFOX)]
    )
    oldest = tmp_path / "access.log.2.gz"
    oldest.write_bytes(gzip.compress((line("192.0.2.1", START, "/", FIREFOX) + "\n").encode()))
    empty = write(tmp_path / "empty.log", [])
    names = [str(p) for p in (newest, empty, middle, oldest)]
    assert in_time_order(names, parser("auto")) == [
        str(oldest), str(middle), str(newest), str(empty),
    ]  # fmt: skip
    assert in_time_order(["-", *names], parser("auto")) == ["-", *names]


def test_the_text_in_a_gz_is_counted_uncompressed(tmp_path: Path) -> None:
    text = "".join(line("192.0.2.1", START + n, "/", FIREFOX) + "\n" for n in range(2000))
    plain = tmp_path / "access.log"
    plain.write_text(text)
    packed = tmp_path / "access.log.1"
    packed.write_bytes(gzip.compress(text.encode()))
    assert packed.stat().st_size < len(text) // 10
    assert text_size([str(packed)]) == text_size([str(plain)]) == len(text)
    assert text_size([str(plain), "-", str(packed)]) == 2 * len(text)
