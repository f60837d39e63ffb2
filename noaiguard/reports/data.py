"""The report for other programs: JSON (the whole report, with a format version) and CSV (the
per-agent table, for a spreadsheet).

The JSON layout is documented in ``docs/report-format.md``. Times are ISO 8601 in UTC; every
field of :class:`~noaiguard.reports.model.Report` is there under its own name.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from typing import Any

from ..export import spreadsheet_safe
from ..periods import iso_time
from .model import Report

#: Fields that hold epoch seconds; they are written as ISO 8601 times.
_TIMES = frozenset(
    {
        "generated",
        "since",
        "until",
        "previous_since",
        "previous_until",
        "first",
        "last",
        "first_seen",
        "last_seen",
        "first_served",
        "last_served",
    }
)

CSV_COLUMNS = (
    "agent",
    "operator",
    "category",
    "requests",
    "refused",
    "logged",
    "bytes_withheld",
    "first_seen",
    "last_seen",
    "previous_requests",
    "new",
)


def render_json(report: Report) -> str:
    return json.dumps(_plain(report), indent=2, ensure_ascii=False) + "\n"


def render_csv(report: Report) -> str:
    """One row per agent (known agents only; spoofed claims are in the JSON and HTML)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.agents:
        values = _plain(row)
        writer.writerow([spreadsheet_safe(values[column]) for column in CSV_COLUMNS])
    return out.getvalue()


def _plain(value: Any, name: str = "") -> Any:
    """``value`` as JSON types: dataclasses as objects, tuples as lists, epoch times as ISO."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if name in _TIMES and isinstance(value, int | float):
        return iso_time(value)
    return value
