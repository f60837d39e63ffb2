"""Points in time as people type them on a command line: ``2026-11-20``, ``2026-11-20T10:30``,
``2026-11-20T10:30+01:00``, ``now``, or an age such as ``7d``, ``12h``, ``30m`` (that long ago).

A date or time without an offset is UTC, as are all times noaiguard prints.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, now: float | None = None) -> float:
    """Epoch seconds for ``text``; ValueError with the accepted forms when it is none of them."""
    now = time.time() if now is None else now
    value = text.strip()
    if value == "now":
        return now
    age = _AGE.match(value)
    if age:
        return now - float(age[1]) * _SECONDS[age[2]]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time; write a date (2026-11-20), a date and time "
            "(2026-11-20T10:30, UTC unless an offset follows), 'now', or an age (7d, 12h, 30m)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_time(epoch: float, *, seconds: bool = True) -> str:
    """``2026-11-20 10:30:05`` (UTC)."""
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(epoch, UTC).strftime(pattern)


def iso_time(epoch: float) -> str:
    """``2026-11-20T10:30:05.123456+00:00``: for files other programs read."""
    return datetime.fromtimestamp(epoch, UTC).isoformat()
