"""Fuzzing the access-log parser: log lines carry whatever clients sent, escaped by the server.

Requests are generated whole (address, time in any zone, method, a percent-encoded path and
query, status, size, and User-Agent, referer and X-Forwarded-For of any Latin-1 text), written
as nginx and Apache write them (combined with each server's escapes, and nginx's JSON), and read
back: every field must come back as it went in. Lines cut short or with junk spliced in must
give a request or one of the fixed reasons, never an exception, and a parser that has seen other
lines must read a line as a fresh one does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from noaiguard.audit import logformats
from noaiguard.audit.logformats import Request, parse_line, parser

from .budget import fuzz

#: Every reason a line may be refused with.
REASONS = {logformats.NOT_A_LOG_LINE.format(name) for name in ("combined", "common", "json")} | {
    logformats.NO_USER_AGENT,
    logformats.TRUNCATED,
    logformats.BAD_TIME,
    logformats.NOT_HTTP,
    logformats.NOT_JSON,
    logformats.BAD_NUMBER,
    logformats.NO_KEY.format("remote_addr"),
    logformats.NO_KEY.format("request, or request_method and request_uri"),
}
LATIN_1 = st.text(st.characters(max_codepoint=255), max_size=40)


class Sent(NamedTuple):
    ip: str
    moment: datetime
    method: str
    path: str
    query: str
    status: int
    size: int
    user_agent: str
    referer: str
    forwarded_for: str


sent_requests = st.builds(
    Sent,
    ip=st.ip_addresses().map(str),
    moment=st.datetimes(datetime(1971, 1, 1), datetime(2096, 1, 1)).map(
        lambda moment: moment.replace(microsecond=0)
    ),
    method=st.sampled_from(["GET", "HEAD", "POST", "PROPFIND"]),
    path=st.text(max_size=20).map(lambda text: "/" + text),
    query=st.text(max_size=10),
    status=st.integers(100, 599),
    size=st.integers(0, 10**12),
    user_agent=LATIN_1,
    referer=LATIN_1,
    forwarded_for=LATIN_1,
)
zones = st.integers(-12 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))


def nginx(text: str) -> str:
    """nginx's escape of a logged value: quotes, backslashes, controls and non-ASCII as \\xHH."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else f"\\x{ord(c):02X}" for c in text)


def apache(text: str) -> str:
    """Apache's: `\\"` and `\\\\`, whitespace as \\n and friends, other non-printables \\xhh."""
    simple = {
        '"': '\\"',
        "\\": "\\\\",
        "\n": "\\n",
        "\t": "\\t",
        "\r": "\\r",
        "\v": "\\v",
        "\f": "\\f",
    }
    return "".join(simple.get(c) or (c if " " <= c <= "~" else f"\\x{ord(c):02x}") for c in text)


def target(sent: Sent) -> str:
    encoded = quote(sent.path, safe="/")
    return encoded + ("?" + quote(sent.query, safe="=&") if sent.query else "")


def combined(sent: Sent, zone: timezone, escape: object) -> str:
    assert callable(escape)
    local = sent.moment.replace(tzinfo=UTC).astimezone(zone)
    stamp = local.strftime("%d/%b/%Y:%H:%M:%S %z")
    fields = [escape(value) or "-" for value in (sent.referer, sent.user_agent)]
    line = (
        f'{sent.ip} - - [{stamp}] "{sent.method} {target(sent)} HTTP/1.1" {sent.status} '
        f'{sent.size} "{fields[0]}" "{fields[1]}"'
    )
    if sent.forwarded_for:
        line += f' "{escape(sent.forwarded_for)}"'
    return line


def nginx_json(sent: Sent) -> str:
    return json.dumps(
        {
            "remote_addr": sent.ip,
            "time_iso8601": sent.moment.replace(tzinfo=UTC).isoformat(),
            "request": f"{sent.method} {target(sent)} HTTP/1.1",
            "status": str(sent.status),
            "body_bytes_sent": sent.size,
            "http_user_agent": sent.user_agent,
            "http_referer": sent.referer,
            "http_x_forwarded_for": sent.forwarded_for,
        }
    )


def check_read(read: Request | str, sent: Sent, *, escaped_forwarded_for: bool = False) -> None:
    assert isinstance(read, Request), read
    assert read.client_ip == sent.ip
    assert read.time == sent.moment.replace(tzinfo=UTC).timestamp()
    assert (read.method, read.path) == (sent.method, sent.path)
    assert read.query == (quote(sent.query, safe="=&") if sent.query else "")
    assert (read.status, read.bytes_sent, read.http_version) == (sent.status, sent.size, "1.1")
    assert read.user_agent == ("" if sent.user_agent == "-" else sent.user_agent)
    assert read.referer == ("" if sent.referer == "-" else sent.referer)
    if not escaped_forwarded_for:  # see test_an_escaped_x_forwarded_for_is_unescaped
        assert read.forwarded_for == ("" if sent.forwarded_for == "-" else sent.forwarded_for)


@fuzz(300)
@given(sent=sent_requests, zone=zones, server=st.sampled_from(["nginx", "apache"]))
def test_a_combined_line_reads_back_as_written(sent: Sent, zone: timezone, server: str) -> None:
    escape = nginx if server == "nginx" else apache
    line = combined(sent, zone, escape)
    escaped = escape(sent.forwarded_for) != sent.forwarded_for
    for format in ("combined", "auto"):
        check_read(parse_line(line, format), sent, escaped_forwarded_for=escaped)


def test_an_escaped_x_forwarded_for_is_unescaped() -> None:
    line = '192.0.2.1 - - [10/Oct/2026:13:55:36 +0200] "GET / HTTP/1.1" 200 1 "-" "ua" "\\x1F"'
    read = parse_line(line, "combined")
    assert isinstance(read, Request)
    assert read.forwarded_for == "\x1f"


@fuzz(200)
@given(sent=sent_requests)
def test_a_json_line_reads_back_as_written(sent: Sent) -> None:
    line = nginx_json(sent)
    for format in ("json", "auto"):
        check_read(parse_line(line, format), sent)


@st.composite
def damaged_lines(draw: st.DrawFn) -> str:
    sent = draw(sent_requests)
    line = draw(
        st.sampled_from([combined(sent, UTC, nginx), combined(sent, UTC, apache), nginx_json(sent)])
    )
    if draw(st.booleans()):
        line = line[: draw(st.integers(0, len(line)))]
    junk = st.one_of(
        st.sampled_from(['"', "\\", "[", "]", " ", "-", "{", "}", "\\x", "\x00", "99", ":"]),
        LATIN_1,
    )
    for position, piece in draw(st.lists(st.tuples(st.integers(0), junk), max_size=3)):
        at = position % (len(line) + 1)
        line = line[:at] + piece + line[at:]
    return line


@fuzz(400)
@given(
    lines=st.lists(damaged_lines(), min_size=1, max_size=5),
    format=st.sampled_from(logformats.FORMATS),
)
def test_damaged_lines_give_a_request_or_a_reason(lines: list[str], format: str) -> None:
    used = parser(format)
    for line in lines:
        read = used(line)
        assert read == parse_line(line, format)  # the minute cache changes nothing
        if isinstance(read, str):
            assert read in REASONS, read
        else:
            assert read.path.startswith("/") and read.method.isupper()
            assert 86400 <= read.time <= 4_000_000_000 and read.bytes_sent >= 0
