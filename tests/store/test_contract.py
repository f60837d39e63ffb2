"""One contract, every event store: memory, SQLite, and the machine's PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from noaiguard.backends import EventStore, open_event_store
from noaiguard.backends.base import Group, Selection, group_events, robots_followups
from noaiguard.backends.sql import SCHEMA_VERSION
from noaiguard.backends.sqlite import SQLiteEventStore, path_from_url
from noaiguard.errors import StoreError
from noaiguard.events import ROBOTS_FETCH, Batch, Event, RobotsVersion, Rollup
from tests.records import T0, event

from .services import event_store, postgres_schema


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    with event_store(request.param, tmp_path) as opened:
        yield opened


def test_events_round_trip_and_are_queried_by_time(store: EventStore) -> None:
    events = [event(n) for n in range(10)]
    store.append(events[5:])
    store.append(events[:5])
    assert store.count() == 10 and store.check()
    assert list(store.query()) == events
    assert list(store.query(since=events[3].time, until=events[6].time)) == events[3:6]


def test_events_are_queried_by_agent_in_any_case(store: EventStore) -> None:
    store.append([event(1), event(2, agent="ClaudeBot"), event(3, agent=None, category="browser")])
    assert [e.time for e in store.query(agent="gptbot")] == [T0 + 1]
    assert [e.agent for e in store.query(agent="CLAUDEBOT")] == ["ClaudeBot"]
    assert list(store.query(agent="nobody")) == []


def test_a_batch_is_applied_once_however_often_it_is_written(store: EventStore) -> None:
    batch = Batch.new(
        [event(1), event(2)],
        [RobotsVersion("v1", "User-agent: *\nDisallow:\n", T0, T0 + 5)],
        [Rollup(1_699_999_200, "browser", "allow", 2, 40)],
    )
    store.write(batch)
    store.write(batch)  # a retry after a lost acknowledgement, or a replay
    assert store.count() == 2
    assert store.rollups() == [Rollup(1_699_999_200, "browser", "allow", 2, 40)]


def test_robots_versions_are_stored_once_with_their_first_and_last_serving(
    store: EventStore,
) -> None:
    body = "User-agent: GPTBot\nDisallow: /\n"
    store.write(Batch.new(robots=[RobotsVersion("v1", body, T0 + 10, T0 + 20)]))
    store.write(Batch.new(robots=[RobotsVersion("v1", body, T0 + 5, T0 + 12)]))
    store.write(Batch.new(robots=[RobotsVersion("v2", "User-agent: *\n", T0 + 30, T0 + 30)]))
    assert store.robots_versions() == [
        RobotsVersion("v1", body, T0 + 5, T0 + 20),
        RobotsVersion("v2", "User-agent: *\n", T0 + 30, T0 + 30),
    ]


def test_rollups_add_up_per_hour_category_action_and_status_class(store: EventStore) -> None:
    hour = 1_699_999_200
    store.write(
        Batch.new(
            rollups=[
                Rollup(hour, "browser", "allow", 2, 10),
                Rollup(hour, "ai-training", "block", 4, 3),
            ]
        )
    )
    store.write(Batch.new(rollups=[Rollup(hour, "browser", "allow", 2, 5)]))
    store.write(Batch.new(rollups=[Rollup(hour + 3600, "browser", "allow", 3, 1)]))
    assert store.rollups(since=hour, until=hour + 3600) == [
        Rollup(hour, "ai-training", "block", 4, 3),
        Rollup(hour, "browser", "allow", 2, 15),
    ]
    assert len(store.rollups()) == 3


def test_prune_removes_what_is_older_than_the_cut(store: EventStore) -> None:
    store.append([event(n * 3600) for n in range(5)])
    store.write(Batch.new(rollups=[Rollup(int(T0), "browser", "allow", 2, 1)]))
    assert store.prune(T0 + 2 * 3600) == 2
    assert [e.time for e in store.query()] == [T0 + 2 * 3600, T0 + 3 * 3600, T0 + 4 * 3600]
    assert store.rollups() == []


def test_every_field_survives_including_kinds_and_missing_values(store: EventStore) -> None:
    odd = event(
        1,
        kind=ROBOTS_FETCH,
        client_ip=None,
        agent=None,
        enforced=False,
        reasons=(),
        host="exämple.org",
        path="/a%2Fb/<script>",
        user_agent="\x7f\x1b[31m binary",
        bytes_sent=2**40,
    )
    store.append([odd])
    assert list(store.query()) == [odd]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sql_stores_keep_a_nul_as_a_replacement_character(backend: str, tmp_path: Path) -> None:
    if backend == "postgresql":
        with postgres_schema() as url:
            _check_nul(open_event_store(url))
    else:
        _check_nul(open_event_store(f"sqlite:///{tmp_path}/e.db"))


def _check_nul(store: EventStore) -> None:
    try:
        store.append([event(1, user_agent="bad\x00agent", path="/a\x00b")])
        (stored,) = store.query()
        assert (stored.user_agent, stored.path) == ("bad\ufffdagent", "/a\ufffdb")
    finally:
        store.close()


# -- SQL schema versions ----------------------------------------------------------------------


def _seed_for_reports(store: EventStore) -> list[Event]:
    """Events as a week of reports sees them: agents, a browser flagged by behaviour, monitor
    mode, images and pages, robots.txt fetches before and after requests."""
    events = [
        event(1, agent="GPTBot", path="/a.JPG", bytes_withheld=1000),
        event(2, agent="GPTBot", path="/a.JPG", bytes_withheld=1000),
        event(3, agent="GPTBot", path="/about", bytes_withheld=0),
        event(4, agent="GPTBot", kind=ROBOTS_FETCH, path="/robots.txt", action="allow", status=200),
        event(5, agent="GPTBot", path="/b.webp", action="tarpit", robots_version="v2"),
        event(6, agent="ClaudeBot", path="/a.JPG", action="log", status=200, bytes_sent=1000),
        event(7, agent="ClaudeBot", path="/c.png", enforced=False, status=200, bytes_sent=50),
        event(8, agent=None, category="browser", path="/a.JPG", action="log", user_agent="x"),
        event(9, agent=None, category="unknown", path="/feed", client_ip=None, user_agent="y"),
        event(10, agent="Googlebot", category="spoofed-bot", path="/d.gif", client_ip="a"),
        event(11, agent="ClaudeBot", kind=ROBOTS_FETCH, path="/robots.txt", action="allow"),
        event(12, agent="ClaudeBot", path="/e.png", action="log", robots_version="v2"),
        event(13, agent="ClaudeBot", path="/e.png", action="log", robots_version="v2"),
    ]
    store.append(events)
    return events


def test_events_are_grouped_for_reports_as_in_memory(store: EventStore) -> None:
    events = _seed_for_reports(store)
    cases: list[tuple[Selection, tuple[str, ...], int | None]] = [
        (Selection(), ("agent", "category"), None),
        (Selection(since=T0 + 2, until=T0 + 10), ("agent",), None),
        (Selection(images=True), ("path",), None),
        (Selection(images=False), ("path",), 2),
        (Selection(known_agent=False), ("user_agent", "category"), None),
        (Selection(category="spoofed-bot"), ("agent", "client_ip"), None),
        (Selection(kind=ROBOTS_FETCH), ("agent",), None),
        (Selection(kind=None, until=T0 + 9), ("agent",), None),
        (Selection(), ("client_ip",), 1),
        (Selection(), ("x_robots_tag", "robots_version"), None),
    ]
    for selection, by, limit in cases:
        expected = group_events(events, selection, by, limit)
        assert store.group(selection, by, limit=limit) == expected, (selection, by)
    (gpt,) = [g for g in store.group(Selection(), ("agent",)) if g.key == ("GPTBot",)]
    assert gpt == Group(("GPTBot",), 4, 4, 0, 0, 0, 2000, T0 + 1, T0 + 5)
    (claude,) = [g for g in store.group(Selection(), ("agent",)) if g.key == ("ClaudeBot",)]
    assert (claude.events, claude.refused, claude.logged, claude.unenforced) == (4, 1, 3, 1)
    assert claude.bytes_sent == 1050
    images = store.group(Selection(images=True), ("path",))
    assert [g.key[0] for g in images] == ["/a.JPG", "/e.png", "/b.webp", "/c.png", "/d.gif"]
    with pytest.raises(ValueError, match="cannot group events by"):
        store.group(Selection(), ("time; DROP TABLE events",))


def test_first_seen_per_agent(store: EventStore) -> None:
    _seed_for_reports(store)
    assert store.first_seen(["ClaudeBot", "GPTBot", "Nobody"]) == {
        "ClaudeBot": T0 + 6,
        "GPTBot": T0 + 1,
    }


def test_requests_after_an_agents_first_robots_fetch_are_grouped_by_version_and_path(
    store: EventStore,
) -> None:
    events = _seed_for_reports(store)
    followups = store.robots_followups(None, None)
    assert followups == robots_followups(events, None, None)
    assert [(g.key, g.events) for g in followups] == [
        (("ClaudeBot", "v2", "/e.png"), 2),
        (("GPTBot", "v2", "/b.webp"), 1),
    ]
    assert [g.key for g in store.robots_followups(None, None, path_prefixes=["/e"])] == [
        ("ClaudeBot", "v2", "/e.png")
    ]
    assert store.robots_followups(None, None, path_prefixes=["/e_", "/b%"]) == []
    assert [(g.key, g.events) for g in store.robots_followups(None, None, by_path=False)] == [
        (("ClaudeBot", "v2"), 2),
        (("GPTBot", "v2"), 1),
    ]
    assert [g.key[0] for g in store.robots_followups(None, None, agents=["GPTBot"])] == ["GPTBot"]
    assert store.robots_followups(T0 + 13, None) == [
        Group(("ClaudeBot", "v2", "/e.png"), 1, 0, 1, 0, 0, 0, T0 + 13, T0 + 13)
    ]


def test_sqlite_url_forms() -> None:
    assert path_from_url("sqlite:///./noaiguard.db") == "./noaiguard.db"
    assert path_from_url("sqlite:////var/lib/noaiguard/e.db") == "/var/lib/noaiguard/e.db"
    with pytest.raises(StoreError, match="names no file"):
        path_from_url("sqlite:///")
    with pytest.raises(StoreError, match="unknown event store"):
        open_event_store("mysql://localhost/db")


def test_sqlite_uses_wal_and_records_its_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "e.db"
    SQLiteEventStore(str(path)).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        (version,) = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert int(version) == SCHEMA_VERSION


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, method TEXT NOT NULL, host TEXT NOT NULL,
    path TEXT NOT NULL, status INTEGER NOT NULL, bytes_sent INTEGER NOT NULL, client_ip TEXT,
    user_agent TEXT NOT NULL, agent TEXT, category TEXT NOT NULL, action TEXT NOT NULL,
    enforced INTEGER NOT NULL, rule TEXT NOT NULL, reasons TEXT NOT NULL,
    x_robots_tag TEXT NOT NULL
);
CREATE INDEX events_time ON events (time);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO events (time, method, host, path, status, bytes_sent, client_ip, user_agent, agent,
    category, action, enforced, rule, reasons, x_robots_tag)
VALUES (1700000000.0, 'GET', 'example.org', '/a.jpg', 403, 23, '203.0.113.9', 'GPTBot/1.2',
    'GPTBot', 'ai-training', 'block', 1, 'default.ai-training', '["names GPTBot"]', 'noai');
"""


