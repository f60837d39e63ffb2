"""Shared rate counters: one client's traffic seen whole across instances, never waited on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from noaiguard.counters import (
    CounterStore,
    MemoryCounterStore,
    RedisCounterStore,
    SharedCounters,
)

from .services import REDIS_URL, OwnRedis, unavailable


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_store() -> Iterator[tuple[str, str]]:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except (redis.RedisError, OSError) as exc:
        unavailable("Redis at 127.0.0.1:6379", str(exc))
    prefix = f"noaiguard-test:{uuid.uuid4().hex[:12]}"
    yield REDIS_URL, prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture(params=["memory", "redis"])
def counter_store(request: pytest.FixtureRequest) -> Iterator[CounterStore]:
    """Every counter store, for the tests both must pass."""
    if request.param == "memory":
        yield MemoryCounterStore()
        return
    url, prefix = request.getfixturevalue("redis_store")
    yield RedisCounterStore(url, expire_seconds=120, prefix=prefix)


def test_counts_slide_out_of_the_window(counter_store: CounterStore) -> None:
    clock = Clock()
    counters = SharedCounters(
        counter_store, window_seconds=60, bucket_seconds=10, sync_seconds=3600, clock=clock
    )
    for _ in range(5):
        counters.add("198.51.100.7")
    assert counters.total("198.51.100.7") == 5  # before any merge: local counts
    assert counters.sync() and counters.total("198.51.100.7") == 5
    clock.now += 30
    counters.add("198.51.100.7", 2)
    counters.sync()
    assert counters.total("198.51.100.7") == 7
    clock.now += 45  # the first five are now older than the window
    counters.sync()
    assert counters.total("198.51.100.7") == 2 and counters.total("unknown") == 0
    counters.close()


def test_two_instances_see_one_clients_combined_traffic(redis_store: tuple[str, str]) -> None:
    url, prefix = redis_store
    one, two = (
        SharedCounters(RedisCounterStore(url, expire_seconds=120, prefix=prefix), sync_seconds=3600)
        for _ in range(2)
    )
    for _ in range(30):
        one.add("203.0.113.9")
    for _ in range(12):
        two.add("203.0.113.9")
    two.add("198.51.100.1")
    assert one.sync() and two.sync() and one.sync()
    assert one.total("203.0.113.9") == 42 == two.total("203.0.113.9")
    assert one.total("198.51.100.1") == 1
    one.close()
    two.close()


def test_an_unreachable_redis_never_delays_a_request_and_gets_our_counts_back() -> None:
    server = OwnRedis()
    server.start()
    try:
        counters = SharedCounters(
            RedisCounterStore(server.url, expire_seconds=120, timeout=0.5), sync_seconds=0.05
        )
        counters.add("203.0.113.9", 3)
        deadline = time.monotonic() + 5
        while not counters.sync() and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop()
        started = time.perf_counter()
        for _ in range(1000):
            counters.add("203.0.113.9")
            counters.total("203.0.113.9")
        assert time.perf_counter() - started < 0.5  # no call waited for Redis
        time.sleep(0.3)  # failed merges meanwhile, in the background
        assert counters.total("203.0.113.9") == 1003
        server.start()
        deadline = time.monotonic() + 5
        while not counters.sync() and time.monotonic() < deadline:
            time.sleep(0.05)
        # Redis lost its counts when it stopped (it keeps nothing on disk); ours came back.
        assert counters.total("203.0.113.9") == 1000
        counters.close()
    finally:
        server.stop()
