"""Fuzzing NoAIGuardMiddleware end to end with requests the client makes up.

Scopes are generated whole: methods, paths and raw paths, query bytes, header names and values
(crawler and browser User-Agents, forged X-Forwarded-For, junk bytes, repeats), peers and HTTP
versions, against a small app that answers pages, images, plain text and its own robots.txt
(whose body is outside input too). Whatever the request, the middleware answers without raising,
without a 500, without an internal error it swallowed, and with a response start whose header
names and values a server can write: no CR, LF or NUL, a Content-Length that is the body's.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from noaiguard import Guard, NoAIGuardMiddleware, parse_config
from noaiguard._types import Message, Receive, Scope, Send
from tests.conftest import BROWSER_UA, GPTBOT_UA
from tests.unit.test_stamping import image

from .budget import fuzz

BASE = """
store: {url: "memory://"}
agents: {verify_rdns: false}
policy:
  tarpit: {seconds: 0.001}
  rules:
    - {paths: ["/press/**"], action: allow}
    - {paths: ["/private/**"], methods: [POST], action: block}
signals:
  robots_txt: {app_cache_seconds: 0.000001}
"""
#: Every signal on: image stamps, TDMRep metas, Pinterest, per-crawler lines, the trap link.
EVERYTHING = (
    BASE
    + """
  stamp_images: {enabled: true}
  tdmrep: {html_meta: true, rules: [{location: "/press/", reservation: false}]}
  extras: {noml: true, nopin: true, agent_lines: [img2dataset]}
"""
)
CONFIGS = {"default": BASE, "everything": EVERYTHING}

TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9a-z-]+")
PAGE = (
    b'<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>'
    b"<body><p>gallery</p></body></html>"
)


class App:
    """Answers by path; ``robots`` is the body of its own robots.txt, set per example."""

    def __init__(self) -> None:
        self.robots = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope.get("path", "/")
        headers = [(b"x-app", b"1")]
        if path == "/robots.txt":
            status, content_type, body = 200, b"text/plain", self.robots
        elif path.endswith(".png"):
            status, content_type, body = 200, b"image/png", image("png-xmp")
        elif path.endswith(".jpg"):
            status, content_type, body = 200, b"image/jpeg", image("jpeg-exif")
        elif path.startswith("/gone"):
            status, content_type, body = 404, b"text/html", b"<p>not here</p>"
        elif path.startswith("/empty"):
            status, content_type, body = 204, b"", b""
        else:
            status, content_type, body = 200, b"text/html; charset=utf-8", PAGE
            headers.append((b"x-robots-tag", b"noindex"))
        if content_type:
            headers.append((b"content-type", content_type))
        streamed = len(path) % 2 == 1  # some bodies in two messages, without a length
        if not streamed:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if streamed and body:
            await send({"type": "http.response.body", "body": body[:7], "more_body": True})
            body = body[7:]
        await send({"type": "http.response.body", "body": body})


class Swallowed(logging.Handler):
    """Collects the errors noaiguard logs when it lets a request through after failing."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[dict[str, NoAIGuardMiddleware], App, Swallowed]]:
    app = App()
    guards = {name: Guard(parse_config(text)) for name, text in CONFIGS.items()}
    middlewares = {name: NoAIGuardMiddleware(app, guard=g) for name, g in guards.items()}
    swallowed = Swallowed()
    logger = logging.getLogger("noaiguard")
    logger.addHandler(swallowed)
    yield middlewares, app, swallowed
    logger.removeHandler(swallowed)
    for guard in guards.values():
        guard.close()


# -- requests ----------------------------------------------------------------------------------