def test_sqlite_upgrades_a_store_written_by_noaiguard_0_1(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
    store = SQLiteEventStore(str(path))
    assert store.schema_version() == SCHEMA_VERSION
    (old,) = store.query()
    assert (old.agent, old.kind, old.robots_version, old.reasons) == (
        "GPTBot",
        "request",
        "",
        ("names GPTBot",),
    )
    store.append([event(5)])
    assert store.count() == 2
    store.close()
    SQLiteEventStore(str(path)).close()  # opening an up-to-date store changes nothing


def test_sqlite_refuses_a_schema_from_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    SQLiteEventStore(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,)
        )
    with pytest.raises(StoreError, match="written by a newer noaiguard"):
        SQLiteEventStore(str(path))


def test_sqlite_errors_become_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open SQLite store"):
        SQLiteEventStore(str(tmp_path))  # a directory is not a database


def test_postgres_refuses_a_schema_from_a_newer_version() -> None:
    psycopg = pytest.importorskip("psycopg")
    with postgres_schema() as url:
        open_event_store(url).close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "UPDATE meta SET value = %s WHERE key = 'schema_version'",
                (str(SCHEMA_VERSION + 1),),
            )
        with pytest.raises(StoreError, match="written by a newer noaiguard"):
            open_event_store(url)


def test_an_unreachable_postgres_is_a_store_error_naming_it_without_its_password() -> None:
    from .services import free_port

    url = f"postgresql://noaiguard:s3cret@127.0.0.1:{free_port()}/events"
    with pytest.raises(StoreError, match=r"noaiguard:\*\*\*@127\.0\.0\.1") as raised:
        open_event_store(url)
    assert "s3cret" not in str(raised.value)
