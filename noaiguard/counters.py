"""Rate counters that several noaiguard instances share, without the request path waiting on them.

A rate is a count over a sliding window (say, images fetched by one client in the last 60 s),
kept as fixed buckets (``bucket_seconds`` each) of which the window's last ones are summed.

The request path calls :meth:`SharedCounters.add` (a dict increment) and
:meth:`SharedCounters.total`, which answers from memory: the totals of every instance as of the
last merge, plus what this instance counted since. A background thread merges every
``sync_seconds``: it adds this instance's new counts to the shared store and reads back the
window's totals. With ``memory://`` the shared store is this process; with ``redis://`` it is a
Redis server that every instance points at, so a scraper spread over several instances behind a
load balancer is seen whole. If Redis is unreachable, counts wait locally and are merged when it
returns; requests never notice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol
from urllib.parse import urlsplit

from .errors import StoreError

logger = logging.getLogger("noaiguard.counters")

_Bucketed = dict[tuple[int, str], int]


class CounterStore(Protocol):
    def merge(
        self, deltas: Mapping[tuple[int, str], int], buckets: Sequence[int]
    ) -> dict[str, int]:
        """Add ``deltas`` (per bucket and key), then return each key's sum over ``buckets``.

        The keys returned are those in ``deltas`` and those counted by others in ``buckets``
        that this instance has asked for before (the store may return more). Raises StoreError.
        """

    def close(self) -> None: ...


class MemoryCounterStore:
    """The shared store of a single process."""

    def __init__(self) -> None:
        self._counts: _Bucketed = {}
        self._lock = threading.Lock()

    def merge(
        self, deltas: Mapping[tuple[int, str], int], buckets: Sequence[int]
    ) -> dict[str, int]:
        wanted = set(buckets)
        with self._lock:
            for bucket_key, count in deltas.items():
                self._counts[bucket_key] = self._counts.get(bucket_key, 0) + count
            oldest = min(wanted) if wanted else 0
            self._counts = {k: v for k, v in self._counts.items() if k[0] >= oldest}
            totals: dict[str, int] = {}
            for (bucket, key), count in self._counts.items():
                if bucket in wanted:
                    totals[key] = totals.get(key, 0) + count
        return totals

    def close(self) -> None:
        """Nothing to release."""


class RedisCounterStore:
    """Buckets as Redis hashes (``<prefix>:<bucket>``, field = key), each expiring after
    the window has passed. One pipeline per merge: HINCRBY the deltas, then HGETALL the window."""

    def __init__(
        self,
        url: str,
        *,
        expire_seconds: int,
        timeout: float = 1.0,
        prefix: str = "noaiguard:counts",
    ) -> None:
        try:
            import redis
        except ImportError as exc:
            raise StoreError(
                "Redis counters need redis-py: pip install redis (or the [redis] extra)"
            ) from exc
        self._errors = (redis.RedisError, OSError)
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
        )
        self._expire = expire_seconds
        self._prefix = prefix
        self.name = url.rsplit("@", maxsplit=1)[-1]

    def merge(
        self, deltas: Mapping[tuple[int, str], int], buckets: Sequence[int]
    ) -> dict[str, int]:
        try:
            pipe = self._client.pipeline(transaction=False)
            touched = set()
            for (bucket, key), count in deltas.items():
                pipe.hincrby(f"{self._prefix}:{bucket}", key, count)
                touched.add(bucket)
            for bucket in touched:
                pipe.expire(f"{self._prefix}:{bucket}", self._expire)
            for bucket in buckets:
                pipe.hgetall(f"{self._prefix}:{bucket}")
            replies = pipe.execute()
        except self._errors as exc:
            raise StoreError(f"Redis at {self.name}: {exc}") from exc
        totals: dict[str, int] = {}
        for reply in replies[len(replies) - len(buckets) :]:
            for key, count in reply.items():
                name = key.decode("utf-8", "replace")
                totals[name] = totals.get(name, 0) + int(count)
        return totals

    def close(self) -> None:
        self._client.close()


def open_counter_store(url: str, *, expire_seconds: int) -> CounterStore:
    scheme = urlsplit(url).scheme
    if scheme in ("", "memory"):
        return MemoryCounterStore()
    if scheme in ("redis", "rediss", "unix"):
        return RedisCounterStore(url, expire_seconds=expire_seconds)
    raise StoreError(f"unknown counter store {url!r}; expected memory:// or redis://")


class SharedCounters:
    """Sliding-window counts, local first, merged with the other instances in the background."""

    def __init__(
        self,
        store: CounterStore,
        *,
        window_seconds: int = 60,
        bucket_seconds: int = 10,
        sync_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._bucket_seconds = bucket_seconds
        self._buckets_per_window = max(1, window_seconds // bucket_seconds)
        self._sync_seconds = sync_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._merging = threading.Lock()  # one merge at a time
        self._pending: _Bucketed = {}  # counted here, not yet merged
        self._pending_by_key: dict[str, int] = {}  # the same, summed per key, for total()
        self._in_flight: dict[str, int] = {}  # handed to a merge that has not answered yet
        self._merged: dict[str, int] = {}  # every instance's totals over the window, last merge
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    # -- request path -------------------------------------------------------------------------

    def add(self, key: str, count: int = 1) -> None:
        bucket_key = (int(self._clock()) // self._bucket_seconds, key)
        with self._lock:
            self._pending[bucket_key] = self._pending.get(bucket_key, 0) + count
            self._pending_by_key[key] = self._pending_by_key.get(key, 0) + count
        if self._thread is None:
            self._start()

    def total(self, key: str) -> int:
        """The window's count for ``key`` across instances: last merge plus local news."""
        with self._lock:
            return (
                self._merged.get(key, 0)
                + self._pending_by_key.get(key, 0)
                + self._in_flight.get(key, 0)
            )

    # -- background -----------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="noaiguard-counters", daemon=True
            )
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._sync_seconds):
            self.sync()

    def sync(self) -> bool:
        """Merge now; True if the shared store answered. (The thread calls this every period.)"""
        with self._merging:
            return self._sync()

    def _sync(self) -> bool:
        now_bucket = int(self._clock()) // self._bucket_seconds
        buckets = list(range(now_bucket - self._buckets_per_window + 1, now_bucket + 1))
        with self._lock:
            # The counts being merged still count until the merge answers: a total never drops
            # while one is under way.
            pending, self._pending = self._pending, {}
            self._in_flight, self._pending_by_key = self._pending_by_key, {}
        try:
            merged = self._store.merge(pending, buckets)
        except StoreError as exc:
            with self._lock:  # keep the counts for the next merge (old buckets fall away)
                self._in_flight = {}
                for (bucket, key), count in pending.items():
                    if bucket >= buckets[0]:
                        self._pending[bucket, key] = self._pending.get((bucket, key), 0) + count
                        self._pending_by_key[key] = self._pending_by_key.get(key, 0) + count
            if not self._failing:
                logger.error("shared counters unreachable; counting locally: %s", exc)
                self._failing = True
            return False
        with self._lock:
            self._merged, self._in_flight = merged, {}
        if self._failing:
            logger.warning("shared counters reachable again")
            self._failing = False
        return True

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.sync()
        self._store.close()
