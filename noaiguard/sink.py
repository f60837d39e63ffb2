"""The event sink: carries records to the store without touching the request path.

The request path only calls :meth:`EventSink.put` (an event, a robots.txt version served, a
minute's roll-ups), which puts the record on a bounded queue and returns. One writer thread takes
records off in batches and writes each batch to the store in one transaction. The store is opened
on that thread too, so a slow disk or an unreachable database never delays a response.

Nothing is lost silently:

- when the store fails, batches go to a local spill file (:mod:`noaiguard.spill`) and the writer
  tries the store again every ``retry_seconds``; once it answers, the spilled batches are
  replayed (also those a previous process left behind);
- each batch carries an id that stores apply once, so a retried or replayed batch is never
  counted twice;
- only when the queue is full or the spill file is full or unwritable are events dropped, and
  then they are counted in :attr:`EventSink.dropped` and logged.

Client addresses are made private (:mod:`noaiguard.privacy`) here, on the writer thread, before
they reach the store or the spill file.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .backends.base import EventStore
from .errors import StoreError
from .events import Batch, Event, RobotsVersion, Rollup
from .spill import SpillFile, SpillFull

logger = logging.getLogger("noaiguard.store")

_STOP = object()
_DROP_WARNING_INTERVAL = 10.0
_Record = Event | RobotsVersion | Sequence[Rollup]


class EventSink:
    """A bounded queue in front of an :class:`EventStore`, drained by one writer thread."""

    def __init__(
        self,
        open_store: Callable[[], EventStore],
        *,
        queue_size: int = 10000,
        batch_size: int = 500,
        flush_seconds: float = 1.0,
        retry_seconds: float = 1.0,
        spill_dir: str | Path | None = None,
        spill_max_bytes: int = 100 * 1024 * 1024,
        anonymize: Callable[[str | None], str | None] | None = None,
        retention_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._open_store = open_store
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._retry_seconds = retry_seconds
        self._spill = SpillFile(spill_dir, spill_max_bytes) if spill_dir is not None else None
        self._anonymize = anonymize
        self._retention_seconds = retention_seconds
        self._clock = clock
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._last_drop_warning = 0.0
        # Writer thread state.
        self._store: EventStore | None = None
        self._store_down = False
        self._retry_at = 0.0  # monotonic time before which a failed store is not tried again
        self._next_prune = 0.0
        #: Events the store has accepted (directly or replayed from the spill file).
        self.written = 0
        #: Events written to the spill file while the store was unreachable.
        self.spilled = 0
        #: Events lost: queue full, spill full or unwritable, or no spill file configured.
        self.dropped = 0

    @property
    def queued(self) -> int:
        """Records waiting for the writer now (approximate while requests come in)."""
        return self._queue.qsize()

    # -- request side ---------------------------------------------------------------------

    def put(self, record: _Record) -> None:
        """Queue a record for writing; never blocks, never raises."""
        if self._closed:
            self._count_dropped(isinstance(record, Event), "the event sink is closed")
            return
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._count_dropped(isinstance(record, Event), "the event queue is full")

    # -- life cycle -----------------------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name="noaiguard-events", daemon=True)
            self._thread.start()
            atexit.register(self.close)

    def start(self) -> None:
        """Start the writer now (it also starts with the first record): replays old spills."""
        if self._thread is None:
            self._start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued record is written or spilled; True if all were in time."""
        if self._thread is None:
            return True
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (or spill it), stop the writer and close the store."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        atexit.unregister(self.close)
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            logger.error("event queue still full at shutdown")
        thread.join(timeout)

    # -- writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            spill = self._spill
            if spill is not None and spill.orphans():  # left by a process that has ended
                self._replay_spilled()
            while True:
                records, stop = self._next_records()
                if records:
                    self._deliver(self._batch(records))
                for _ in range(len(records) + stop):
                    self._queue.task_done()
                if stop:
                    return
                self._housekeeping()
        finally:
            self._shut_down()

    def _next_records(self) -> tuple[list[_Record], bool]:
        records: list[_Record] = []
        try:
            item = self._queue.get(timeout=self._flush_seconds)
        except queue.Empty:
            return records, False
        while True:
            if item is _STOP:
                return records, True
            records.append(item)  # type: ignore[arg-type]
            if len(records) >= self._batch_size:
                return records, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return records, False

    def _batch(self, records: list[_Record]) -> Batch:
        events: list[Event] = []
        robots: dict[str, RobotsVersion] = {}
        rollups: dict[tuple[int, str, str, int], Rollup] = {}
        anonymize = self._anonymize
        for record in records:
            if isinstance(record, Event):
                if anonymize is not None and record.client_ip is not None:
                    events.append(
                        dataclasses.replace(record, client_ip=anonymize(record.client_ip))
                    )
                else:
                    events.append(record)
            elif isinstance(record, RobotsVersion):
                known = robots.get(record.version)
                robots[record.version] = known.widened(record) if known else record
            else:
                for rollup in record:
                    known_rollup = rollups.get(rollup.key)
                    rollups[rollup.key] = (
                        dataclasses.replace(rollup, count=known_rollup.count + rollup.count)
                        if known_rollup
                        else rollup
                    )
        return Batch.new(events, list(robots.values()), list(rollups.values()))

    def _deliver(self, batch: Batch) -> None:
        store = self._available_store()
        if store is not None:
            try:
                store.write(batch)
            except StoreError as exc:
                self._store_failed(exc)
            except Exception as exc:  # a bug in a store must not stop the writer: spill instead
                logger.exception("the event store raised an unexpected error")
                self._store_failed(StoreError(str(exc)))
            else:
                self._store_recovered()
                self.written += len(batch.events)
                return
        self._spill_batch(batch)

    def _available_store(self) -> EventStore | None:
        """The store, opened if need be, unless it failed less than ``retry_seconds`` ago."""
        if self._store_down and time.monotonic() < self._retry_at:
            return None
        if self._store is None:
            try:
                self._store = self._open_store()
            except StoreError as exc:
                self._store_failed(exc, opening=True)
                return None
            except Exception as exc:
                logger.exception("opening the event store raised an unexpected error")
                self._store_failed(StoreError(str(exc)), opening=True)
                return None
        return self._store

    def _store_failed(self, exc: StoreError, *, opening: bool = False) -> None:
        if not self._store_down:
            what = "cannot open the event store" if opening else "the event store failed"
            logger.error("%s; retrying every %g s: %s", what, self._retry_seconds, exc)
        self._store_down = True
        self._retry_at = time.monotonic() + self._retry_seconds

    def _store_recovered(self) -> None:
        if self._store_down:
            logger.warning("the event store answers again")
            self._store_down = False

    def _spill_batch(self, batch: Batch) -> None:
        if self._spill is None:
            self._count_dropped(len(batch.events), "the event store is unavailable")
            return
        try:
            self._spill.append(batch)
        except (SpillFull, OSError) as exc:
            self._count_dropped(len(batch.events), f"the spill file refused them ({exc})")
            return
        self.spilled += len(batch.events)

    def _housekeeping(self) -> None:
        """Between batches: replay spilled batches once the store answers; prune once a day."""
        spill = self._spill
        if spill is not None and (spill.has_own or spill.orphans()):
            self._replay_spilled()
        if self._retention_seconds and time.monotonic() >= self._next_prune:
            store = self._available_store()
            if store is None:
                return
            self._next_prune = time.monotonic() + 24 * 3600
            try:
                removed = store.prune(self._clock() - self._retention_seconds)
            except StoreError as exc:
                logger.error("pruning old events failed: %s", exc)
                return
            if removed:
                logger.info("pruned %d event(s) older than the retention period", removed)

    def _replay_spilled(self) -> None:
        """Write spilled batches to the store; at the first failure, keep the rest for later."""
        if self._spill is None:
            return
        store = self._available_store()
        if store is None:
            return
        replayed = 0
        try:
            for batch in self._spill.replay():
                store.write(batch)
                replayed += len(batch.events)
        except StoreError as exc:
            self._store_failed(exc)
        except Exception as exc:
            logger.exception("the event store raised an unexpected error during a replay")
            self._store_failed(StoreError(str(exc)))
        else:
            self._store_recovered()
        self.written += replayed
        if replayed:
            logger.warning("replayed %d spilled event(s) into the store", replayed)

    def _shut_down(self) -> None:
        if self._spill is not None:
            self._spill.close()
        if self._store is not None:
            try:
                self._store.close()
            except StoreError:
                logger.exception("closing the event store failed")

    def _count_dropped(self, count: int, why: str) -> None:
        if not count:
            return
        self.dropped += count
        now = time.monotonic()
        if now - self._last_drop_warning >= _DROP_WARNING_INTERVAL:
            self._last_drop_warning = now
            logger.warning("%d event(s) dropped (%d in all): %s", count, self.dropped, why)
