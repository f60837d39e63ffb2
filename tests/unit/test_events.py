"""The event sink and the stores behind it: batched writes off the request path, nothing lost."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from noaiguard.backends import open_event_store
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.backends.sqlite import SCHEMA_VERSION, SQLiteEventStore, path_from_url
from noaiguard.errors import StoreError
from noaiguard.events import Event, EventSink


def event(n: int = 0, **changes: object) -> Event:
    fields: dict[str, object] = {
        "time": 1_700_000_000.0 + n,
        "method": "GET",
        "path": f"/img/{n}.png",
        "status": 403,
        "category": "ai-training",
        "action": "block",
        "agent": "GPTBot",
        "reasons": ("User-Agent names GPTBot (ai-training)",),
        "x_robots_tag": "noai, noimageai",
    }
    fields.update(changes)
    return Event(**fields)  # type: ignore[arg-type]


class FlakyStore(MemoryEventStore):
    """A store that fails its first ``failures`` writes, as a database that is restarting would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    def append(self, events: Sequence[Event]) -> None:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("database is restarting")
        super().append(events)


class BlockedStore(MemoryEventStore):
    """A store whose writes wait until released: a stalled disk."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def append(self, events: Sequence[Event]) -> None:
        self.release.wait(10)
        super().append(events)


def test_events_reach_the_store_in_batches() -> None:
    store = MemoryEventStore()
    sink = EventSink(lambda: store, batch_size=50, flush_seconds=0.05)
    for n in range(120):
        sink.put(event(n))
    assert sink.flush(5)
    assert store.count() == 120 and sink.written == 120 and sink.dropped == 0
    sink.close()


def test_close_writes_everything_still_queued() -> None:
    store = MemoryEventStore()
    sink = EventSink(lambda: store, flush_seconds=10)
    for n in range(30):
        sink.put(event(n))
    sink.close()
    assert store.count() == 30


def test_put_never_blocks_and_counts_what_it_had_to_drop(caplog: pytest.LogCaptureFixture) -> None:
    store = BlockedStore()
    sink = EventSink(lambda: store, queue_size=10, batch_size=5, flush_seconds=0.01)
    started = time.perf_counter()
    for n in range(100):
        sink.put(event(n))
    assert time.perf_counter() - started < 0.5
    assert sink.dropped >= 80
    assert "dropped" in caplog.text
    store.release.set()
    sink.close()
    assert store.count() + sink.dropped == 100


def test_a_failing_store_is_retried_until_it_accepts() -> None:
    store = FlakyStore(failures=2)
    sink = EventSink(lambda: store, flush_seconds=0.01, retry_seconds=0.01)
    sink.put(event(1))
    assert sink.flush(5)
    assert store.count() == 1 and store.attempts == 3 and sink.dropped == 0
    sink.close()


def test_a_store_that_cannot_be_opened_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryEventStore()
    calls = 0

    def open_store() -> MemoryEventStore:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise StoreError("connection refused")
        return store

    sink = EventSink(open_store, flush_seconds=0.01, retry_seconds=0.01)
    sink.put(event(1))
    assert sink.flush(5)
    assert store.count() == 1 and calls == 3
    assert "cannot open the event store" in caplog.text
    sink.close()


def test_events_after_close_are_counted_as_dropped() -> None:
    store = MemoryEventStore()
    sink = EventSink(lambda: store)
    sink.put(event(1))
    sink.close()
    sink.put(event(2))
    assert store.count() == 1 and sink.dropped == 1


def test_a_sink_that_never_received_anything_opens_no_store() -> None:
    def never() -> MemoryEventStore:
        raise AssertionError("opened")

    sink = EventSink(never)
    assert sink.flush()
    sink.close()


# -- stores -----------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[MemoryEventStore | SQLiteEventStore]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/events.db"
    opened = open_event_store(url)
    yield opened  # type: ignore[misc]
    opened.close()


def test_stores_round_trip_and_query_by_time(store: MemoryEventStore | SQLiteEventStore) -> None:
    events = [event(n, client_ip="198.51.100.7", user_agent="GPTBot/1.2") for n in range(10)]
    store.append(events[5:])
    store.append(events[:5])
    assert store.count() == 10 and store.check()
    assert list(store.query()) == events
    assert list(store.query(since=events[3].time, until=events[6].time)) == events[3:6]


def test_sqlite_url_forms(tmp_path: Path) -> None:
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
