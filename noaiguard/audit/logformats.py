"""Access-log lines as requests: the combined and common formats of nginx and Apache, and JSON.

``combined`` is nginx's default and Apache's ``LogFormat "%h %l %u %t \\"%r\\" %>s %b
\\"%{Referer}i\\" \\"%{User-agent}i\\"" combined``::

    203.0.113.9 - - [10/Oct/2026:13:55:36 -0700] "GET /a.jpg HTTP/1.1" 200 2326 "-" "Mozilla/5..."

``common`` is the same without the referer and the User-Agent. Anything after the User-Agent (a
quoted X-Forwarded-For, as in the ``main`` format of many nginx packages, a request time) is
allowed; a quoted field right after the User-Agent is read as X-Forwarded-For. Quotes and
backslashes inside quoted fields are escaped by both servers (Apache writes ``\\"``, nginx
``\\x22``), and so are bytes that are not printable ASCII (``\\xHH``); those escapes are undone.

``json`` is one object per line, as nginx writes with ``log_format ... escape=json``. The keys
are nginx's variable names: :data:`JSON_KEYS` lists them. Values may be strings or numbers; ``-``
and empty strings mean absent.

A line is read as Latin-1, as noaiguard reads request headers: every byte is one character, so
no line fails to decode, and a User-Agent is classified from the same characters as when the
live middleware sees it. :func:`parse_line` never raises: a line that is not a request of the
format gives back the reason, one of a few fixed texts, so that bad lines can be counted by kind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

#: The formats :func:`parser` knows; ``auto`` reads each line as JSON when it starts with ``{``,
#: else as combined (a common line is one without the last two fields).
FORMATS = ("auto", "combined", "common", "json")

#: Keys read from a JSON line, by what they give; the first present of each row is used.
JSON_KEYS: dict[str, tuple[str, ...]] = {
    "client address": ("remote_addr",),
    "time": ("time_iso8601", "time_local", "msec"),
    "request line": ("request",),
    "method (without request)": ("request_method",),
    "target (without request)": ("request_uri", "uri"),
    "query (with uri)": ("args", "query_string"),
    "protocol (without request)": ("server_protocol",),
    "status": ("status",),
    "bytes": ("body_bytes_sent", "bytes_sent"),
    "User-Agent": ("http_user_agent",),
    "referer": ("http_referer",),
    "host": ("http_host", "host"),
    "X-Forwarded-For": ("http_x_forwarded_for",),
}

# Reasons a line is not read; fixed texts, so bad lines can be counted by kind.
NOT_A_LOG_LINE = "not a {} log line"
NO_USER_AGENT = "no referer and User-Agent fields (a common-format line?)"
TRUNCATED = "cut short or garbled after the size field"
BAD_TIME = "unreadable or impossible timestamp"
NOT_HTTP = "the request is not HTTP (a probe, a TLS handshake, an empty request)"
NOT_JSON = "not a JSON object"
NO_KEY = "JSON object without {}"
BAD_NUMBER = "status or size is not a number"

#: Timestamps outside these are not read: behaviour counters keep seconds since 1970 in 32 bits.
_EARLIEST, _LATEST = 86400.0, 4_000_000_000.0

_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
# One pattern for both formats. The request line is split by the pattern itself when it is the
# usual ``GET /path?query HTTP/1.1``; anything else (escapes, an absolute URL, garbage) comes
# whole, in the group after, for _request_line.
_CLF = re.compile(
    r"(\S+) \S+ \S+ \[(\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d):(\d\d) ([+-]\d{4})\] "
    r'"(?:([A-Z]+) (/[^\s"\\?]*)(?:\?([^\s"\\]*))? HTTP/(\d(?:\.\d)?)|'
    r'([^"\\]*(?:\\.[^"\\]*)*))" '
    rf"(\d{{3}}) (\d+|-)(?: {_QUOTED} {_QUOTED}(?: {_QUOTED})?)?"
)
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f", "b": "\b"}
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


class Request(NamedTuple):
    """One access-log line: what the live middleware would have known of the request, and what
    the server answered. A named tuple: one is made per line."""

    client_ip: str
    #: Epoch seconds.
    time: float
    method: str
    #: Percent-decoded, without the query, as an ASGI server gives it.
    path: str
    query: str
    http_version: str
    status: int
    bytes_sent: int
    user_agent: str
    referer: str
    host: str
    #: The X-Forwarded-For value logged with the request ("" when none).
    forwarded_for: str


#: A line parser: the request, or the reason the line is not one.
Parser = Callable[[str], "Request | str"]


def parser(format: str) -> Parser:
    """The line parser for ``format`` (one of :data:`FORMATS`)."""
    if format not in FORMATS:
        raise ValueError(f"unknown log format {format!r}; expected one of {', '.join(FORMATS)}")
    if format == "json":
        return _json_line
    return _AutoParser().parse if format == "auto" else _ClfParser(format).parse


def parse_line(line: str, format: str = "auto") -> Request | str:
    """``line`` (without its line break) as a request, or the reason it is not one."""
    return parser(format)(line)


class _ClfParser:
    """Combined and common lines, with the minute of each timestamp cached: a log's lines come
    in time order, so nearly every line hits the cache and its time costs one addition."""

    def __init__(self, format: str) -> None:
        self._user_agent = format != "common"
        self._required = format == "combined"
        self._not_a_line = NOT_A_LOG_LINE.format(format if format != "auto" else "combined")
        self._minutes: dict[str, float] = {}

    def parse(self, line: str) -> Request | str:
        m = _CLF.match(line)
        if m is None:
            return self._not_a_line
        (ip, minute, second, zone, method, path, query, version, request, status, size,
         referer, ua, forwarded) = m.groups()  # fmt: skip
        base = self._minutes.get(minute + zone)
        if base is None:
            base = self._minute(minute, zone)
            if base is None:
                return BAD_TIME
        if self._user_agent:
            if ua is None:
                if self._required:
                    return NO_USER_AGENT
                if line[m.end() :].strip():
                    return TRUNCATED  # a combined line cut short, not a common one
                ua = referer = forwarded = ""
            else:
                if "\\" in ua:
                    ua = unescape(ua)
                if "\\" in referer:
                    referer = unescape(referer)
                if forwarded is None or forwarded == "-":
                    forwarded = ""
                elif "\\" in forwarded:
                    forwarded = unescape(forwarded)
        else:
            ua = referer = forwarded = ""
        if method is None:
            target = _request_line(unescape(request) if "\\" in request else request)
            if target is None:
                return NOT_HTTP
            method, path, query, version = target
        elif "%" in path or not path.isascii():
            path = _decoded(path)
        return Request(
            ip,
            base + int(second),
            method,
            path,
            query or "",
            version,
            int(status),
            0 if size == "-" else int(size),
            "" if ua == "-" else ua,
            "" if referer == "-" else referer,
            "",
            forwarded,
        )

    def _minute(self, minute: str, zone: str) -> float | None:
        """Epoch seconds of ``10/Oct/2026:13:55`` in ``-0700``, cached; None if impossible."""
        month = _MONTHS.get(minute[3:6].title())
        if month is None:
            return None
        try:
            moment = datetime(
                int(minute[7:11]), month, int(minute[:2]), int(minute[12:14]), int(minute[15:17])
            )
        except ValueError:
            return None
        offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * 60
        epoch = moment.replace(tzinfo=UTC).timestamp() - (offset if zone[0] == "+" else -offset)
        if not _EARLIEST <= epoch <= _LATEST:
            return None
        if len(self._minutes) >= 4096:  # a log goes forward: old minutes are not seen again
            self._minutes.clear()
        self._minutes[minute + zone] = epoch
        return epoch


class _AutoParser:
    """JSON lines, and combined or common lines, whichever each line is."""

    def __init__(self) -> None:
        self._clf = _ClfParser("auto").parse

    def parse(self, line: str) -> Request | str:
        return self._clf(line) if line[:1] != "{" else _json_line(line)


def _json_line(line: str) -> Request | str:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return NOT_JSON
    if not isinstance(record, dict):
        return NOT_JSON
    ip = _field(record, JSON_KEYS["client address"])
    if not ip:
        return NO_KEY.format("remote_addr")
    moment = _json_time(record)
    if moment is None:
        return BAD_TIME
    request = _field(record, JSON_KEYS["request line"])
    if not request:
        method = _field(record, JSON_KEYS["method (without request)"])
        target = _field(record, JSON_KEYS["target (without request)"])
        if not method or not target:
            return NO_KEY.format("request, or request_method and request_uri")
        args = _field(record, JSON_KEYS["query (with uri)"])
        if args and "?" not in target:
            target += "?" + args
        protocol = _field(record, JSON_KEYS["protocol (without request)"]) or "HTTP/1.1"
        request = f"{method} {target} {protocol}"
    parts = _request_line(request)
    if parts is None:
        return NOT_HTTP
    status_text = _field(record, JSON_KEYS["status"])
    size_text = _field(record, JSON_KEYS["bytes"]) or "0"
    if not status_text.isdigit() or not size_text.isdigit():
        return BAD_NUMBER
    method, path, query, version = parts
    return Request(
        ip,
        moment,
        method,
        path,
        query,
        version,
        int(status_text),
        int(size_text),
        _field(record, JSON_KEYS["User-Agent"]),
        _field(record, JSON_KEYS["referer"]),
        _field(record, JSON_KEYS["host"]),
        _field(record, JSON_KEYS["X-Forwarded-For"]),
    )


def _field(record: dict[str, Any], keys: tuple[str, ...]) -> str:
    """The first of ``keys`` present in ``record``, as text ("" for absent, ``-`` or null)."""
    for key in keys:
        value = record.get(key)
        if value is None or isinstance(value, dict | list):
            continue
        text = str(value) if not isinstance(value, str) else value
        if text and text != "-":
            return text
    return ""


def _json_time(record: dict[str, Any]) -> float | None:
    """Epoch seconds from ``time_iso8601``, ``time_local`` or ``msec``; None if unreadable."""
    iso, local, msec = (_field(record, (key,)) for key in JSON_KEYS["time"])
    try:
        if iso:
            moment = datetime.fromisoformat(iso)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            epoch = moment.timestamp()
        elif local:
            epoch = datetime.strptime(local, "%d/%b/%Y:%H:%M:%S %z").timestamp()
        elif msec:
            epoch = float(msec)
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return epoch if _EARLIEST <= epoch <= _LATEST else None


def _request_line(request: str) -> tuple[str, str, str, str] | None:
    """(method, path, query, HTTP version) of ``GET /a%20b?c HTTP/1.1``; None if not HTTP."""
    method, _, rest = request.partition(" ")
    target, _, protocol = rest.rpartition(" ")
    if not target or not protocol.startswith("HTTP/") or not method.isupper():
        return None
    if target[0] != "/":
        if "://" not in target:
            return None  # CONNECT host:443, OPTIONS *: no path of the site's
        parts = urlsplit(target)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    path, _, query = target.partition("?")
    return method, _decoded(path), query, protocol[5:]


def _decoded(path: str) -> str:
    """A request path as an ASGI server gives it: percent escapes and raw bytes (Latin-1 here)
    decoded as UTF-8."""
    if not path.isascii():
        path = path.encode("latin-1", "replace").decode("utf-8", "replace")
    return unquote(path, errors="replace") if "%" in path else path


def unescape(text: str) -> str:
    """Undo the escapes nginx and Apache write in quoted fields: ``\\xHH`` is the byte HH (as a
    Latin-1 character), ``\\"`` a quote, ``\\\\`` a backslash, ``\\n`` and friends controls."""

    def one(m: re.Match[str]) -> str:
        escape = m.group(1)
        if len(escape) == 3:
            return chr(int(escape[1:], 16))
        return _SIMPLE_ESCAPES.get(escape, escape)

    return _ESCAPE.sub(one, text)
