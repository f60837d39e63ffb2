"""The span a report covers, and the one it is compared with.

Periods are in UTC and end exclusive. The defaults are whole calendar units that have ended: the
last full day, the last full ISO week (Monday to Sunday), the last full calendar month. The
period compared against is the one just before, of the same kind (for a month: the previous
calendar month; for a span given by dates: the same length before it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..periods import format_time

DAY = 86400
KINDS = ("day", "week", "month")


@dataclass(frozen=True, slots=True)
class Period:
    since: float
    until: float
    #: What it is, for titles: "week 47 of 2026", "November 2026", "2026-11-23", or the dates.
    label: str
    previous_since: float
    previous_until: float

    @property
    def days(self) -> list[date]:
        """The UTC days the period touches, in order."""
        first = _utc(self.since).date()
        last = _utc(max(self.since, self.until - 1e-6)).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    @property
    def span(self) -> str:
        """``2026-11-16 00:00 to 2026-11-23 00:00 UTC``"""
        return (
            f"{format_time(self.since, seconds=False)} to "
            f"{format_time(self.until, seconds=False)} UTC"
        )

    @classmethod
    def last_full(cls, kind: str, now: float) -> Period:
        """The last whole ``kind`` (day, week or month) that ended at or before ``now``."""
        today = _utc(now).date()
        if kind == "day":
            start = today - timedelta(days=1)
            return cls._of(start, today, start.isoformat(), start - timedelta(days=1))
        if kind == "week":
            this_monday = today - timedelta(days=today.weekday())
            start = this_monday - timedelta(days=7)
            year, week, _ = start.isocalendar()
            return cls._of(start, this_monday, f"week {week} of {year}", start - timedelta(7))
        if kind == "month":
            end = today.replace(day=1)
            start = (end - timedelta(days=1)).replace(day=1)
            before = (start - timedelta(days=1)).replace(day=1)
            return cls._of(start, end, start.strftime("%B %Y"), before)
        raise ValueError(f"unknown period {kind!r}; expected one of {', '.join(KINDS)}")

    @classmethod
    def between(cls, since: float, until: float) -> Period:
        """From ``since`` up to ``until``, compared with as long a span just before it."""
        if until <= since:
            raise ValueError(
                f"the period ends ({format_time(until)}) before it starts ({format_time(since)})"
            )
        label = f"{format_time(since, seconds=False)} to {format_time(until, seconds=False)}"
        return cls(since, until, label, since - (until - since), since)

    @classmethod
    def _of(cls, start: date, end: date, label: str, previous_start: date) -> Period:
        return cls(_epoch(start), _epoch(end), label, _epoch(previous_start), _epoch(start))


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