PATHS = st.one_of(
    st.sampled_from(
        [
            "/",
            "/robots.txt",
            "/.well-known/tdmrep.json",
            "/ai.txt",
            "/all-originals/x",
            "/press/kit.png",
            "/private/a.jpg",
            "/gone",
            "/empty",
            "/a/b.png",
            "/%2e%2e/x",
            "",
        ]
    ),
    st.text(max_size=30),
)
USER_AGENTS = st.one_of(
    st.sampled_from(
        [
            BROWSER_UA.encode(),
            GPTBOT_UA.encode(),
            b"Googlebot/2.1 (+http://www.google.com/bot.html)",
            b"img2dataset",
            b"curl/8.0",
            b"",
        ]
    ),
    st.binary(max_size=60),
)
HEADER_NAMES = st.sampled_from(
    [b"user-agent", b"host", b"x-forwarded-for", b"accept", b"accept-language", b"if-none-match",
     b"range", b"cookie", b"X-Forwarded-For", b"\xff", b""]
)  # fmt: skip


@st.composite
def requests(draw: st.DrawFn) -> Scope:
    path = draw(PATHS)
    headers = [(b"user-agent", draw(USER_AGENTS))] if draw(st.booleans()) else []
    headers += draw(st.lists(st.tuples(HEADER_NAMES, st.binary(max_size=40)), max_size=6))
    if draw(st.booleans()):
        headers.append((b"user-agent", draw(USER_AGENTS)))
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": draw(st.sampled_from(["1.0", "1.1", "2"])),
        "method": draw(st.sampled_from(["GET", "HEAD", "POST", "PUT", "OPTIONS", "get", "X"])),
        "scheme": draw(st.sampled_from(["http", "https"])),
        "path": path,
        "raw_path": draw(st.one_of(st.just(path.encode("utf-8", "replace")), st.binary())),
        "query_string": draw(st.binary(max_size=40)),
        "root_path": "",
        "headers": headers,
        "client": draw(
            st.sampled_from([("203.0.113.5", 1234), ("66.249.66.1", 80), ("::1", 9), None])
        ),
        "server": ("example.org", 80),
    }
    return scope


# -- the property ------------------------------------------------------------------------------


async def call(middleware: NoAIGuardMiddleware, scope: Scope) -> list[Message]:
    sent: list[Message] = []
    request: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:
        if request:
            return request.pop()
        await asyncio.Event().wait()  # the client stays until the answer ends
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    async with asyncio.timeout(10):
        await middleware(scope, receive, send)
    return sent


def check_response(sent: list[Message], method: str) -> None:
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1 and sent[0] is starts[0], [m["type"] for m in sent]
    start = starts[0]
    status = start["status"]
    assert isinstance(status, int) and 100 <= status <= 599 and status != 500
    length = None
    for name, value in start.get("headers", []):
        assert isinstance(name, bytes) and isinstance(value, bytes)
        assert TOKEN.fullmatch(name), name
        assert not re.search(rb"[\r\n\x00]", value), (name, value)
        if name == b"content-length":
            assert length is None, "two Content-Length headers"
            length = int(value)
    bodies = sent[1:]
    assert all(m["type"] == "http.response.body" for m in bodies)
    assert bodies and not bodies[-1].get("more_body", False)
    assert not any(m.get("more_body", False) is False for m in bodies[:-1])
    body = b"".join(m.get("body", b"") for m in bodies)
    if length is not None and method != "HEAD" and status not in (204, 304):
        assert len(body) == length


@fuzz(1000)
@given(scope=requests(), robots=st.binary(max_size=200), config=st.sampled_from(sorted(CONFIGS)))
@example(
    scope={"type": "http", "method": "GET", "path": "/robots.txt", "headers": []},
    robots=b"Allow: /\nUser-agent: *\n",
    config="default",
)
def test_any_request_gets_a_well_formed_answer(
    runner: asyncio.Runner,
    stack: tuple[dict[str, NoAIGuardMiddleware], App, Swallowed],
    scope: Scope,
    robots: bytes,
    config: str,
) -> None:
    middlewares, app, swallowed = stack
    app.robots = robots
    swallowed.records.clear()
    sent = runner.run(call(middlewares[config], scope))
    assert swallowed.records == [], [r.getMessage() for r in swallowed.records]
    check_response(sent, scope.get("method", "GET"))
    if scope.get("path") == "/robots.txt" and scope.get("method", "GET") == "GET":
        body = b"".join(m.get("body", b"") for m in sent[1:])
        assert b"User-agent: GPTBot\n" in body
