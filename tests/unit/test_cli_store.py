"""The store's commands: evidence, events and prune, on a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest

from noaiguard.backends.sqlite import SQLiteEventStore
from noaiguard.cli import main
from noaiguard.events import ROBOTS_FETCH, Batch, RobotsVersion
from noaiguard.periods import parse_time
from tests.records import T0, event

ROBOTS = "User-agent: GPTBot\nDisallow: /\n"
VERSION = RobotsVersion.version_of(ROBOTS.encode())


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    store = SQLiteEventStore(str(tmp_path / "events.db"))
    store.write(
        Batch.new(
            [
                event(
                    0,
                    kind=ROBOTS_FETCH,
                    path="/robots.txt",
                    status=200,
                    action="allow",
                    robots_version=VERSION,
                ),
                event(5, robots_version=VERSION, user_agent='=HYPERLINK("x")\x1b[2J GPTBot'),
                event(9, agent="ClaudeBot", robots_version=VERSION),
            ],
            [RobotsVersion(VERSION, ROBOTS, T0, T0 + 60)],
        )
    )
    store.close()
    return f"sqlite:///{tmp_path}/events.db"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_evidence_shows_the_robots_fetch_the_version_and_what_followed(
    capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    code, out, _ = run(capsys, "evidence", "--agent", "gptbot", "--store", store_url)
    assert code == 0
    assert out.startswith("Evidence for GPTBot, the beginning to now (UTC): 1 robots.txt fetch")
    lines = out.splitlines()
    fetch = next(i for i, line in enumerate(lines) if "fetched robots.txt" in line)
    block = next(i for i, line in enumerate(lines) if "GET /img/5.png -> 403 block" in line)
    assert fetch < block
    assert lines[fetch].startswith("2023-11-14 22:13:20  fetched robots.txt -> 200, version ")
    assert VERSION in out and "    | User-agent: GPTBot" in out and "    | Disallow: /" in out
    assert "\x1b" not in out and "\\x1b[2J" in out  # a hostile User-Agent cannot drive the terminal
    assert "ClaudeBot" not in out


def test_evidence_as_json_and_for_a_period(
    capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    since = "2023-11-14T22:13:21"  # after the robots.txt fetch
    code, out, _ = run(
        capsys,
        "evidence",
        "--agent",
        "GPTBot",
        "--store",
        store_url,
        "--since",
        since,
        "--format",
        "json",
    )
    document = json.loads(out)
    assert code == 0 and document["format"] == "noaiguard-evidence/1"
    assert [e["path"] for e in document["events"]] == ["/img/5.png"]
    assert document["events"][0]["time"] == "2023-11-14T22:13:25+00:00"
    assert document["robots_versions"][0]["body"] == ROBOTS


def test_evidence_for_an_agent_never_seen(
    capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    code, out, _ = run(capsys, "evidence", "--agent", "Bytespider", "--store", store_url)
    assert code == 0 and out.startswith("No events for Bytespider")


def test_events_export_as_json_lines_and_csv(
    capsys: pytest.CaptureFixture[str], store_url: str, tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "events", "--store", store_url)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["agent"] for r in records] == ["GPTBot", "GPTBot", "ClaudeBot"]
    assert records[0]["kind"] == "robots.txt" and records[0]["epoch"] == T0
    target = tmp_path / "events.csv"
    code, _, err = run(capsys, "events", "--store", store_url, "--format", "csv", "-o", str(target))
    assert code == 0 and "3 event(s) written" in err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 3 and rows[1]["path"] == "/img/5.png"
    assert rows[1]["user_agent"].startswith("'=HYPERLINK")  # not a formula in a spreadsheet


def test_prune_deletes_what_is_older_than_the_retention(
    capsys: pytest.CaptureFixture[str], store_url: str
) -> None:
    code, out, _ = run(capsys, "prune", "--store", store_url, "--days", "1")
    assert code == 0 and out.startswith("pruned 3 event(s) from before ")
    code, out, _ = run(capsys, "prune", "--store", store_url, "--days", "0")
    assert code == 0 and "nothing pruned" in out


def test_bad_times_and_unreachable_stores_are_clear_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["events", "--since", "last tuesday"])
    assert exited.value.code == 2
    assert "'last tuesday' is not a time" in capsys.readouterr().err
    code, _, err = run(capsys, "events", "--store", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 1 and err.startswith("noaiguard: cannot open PostgreSQL store")


def test_times_are_read_as_people_write_them() -> None:
    now = 1_800_000_000.0
    assert parse_time("now", now) == now
    assert parse_time("7d", now) == now - 7 * 86400
    assert parse_time("90m", now) == now - 5400
    assert parse_time("2026-11-20") == parse_time("2026-11-20T00:00:00Z")
    assert parse_time("2026-11-20T01:00+01:00") == parse_time("2026-11-20")
    assert abs(parse_time("0s") - time.time()) < 5
