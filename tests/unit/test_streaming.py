"""The send wrapper, driven message by message: nothing buffered, nothing held longer than needed.

ASGITransport buffers whole bodies, so these tests drive the middleware with hand-written ASGI apps
and a recording ``send``, checking what reached the server and when.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from noaiguard import Guard, NoAIGuardMiddleware
from noaiguard._types import Message, Receive, Scope, Send
from tests.conftest import BROWSER_UA

pytestmark = pytest.mark.anyio

TAG = b'<meta name="robots" content="noai, noimageai">'


def scope(path: str = "/", method: str = "GET") -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"example.org"), (b"user-agent", BROWSER_UA.encode())],
        "client": ("203.0.113.5", 1234),
        "server": ("example.org", 80),
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def start(content_type: bytes, length: int | None = None, status: int = 200) -> Message:
    headers = [(b"content-type", content_type)]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http.response.start", "status": status, "headers": headers}


def body(data: bytes, more: bool) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


@pytest.fixture
def middleware(make_guard: Callable[..., Guard]) -> Callable[[object], NoAIGuardMiddleware]:
    def build(app: object) -> NoAIGuardMiddleware:
        return NoAIGuardMiddleware(app, guard=make_guard())  # type: ignore[arg-type]

    return build


async def test_non_html_chunks_are_forwarded_as_they_come(
    middleware: Callable[[object], NoAIGuardMiddleware],
) -> None:
    sent: list[Message] = []
    proceed = anyio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(b"image/png"))
        await send(body(b"chunk-1", True))
        # The server must already have the first chunk before the app sends the second.
        assert [m.get("body") for m in sent[1:]] == [b"chunk-1"]
        proceed.set()
        await send(body(b"chunk-2", False))

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(app)(scope("/img.png"), receive, send)
    assert proceed.is_set()
    assert (b"x-robots-tag", b"noai, noimageai") in sent[0]["headers"]
    assert [m["body"] for m in sent[1:]] == [b"chunk-1", b"chunk-2"]


async def test_streamed_html_is_released_once_the_head_is_found_with_its_length_fixed(
    middleware: Callable[[object], NoAIGuardMiddleware],
) -> None:
    page = [b"<!doctype html><ht", b"ml><head><title>t</ti", b"tle></head><body>", b"rest</body>"]
    total = sum(map(len, page))
    sent: list[Message] = []
    seen_by_server_when_app_sent: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(b"text/html; charset=utf-8", total))
        for index, chunk in enumerate(page):
            await send(body(chunk, index < len(page) - 1))
            seen_by_server_when_app_sent.append(len(sent))

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(app)(scope(), receive, send)
    # Held while looking for <head>; released (start + body) as soon as the head was decided.
    assert seen_by_server_when_app_sent == [0, 0, 2, 3]
    headers = dict(sent[0]["headers"])
    assert int(headers[b"content-length"]) == total + len(TAG)
    out = b"".join(m["body"] for m in sent[1:])
    assert out == b"".join(page).replace(b"<head>", b"<head>" + TAG)
    assert len(out) == int(headers[b"content-length"])
    assert sent[-1]["more_body"] is False


async def test_an_html_fragment_is_passed_on_at_once(
    middleware: Callable[[object], NoAIGuardMiddleware],
) -> None:
    chunk = b"<p>" + b"x" * 4093
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(b"text/html"))
        for _ in range(10):
            await send(body(chunk, True))
        await send(body(b"", False))

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(app)(scope(), receive, send)
    # A fragment: the first element decides at once, nothing is held.
    assert sent[1]["body"] == chunk
    assert b"".join(m["body"] for m in sent[1:]) == chunk * 10


async def test_html_that_never_finds_a_head_is_released_at_the_look_ahead_limit(
    middleware: Callable[[object], NoAIGuardMiddleware],
) -> None:
    chunk = b"x" * 4096
    sent: list[Message] = []
    held: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(b"text/html"))
        await send(body(b"<!doctype html><!-- a comment that never ends ", True))
        for _ in range(10):
            await send(body(chunk, True))
            held.append(len(sent))
        await send(body(b"", False))

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(app)(scope(), receive, send)
    # 16 KiB of look-ahead: released after the fourth chunk, then streamed chunk by chunk.
    assert held == [0, 0, 0, 2, 3, 4, 5, 6, 7, 8]
    assert b"".join(m["body"] for m in sent[1:]).startswith(b"<!doctype html><!-- a comment")


async def test_pathsend_releases_the_held_start_unchanged(
    middleware: Callable[[object], NoAIGuardMiddleware],
) -> None:
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(b"text/html", 1234))
        await send({"type": "http.response.pathsend", "path": "/srv/page.html"})

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(app)(scope(), receive, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
    assert (b"content-length", b"1234") in sent[0]["headers"]
    assert (b"x-robots-tag", b"noai, noimageai") in sent[0]["headers"]


async def test_utf16_html_is_not_touched(
    middleware: Callable[[object], NoAIGuardMiddleware],
) -> None:
    page = "<html><head></head></html>".encode("utf-16")
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(b"text/html; charset=UTF-16", len(page)))
        await send(body(page, False))

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(app)(scope(), receive, send)
    assert sent[1]["body"] == page


async def test_an_app_that_fails_mid_response_still_gets_its_event_recorded(
    make_guard: Callable[..., Guard],
) -> None:
    from noaiguard.backends.memory import MemoryEventStore

    store = MemoryEventStore()
    guard = Guard(make_guard().config, store=store)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(b"image/png"))
        await send(body(b"partial", True))
        raise ConnectionResetError("client went away")

    async def send(message: Message) -> None:
        return None

    request = scope("/img.png")
    request["headers"] = [(b"user-agent", b"python-requests/2.32")]
    with pytest.raises(ConnectionResetError):
        await NoAIGuardMiddleware(app, guard=guard)(request, receive, send)
    guard.close()
    (event,) = store.query()
    assert event.action == "log" and event.status == 200 and event.bytes_sent == len(b"partial")
