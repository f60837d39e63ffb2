"""Every request counted, by hour x category x action x status class, without an event each.

Reports need shares (how much of the traffic was AI crawlers, how much of it was blocked) but a
site should not have to store a row per visitor. The request path adds one to a counter in a dict;
about once a minute the counts are handed to the event sink as :class:`~noaiguard.events.Rollup`
rows, which the store adds to its hourly totals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .events import Rollup

if TYPE_CHECKING:
    from .categories import Category
    from .config import Action

_Key = tuple[int, "Category | str", "Action | str", int]


class Tally:
    """Request counts for the current minute, handed over as roll-ups to ``deliver``."""

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
        self._counts: dict[_Key, int] = {}
        # Several threads count under WSGI; the lock is uncontended under asyncio.
        self._lock = threading.Lock()
        self._hand_over_at = clock() + period

    def count(self, category: Category | str, action: Action | str, status: int) -> None:
        """One more request of this kind, now."""
        now = self._clock()
        key = (int(now) // 3600 * 3600, category, action, status // 100)
        with self._lock:
            counts = self._counts
            counts[key] = counts.get(key, 0) + 1
            due = now >= self._hand_over_at
        if due:
            self.hand_over()

    def hand_over(self) -> None:
        """Give the counts so far to the sink and start again from zero."""
        with self._lock:
            counts, self._counts = self._counts, {}
            self._hand_over_at = self._clock() + self._period
        if counts:
            self._deliver(
                [
                    Rollup(hour, str(category), str(action), status_class, count)
                    for (hour, category, action, status_class), count in counts.items()
                ]
            )
