"""Events, and the sink that carries them to the store without touching the request path.

The request path only calls :meth:`EventSink.put`, which puts the event on a bounded queue and
returns; a writer thread takes events off in batches and appends them to the store. The store is
opened on that thread too, so a slow disk or an unreachable database never delays a response.

Nothing is lost silently: a batch that fails to write is retried; when the queue is full (the store
has been down for a while), new events are counted in :attr:`EventSink.dropped` and a warning is
logged.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .backends.base import EventStore
from .errors import StoreError

logger = logging.getLogger("noaiguard.store")


@dataclass(frozen=True, slots=True)
class Event:
    """One decision worth keeping: who came, what they asked for, what they were served."""

    time: float
    method: str
    path: str
    status: int
    category: str
    action: str
    client_ip: str | None = None
    host: str = ""
    bytes_sent: int = 0
    user_agent: str = ""
    agent: str | None = None
    #: False when the action was only recorded (monitor mode), not carried out.
    enforced: bool = True
    rule: str = ""
    reasons: tuple[str, ...] = ()
    #: The X-Robots-Tag value the response carried: evidence the opt-out was served.
    x_robots_tag: str = ""


_STOP = object()
_DROP_WARNING_INTERVAL = 10.0


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
    ) -> None:
        self._open_store = open_store
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._retry_seconds = retry_seconds
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._last_drop_warning = 0.0
        #: Events the store has accepted.
        self.written = 0
        #: Events lost because the queue was full or the store never came back; always logged.
        self.dropped = 0

    # -- request side ---------------------------------------------------------------------

    def put(self, event: Event) -> None:
        """Queue ``event`` for writing; never blocks, never raises."""
        if self._closed:
            self._count_dropped(1, "the event sink is closed")
            return
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._count_dropped(1, "the event queue is full")

    # -- life cycle -----------------------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name="noaiguard-events", daemon=True)
            self._thread.start()
            atexit.register(self.close)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event is written (or ``timeout`` passes); True if all were."""
        if self._thread is None:
            return True
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, stop the writer and close the store."""
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
        store = self._open_with_retry()
        try:
            while True:
                batch, stop = self._next_batch()
                if batch:
                    self._write(store, batch, final=stop)
                for _ in range(len(batch) + stop):
                    self._queue.task_done()
                if stop:
                    return
        finally:
            if store is not None:
                try:
                    store.close()
                except StoreError:
                    logger.exception("closing the event store failed")

    def _open_with_retry(self) -> EventStore | None:
        while True:
            try:
                return self._open_store()
            except StoreError as exc:
                logger.error("cannot open the event store, retrying: %s", exc)
            if self._stopping():
                return None
            time.sleep(self._retry_seconds)

    def _stopping(self) -> bool:
        with self._start_lock:
            return self._closed

    def _next_batch(self) -> tuple[list[Event], bool]:
        batch: list[Event] = []
        try:
            item = self._queue.get(timeout=self._flush_seconds)
        except queue.Empty:
            return batch, False
        while True:
            if item is _STOP:
                return batch, True
            batch.append(item)  # type: ignore[arg-type]
            if len(batch) >= self._batch_size:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False

    def _write(self, store: EventStore | None, batch: Sequence[Event], *, final: bool) -> None:
        while store is not None:
            try:
                store.append(batch)
            except StoreError as exc:
                if final or self._stopping():
                    logger.error("event store failed at shutdown: %s", exc)
                    break
                logger.warning("event store write failed, retrying: %s", exc)
                time.sleep(self._retry_seconds)
                continue
            self.written += len(batch)
            return
        self._count_dropped(len(batch), "the event store is unavailable")

    def _count_dropped(self, count: int, why: str) -> None:
        self.dropped += count
        now = time.monotonic()
        if now - self._last_drop_warning >= _DROP_WARNING_INTERVAL:
            self._last_drop_warning = now
            logger.warning("%d event(s) dropped (%d in all): %s", count, self.dropped, why)
