"""Access-log lines as requests: real nginx and Apache shapes, escapes, JSON, and bad lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noaiguard.audit.logformats import (
    BAD_TIME,
    NO_USER_AGENT,
    NOT_HTTP,
    NOT_JSON,
    TRUNCATED,
    Request,
    parse_line,
)

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
# 2026-10-10 13:55:36 at +0200 is 11:55:36 UTC.
WHEN = datetime(2026, 10, 10, 11, 55, 36, tzinfo=UTC).timestamp()
AT = "192.0.2.1 - - [10/Oct/2026:13:55:36 +0200]"


def request(line: str, format: str = "auto") -> Request:
    parsed = parse_line(line, format)
    assert isinstance(parsed, Request), parsed
    return parsed


def test_an_nginx_combined_line() -> None:
    r = request(
        '203.0.113.9 - - [10/Oct/2026:13:55:36 +0200] "GET /gallery/dawn?page=2 HTTP/1.1" 200 '
        f'5123 "https://www.example.org/" "{FIREFOX}"\n'
    )
    assert r == Request(
        "203.0.113.9", WHEN, "GET", "/gallery/dawn", "page=2", "1.1", 200, 5123, FIREFOX,
        "https://www.example.org/", "", "",
    )  # fmt: skip


def test_apaches_own_example_of_the_common_format() -> None:
    r = request(
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
    )
    assert r.time == datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC).timestamp()
    assert (r.method, r.path, r.http_version, r.status, r.bytes_sent) == (
        "GET", "/apache_pb.gif", "1.0", 200, 2326,
    )  # fmt: skip
    assert r.user_agent == r.referer == ""


def test_the_common_format_ignores_what_follows() -> None:
    line = f'::1 - - [10/Oct/2026:13:55:36 +0200] "GET / HTTP/1.1" 200 5 "-" "{FIREFOX}"'
    assert request(line, "common").user_agent == ""
    assert request(line, "combined").user_agent == FIREFOX


def test_ipv6_dashes_and_an_x_forwarded_for_after_the_user_agent() -> None:
    r = request(
        '2001:db8:85a3::8a2e:370:7334 - - [10/Oct/2026:13:55:36 +0200] "HEAD /a.png HTTP/2.0" '
        '304 - "-" "-" "198.51.100.7, 10.0.0.2" rt=0.002'
    )
    assert r.client_ip == "2001:db8:85a3::8a2e:370:7334"
    assert (r.method, r.status, r.bytes_sent, r.http_version) == ("HEAD", 304, 0, "2.0")
    assert (r.user_agent, r.referer, r.forwarded_for) == ("", "", "198.51.100.7, 10.0.0.2")


def test_escaped_quotes_as_nginx_and_apache_write_them() -> None:
    nginx = request(
        '192.0.2.1 - - [10/Oct/2026:13:55:36 +0200] "GET / HTTP/1.1" 200 1 '
        '"-" "Mozilla/5.0 \\x22quoted\\x22 back\\x5Cslash caf\\xC3\\xA9"'
    )
    assert nginx.user_agent == 'Mozilla/5.0 "quoted" back\\slash caf\xc3\xa9'  # bytes as Latin-1
    apache = request(
        '192.0.2.1 - - [10/Oct/2026:13:55:36 +0200] "GET / HTTP/1.1" 200 1 '
        '"http://a.example/?q=\\"x\\"" "curl \\"7\\" \\\\o/"'
    )
    assert (apache.referer, apache.user_agent) == ('http://a.example/?q="x"', 'curl "7" \\o/')


def test_paths_are_decoded_as_an_asgi_server_decodes_them() -> None:
    encoded = request(
        '192.0.2.1 - - [10/Oct/2026:13:55:36 +0200] "GET /caf%C3%A9%20noir.jpg HTTP/1.1" 200 1'
    )
    assert encoded.path == "/café noir.jpg"
    absolute = request(
        '192.0.2.1 - - [10/Oct/2026:13:55:36 +0200] "GET http://a.example/x/y?z=1 HTTP/1.1" 200 1'
    )
    assert (absolute.path, absolute.query) == ("/x/y", "z=1")
    escaped = request(
        '192.0.2.1 - - [10/Oct/2026:13:55:36 +0200] "GET /\\xC3\\xA9t\\xC3\\xA9 HTTP/1.1" 200 1'
    )
    assert escaped.path == "/été"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('192.0.2.1 - - [10/Oct/2026:13:55:36 +0200] "-" 400 0 "-" "-"', NOT_HTTP),
        (
            '192.0.2.1 - - [10/Oct/2026:13:55:36 +0200] "\\x16\\x03\\x01\\x02\\x00\\x01" 400 157 '
            '"-" "-"',
            NOT_HTTP,
        ),
        (f'{AT} "CONNECT a.example:443 HTTP/1.1" 400 0', NOT_HTTP),
        ('192.0.2.1 - - [31/Feb/2026:13:55:36 +0200] "GET / HTTP/1.1" 200 1', BAD_TIME),
        ('192.0.2.1 - - [10/Foo/2026:13:55:36 +0200] "GET / HTTP/1.1" 200 1', BAD_TIME),
        (f'{AT} "GET / HTTP/1.1" 200 1 "-" "Mozilla/5', TRUNCATED),
        ("\x00\x00\x7fELF\x02\x01\x01", "not a combined log line"),
        ("", "not a combined log line"),
        ('192.0.2.1 - - [10/Oct/2026:13:55:36 +0200] "GET / HTTP/1.1"', "not a combined log line"),
    ],
)  # fmt: skip
def test_lines_that_are_not_requests_say_why(line: str, reason: str) -> None:
    assert parse_line(line) == reason


def test_combined_requires_the_user_agent() -> None:
    line = '192.0.2.1 - - [10/Oct/2026:13:55:36 +0200] "GET / HTTP/1.1" 200 1'
    assert parse_line(line, "combined") == NO_USER_AGENT


def test_nginx_escape_json_lines() -> None:
    line = json.dumps(
        {
            "time_iso8601": "2026-10-10T13:55:36+02:00",
            "remote_addr": "203.0.113.9",
            "request": "GET /a.jpg?x=1 HTTP/2.0",
            "status": "200",
            "body_bytes_sent": "1234",
            "http_referer": "",
            "http_user_agent": FIREFOX,
            "http_host": "www.example.org",
            "http_x_forwarded_for": "-",
        }
    )
    assert request(line, "json") == Request(
        "203.0.113.9", WHEN, "GET", "/a.jpg", "x=1", "2.0", 200, 1234, FIREFOX, "",
        "www.example.org", "",
    )  # fmt: skip
    assert request(line) == request(line, "json")  # auto: JSON when a line starts with {


def test_json_with_method_and_uri_numbers_and_other_times() -> None:
    split = request(
        '{"time_local": "10/Oct/2026:13:55:36 +0200", "remote_addr": "::1", '
        '"request_method": "POST", "uri": "/form", "args": "a=1", "status": 201, '
        '"bytes_sent": 0, "server_protocol": "HTTP/1.0"}',
        "json",
    )
    assert (split.time, split.method, split.path, split.query, split.status) == (
        WHEN, "POST", "/form", "a=1", 201,
    )  # fmt: skip
    assert split.http_version == "1.0"
    epoch = request(
        '{"msec": "1791640536.123", "remote_addr": "::1", "request": "GET / HTTP/1.1", '
        '"status": 200}'
    )
    assert epoch.time == pytest.approx(1791640536.123)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", NOT_JSON),
        ("[1, 2]", "not a JSON object"),
        ('{"remote_addr": "::1", "status": 200, "request": "GET / HTTP/1.1"}', BAD_TIME),
        (
            '{"msec": "1e3", "status": 200, "request": "GET / HTTP/1.1"}',
            "JSON object without remote_addr",
        ),
        (
            '{"msec": "1791640536", "remote_addr": "::1", "status": "OK", '
            '"request": "GET / HTTP/1.1"}',
            "status or size is not a number",
        ),
        ("{" + "[" * 100_000, NOT_JSON),
        ("[" * 100_000, NOT_JSON),
    ],
)
def test_json_lines_that_are_not_requests(line: str, reason: str) -> None:
    assert parse_line(line, "json") == reason


FORMATS = st.sampled_from(["auto", "combined", "common", "json"])


@given(st.text(), FORMATS)
def test_the_parser_never_raises_on_any_text(line: str, format: str) -> None:
    assert isinstance(parse_line(line, format), Request | str)


@given(st.binary(max_size=400), FORMATS)
def test_the_parser_never_raises_on_any_bytes(data: bytes, format: str) -> None:
    assert isinstance(parse_line(data.decode("latin-1"), format), Request | str)


def nginx_escape(text: str) -> str:
    """What nginx writes for a header value: quotes, backslashes and non-ASCII as \\xHH."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else f"\\x{ord(c):02X}" for c in text)


@given(st.text(st.characters(max_codepoint=255)))
def test_any_user_agent_comes_back_from_nginxs_escapes(ua: str) -> None:
    line = (
        '192.0.2.1 - - [10/Oct/2026:13:55:36 +0200] "GET / HTTP/1.1" 200 1 "-" '
        f'"{nginx_escape(ua)}"'
    )
    parsed = request(line, "combined")
    assert parsed.user_agent == ("" if ua == "-" else ua)
