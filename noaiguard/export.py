"""``noaiguard events``: the stored events for other tools, as JSON lines or CSV.

Both carry every field of :class:`~noaiguard.events.Event`, with ``time`` in ISO 8601 (UTC) and
``epoch`` in seconds. CSV cells that a spreadsheet would run as a formula (a User-Agent starting
with ``=``) are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable
from typing import Any, TextIO

from .events import Event
from .periods import iso_time

COLUMNS = ("time", "epoch", *(f.name for f in dataclasses.fields(Event) if f.name != "time"))
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _record(event: Event) -> dict[str, Any]:
    fields = dataclasses.asdict(event)
    fields["reasons"] = list(event.reasons)
    fields["time"] = iso_time(event.time)
    return {"time": fields.pop("time"), "epoch": event.time, **fields}


def write_jsonl(events: Iterable[Event], out: TextIO) -> int:
    count = 0
    for event in events:
        out.write(json.dumps(_record(event), ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(events: Iterable[Event], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for event in events:
        record = _record(event)
        record["reasons"] = "; ".join(event.reasons)
        writer.writerow([spreadsheet_safe(record[column]) for column in COLUMNS])
        count += 1
    return count


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: formulas get a leading apostrophe, None is empty."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value
