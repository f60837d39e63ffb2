"""Every request counted, by hour x category x action x status class, without an event each.

Reports need shares (how much of the traffic was AI crawlers, how much of it was blocked) but a
site should not have to store a row per visitor. The request path adds one to a counter; about
once a minute the counts are handed to the event sink as :class:`~noaiguard.events.Rollup` rows,
which the store adds to its hourly totals.

This runs on every request, so it takes no lock: each counter is an ``itertools.count``, whose
``next()`` is one atomic step under the GIL, so threads (WSGI) never lose an increment. A
period's counters are retired at its end and read one period later, when no thread can still be
holding one from before the swap.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .events import Rollup

if TYPE_CHECKING:
    from .categories import Category
    from .config import Action

_Counts = dict[tuple["Category | str", "Action | str", int], "itertools.count[int]"]


class Tally:
    """Request counts for the current period, handed over as roll-ups to ``deliver``."""

    def __init__(
        self,
        deliver: Callable[[Sequence[Rollup]], None],
        *,
        clock: Callable[[], float] = time.time,
        period: float = 60.0,
    ) -> None:
        self._deliver = deliver
        self._clock = clock
        self._period = period
        self._swap_lock = threading.Lock()
        self._counts: _Counts = {}
        self._retired: list[tuple[int, _Counts]] = []
        self._hour, self._hand_over_at = self._period_bounds(clock())

    def count(self, category: Category | str, action: Action | str, status: int) -> None:
        """One more request of this kind, now."""
        if self._clock() >= self._hand_over_at:
            self.hand_over()
        key = (category, action, status // 100)
        counter = self._counts.get(key)
        if counter is None:
            counter = self._counts.setdefault(key, itertools.count())
        next(counter)

    def hand_over(self) -> None:
        """Start a new period; deliver the counts of periods retired before the last one."""
        with self._swap_lock:
            now = self._clock()
            if now < self._hand_over_at:
                return  # another thread just did it
            self._retired.append((self._hour, self._counts))
            self._counts = {}
            self._hour, self._hand_over_at = self._period_bounds(now)
            ready, self._retired = self._retired[:-1], self._retired[-1:]
        self._send(ready)

    def flush(self) -> None:
        """Deliver everything counted so far (at shutdown, when no request is running)."""
        with self._swap_lock:
            ready = [*self._retired, (self._hour, self._counts)]
            self._retired, self._counts = [], {}
        self._send(ready)

    def _period_bounds(self, now: float) -> tuple[int, float]:
        """The hour ``now`` is in, and when its period ends (never past the hour's end)."""
        hour = int(now) // 3600 * 3600
        return hour, min(now + self._period, hour + 3600)

    def _send(self, periods: list[tuple[int, _Counts]]) -> None:
        rollups = [
            Rollup(hour, str(category), str(action), status_class, next(counter))
            for hour, counts in periods
            for (category, action, status_class), counter in counts.items()
        ]
        if rollups:
            self._deliver(rollups)
