"""ResponseSignals.head: the headers, the page decision and the length index of one response.

``head`` decides inline what :meth:`ResponseSignals.tags_page` decides (it runs on every
response, and the call cost more than the test), so these tests hold the two to one answer.
"""

from __future__ import annotations

import itertools

import pytest

from noaiguard import parse_config
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.guard import Guard
from noaiguard.signals.response import ResponseSignals, content_length

STATUSES = (200, 206, 304, 404)
METHODS = ("GET", "HEAD", "POST")
TYPES = (b"text/html; charset=utf-8", b"TEXT/HTML", b"text/html; charset=utf-16", b"image/png", b"")
ENCODINGS = (b"", b"identity", b" Identity ", b"gzip")
PATHS = ("/", "/private/page.html")


def signals(config: str = "") -> ResponseSignals:
    return ResponseSignals.of(Guard(parse_config(config), store=MemoryEventStore()))


@pytest.mark.parametrize(
    "config",
    [
        "",
        "signals:\n  html_meta: {exclude_paths: ['/private/**']}\n",
        "signals:\n  html_meta: {enabled: false}\n",
    ],
)
def test_head_decides_a_page_as_tags_page_does(config: str) -> None:
    response = signals(config)
    for status, method, content_type, encoding, path in itertools.product(
        STATUSES, METHODS, TYPES, ENCODINGS, PATHS
    ):
        raw = [(b"content-type", content_type), (b"content-length", b"10")]
        if encoding:
            raw.append((b"content-encoding", encoding))
        _, _, page, _ = response.head(path, method, status, raw)
        expected = response.tags_page(path, method, status, content_type, encoding)
        assert page is expected, (status, method, content_type, encoding, path)


def test_an_excluded_path_is_no_page_to_tag() -> None:
    response = signals("signals:\n  html_meta: {exclude_paths: ['/private/**']}\n")
    raw = [(b"content-type", b"text/html")]
    assert response.head("/", "GET", 200, raw)[2]
    assert not response.head("/private/page.html", "GET", 200, raw)[2]


def test_a_page_comes_with_where_its_length_is() -> None:
    raw = [
        (b"date", b"Mon, 07 Dec 2026 21:00:00 GMT"),
        (b"content-length", b"2048"),
        (b"content-type", b"text/html"),
    ]
    headers, _, page, index = signals().head("/", "GET", 200, raw)
    assert page and headers[index] == (b"content-length", b"2048")
    # Not a page, or no length: -1.
    assert (
        signals().head("/a.png", "GET", 200, [(b"content-type", b"image/png"), *raw[:2]])[3] == -1
    )
    assert signals().head("/", "GET", 200, [(b"content-type", b"text/html")])[2:] == (True, -1)


def test_a_pages_length_is_found_in_pairs_given_as_lists() -> None:
    raw = [[b"content-type", b"text/html"], [b"content-length", b"7"]]
    headers, _, page, index = signals().head("/", "GET", 200, raw)  # type: ignore[arg-type]
    assert page and list(headers[index]) == [b"content-length", b"7"]


def test_only_a_200_responses_size_is_remembered() -> None:
    response = signals()
    response.head("/gone", "GET", 404, [(b"content-length", b"9")])
    response.head("/work.jpg", "GET", 200, [(b"content-length", b"5120")])
    assert response.sizes == {"/work.jpg": b"5120"}


def test_content_length_values_are_the_numbers() -> None:
    assert [content_length(n) for n in (0, 7, 2129, 2129, 10**12)] == [
        b"0",
        b"7",
        b"2129",
        b"2129",
        b"1000000000000",
    ]
