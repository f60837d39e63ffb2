"""The event sink: batched writes off the request path, a spill file while the store is away,
nothing lost and nothing counted twice."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from pathlib import Path

import pytest

from noaiguard.backends.memory import MemoryEventStore
from noaiguard.errors import StoreError
from noaiguard.events import Batch, RobotsVersion, Rollup
from noaiguard.sink import EventSink
from tests.records import event


class FlakyStore(MemoryEventStore):
    """A store that fails its first ``failures`` writes, as a database that is restarting would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    def write(self, batch: Batch) -> None:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("database is restarting")
        super().write(batch)


class BlockedStore(MemoryEventStore):
    """A store whose writes wait until released: a stalled disk."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, batch: Batch) -> None:
        self.release.wait(10)
        super().write(batch)


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


def test_a_failing_store_is_retried_and_nothing_waits_or_is_lost(tmp_path: Path) -> None:
    store = FlakyStore(failures=2)
    sink = EventSink(
        lambda: store, flush_seconds=0.01, retry_seconds=0.05, spill_dir=tmp_path / "spill"
    )
    sink.put(event(1))
    assert sink.flush(5)
    assert sink.spilled == 1 and store.count() == 0  # spilled, not waiting in the queue
    # The replay counts an event as written once the store has taken it: wait for the count.
    deadline = time.monotonic() + 5
    while sink.written == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.count() == 1 and sink.written == 1 and sink.dropped == 0
    sink.close()
    assert not list((tmp_path / "spill").glob("*.jsonl"))  # an emptied spill file is removed


def test_a_store_that_cannot_be_opened_is_retried(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    store = MemoryEventStore()
    calls = 0

    def open_store() -> MemoryEventStore:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise StoreError("connection refused")
        return store

    sink = EventSink(open_store, flush_seconds=0.01, retry_seconds=0.01, spill_dir=tmp_path)
    sink.put(event(1))
    deadline = time.monotonic() + 5
    while store.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
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


class DownStore(MemoryEventStore):
    """A store that refuses every write until ``up`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.up = threading.Event()

    def write(self, batch: Batch) -> None:
        if not self.up.is_set():
            raise StoreError("connection refused")
        super().write(batch)


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)
    assert condition(), "timed out"  # type: ignore[operator]


def test_events_spilled_while_the_store_is_down_are_replayed_exactly_once(
    tmp_path: Path,
) -> None:
    store = DownStore()
    sink = EventSink(
        lambda: store, batch_size=7, flush_seconds=0.01, retry_seconds=0.05, spill_dir=tmp_path
    )
    for n in range(100):
        sink.put(event(n))
    assert sink.flush(5)
    assert sink.spilled == 100 and store.count() == 0 and sink.dropped == 0
    store.up.set()
    for n in range(100, 150):
        sink.put(event(n))
    wait_for(lambda: store.count() == 150)
    sink.close()
    assert sorted(e.time for e in store.query()) == [event(n).time for n in range(150)]
    assert sink.written == 150


def test_a_spill_left_by_an_ended_process_is_replayed_by_the_next(tmp_path: Path) -> None:
    down = DownStore()
    first = EventSink(lambda: down, flush_seconds=0.01, retry_seconds=60, spill_dir=tmp_path)
    for n in range(20):
        first.put(event(n))
    first.close()  # shut down while the store was still away: the events wait on disk
    assert first.spilled == 20 and len(list(tmp_path.glob("*.jsonl"))) == 1

    store = MemoryEventStore()
    second = EventSink(lambda: store, flush_seconds=0.01, spill_dir=tmp_path)
    second.start()
    wait_for(lambda: store.count() == 20)
    second.close()
    assert list(store.query()) == [event(n) for n in range(20)]
    assert not list(tmp_path.glob("*.jsonl"))


def test_a_full_spill_drops_events_counted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = EventSink(
        DownStore,
        batch_size=1,
        flush_seconds=0.01,
        retry_seconds=60,
        spill_dir=tmp_path,
        spill_max_bytes=2000,
    )
    for n in range(20):
        sink.put(event(n))
    assert sink.flush(5)
    sink.close()
    assert 0 < sink.spilled < 20 and sink.spilled + sink.dropped == 20
    assert "dropped" in caplog.text and "spill file" in caplog.text


@pytest.mark.parametrize(
    ("mode", "key", "stored"),
    [
        ("full", "", "198.51.100.77"),
        ("truncate", "", "198.51.100.0/24"),
        # An HMAC-SHA256 under the key, computed here on its own: 16 hex digits.
        ("hash", "k", hmac.new(b"k", b"198.51.100.77", hashlib.sha256).hexdigest()[:16]),
    ],
)
def test_addresses_are_made_private_before_the_store_and_the_spill_file_see_them(
    tmp_path: Path, mode: str, key: str, stored: str
) -> None:
    from noaiguard.privacy import anonymizer

    anonymize = anonymizer(mode, key)
    expected = anonymize("198.51.100.77")
    assert expected == stored
    store = DownStore()
    sink = EventSink(
        lambda: store,
        flush_seconds=0.01,
        retry_seconds=0.05,
        spill_dir=tmp_path,
        anonymize=anonymize,
    )
    sink.put(event(1, client_ip="198.51.100.77"))
    assert sink.flush(5)
    spilled = "".join(p.read_text() for p in tmp_path.glob("*.jsonl"))
    assert expected in spilled
    assert mode == "full" or "198.51.100.77" not in spilled
    store.up.set()
    wait_for(lambda: store.count() == 1)
    sink.close()
    (written,) = store.query()
    assert written.client_ip == expected


def test_robots_versions_and_rollups_travel_with_the_events(tmp_path: Path) -> None:
    store = MemoryEventStore()
    sink = EventSink(lambda: store, flush_seconds=10, spill_dir=tmp_path)
    sink.put(RobotsVersion("v1", "User-agent: *\n", 10.0, 10.0))
    sink.put(event(1))
    sink.put(RobotsVersion("v1", "User-agent: *\n", 50.0, 50.0))
    sink.put([Rollup(3600, "browser", "allow", 2, 3)])
    sink.put([Rollup(3600, "browser", "allow", 2, 4), Rollup(3600, "ai-training", "block", 4, 1)])
    sink.close()
    assert store.count() == 1
    assert store.robots_versions() == [RobotsVersion("v1", "User-agent: *\n", 10.0, 50.0)]
    assert store.rollups() == [
        Rollup(3600, "ai-training", "block", 4, 1),
        Rollup(3600, "browser", "allow", 2, 7),
    ]


def test_events_older_than_the_retention_period_are_pruned(tmp_path: Path) -> None:
    store = MemoryEventStore()
    store.append([event(0, time=1000.0), event(1, time=9000.0)])
    sink = EventSink(
        lambda: store,
        flush_seconds=0.01,
        spill_dir=tmp_path,
        retention_seconds=5000,
        clock=lambda: 10000.0,
    )
    sink.put(event(2, time=9500.0))
    wait_for(lambda: [e.time for e in store.query()] == [9000.0, 9500.0])
    sink.close()


class BuggyStore(MemoryEventStore):
    """A store with a bug: its first write raises something that is not a StoreError."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def write(self, batch: Batch) -> None:
        self.calls += 1
        if self.calls == 1:
            raise TypeError("a bug in a store")
        super().write(batch)


def test_a_bug_in_a_store_does_not_stop_the_writer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = BuggyStore()
    sink = EventSink(lambda: store, flush_seconds=0.01, retry_seconds=0.05, spill_dir=tmp_path)
    sink.put(event(1))
    sink.put(event(2))
    assert sink.flush(5)
    wait_for(lambda: store.count() == 2)
    sink.close()
    assert "unexpected error" in caplog.text and sink.dropped == 0
