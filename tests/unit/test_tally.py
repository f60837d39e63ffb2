"""Hourly roll-ups counted on the request path, and what a stored address becomes."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from noaiguard.events import Rollup
from noaiguard.privacy import anonymizer, truncate
from noaiguard.tally import Tally


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_counts_are_delivered_by_hour_and_status_class_a_period_after_it_ends() -> None:
    delivered: list[Rollup] = []
    clock = Clock(7200.0 + 3590)
    tally = Tally(delivered.extend, clock=clock, period=60)
    tally.count("browser", "allow", 200)
    tally.count("browser", "allow", 304)
    tally.count("browser", "allow", 404)
    clock.now += 20  # the next hour begins: a period never spans two hours
    tally.count("browser", "allow", 200)
    assert delivered == []  # the first period is retired, and read one period later
    clock.now += 60
    tally.count("ai-training", "block", 403)
    assert sorted(delivered, key=lambda r: r.key) == [
        Rollup(7200, "browser", "allow", 2, 1),
        Rollup(7200, "browser", "allow", 3, 1),
        Rollup(7200, "browser", "allow", 4, 1),
    ]
    tally.flush()
    assert sorted(delivered[3:], key=lambda r: r.key) == [
        Rollup(10800, "ai-training", "block", 4, 1),
        Rollup(10800, "browser", "allow", 2, 1),
    ]


def test_no_count_is_lost_between_threads() -> None:
    delivered: list[Rollup] = []

    def deliver(rollups: Sequence[Rollup]) -> None:
        delivered.extend(rollups)

    tally = Tally(deliver, period=0.001)

    def work() -> None:
        for _ in range(5000):
            tally.count("browser", "allow", 200)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.flush()
    assert sum(r.count for r in delivered) == 20000


@pytest.mark.parametrize(
    ("address", "stored"),
    [
        ("198.51.100.77", "198.51.100.0/24"),
        ("2001:db8:1:2::5", "2001:db8:1::/48"),
        ("::ffff:203.0.113.9", "203.0.113.0/24"),
        ("not an address", "invalid"),
    ],
)
def test_truncation_keeps_the_network_only(address: str, stored: str) -> None:
    assert truncate(address) == stored


def test_hashing_is_stable_per_key_and_needs_one() -> None:
    first, second = anonymizer("hash", "key-1"), anonymizer("hash", "key-2")
    assert first("198.51.100.77") == first("198.51.100.77") != second("198.51.100.77")
    assert first(None) is None
    with pytest.raises(ValueError, match="secret key"):
        anonymizer("hash", "")
    assert anonymizer("full")("198.51.100.77") == "198.51.100.77"
