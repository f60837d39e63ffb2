"""The HTTP/1.1 server of ``noaiguard serve-auth`` (noaiguard/auth/http.py), over real sockets.

Requests are written as raw bytes, so that keep-alive, pipelining and malformed input are what
the test says, not what a client library makes of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from noaiguard.auth.http import MAX_REQUEST_HEAD, HTTPServer, Request, Response, deferred

pytestmark = pytest.mark.anyio

Handler = Callable[[Request], Response | asyncio.Future[Response]]


def echo(request: Request) -> Response:
    """Answers with what it was asked, so that each answer says which request it is."""
    body = b"%s %s" % (request.method, request.target)
    return Response(200, [(b"content-type", b"text/plain")], body)


@asynccontextmanager
async def serving(handler: Handler = echo, **options: float) -> AsyncIterator[HTTPServer]:
    server = HTTPServer(handler, **options)
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.shutdown(1)


@asynccontextmanager
async def connect(
    server: HTTPServer,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    assert server._server is not None
    port = server._server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One response: status line, headers (lower-case names), body by its Content-Length."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status, *lines = head[:-4].split(b"\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in lines)
    body = await reader.readexactly(int(headers[b"content-length"]))
    return status, headers, body


async def closed(reader: asyncio.StreamReader) -> bool:
    return await asyncio.wait_for(reader.read(), 5) == b""


def get(target: bytes, *extra: bytes, version: bytes = b"1.1") -> bytes:
    return b"GET %s HTTP/%s\r\nHost: x\r\n%s\r\n" % (target, version, b"".join(extra))


async def test_a_connection_stays_open_for_one_request_after_another() -> None:
    async with serving() as server, connect(server) as (reader, writer):
        for n in range(3):
            writer.write(get(b"/%d" % n))
            status, headers, body = await read_response(reader)
            assert status == b"HTTP/1.1 200 OK"
            assert body == b"GET /%d" % n
            assert b"connection" not in headers


async def test_pipelined_answers_keep_the_order_of_their_requests() -> None:
    """An answer that comes later holds back the ones behind it, never overtakes them."""
    release = asyncio.Event()

    async def late(request: Request) -> Response:
        await release.wait()
        return echo(request)

    def handler(request: Request) -> Response | asyncio.Future[Response]:
        return deferred(late(request)) if request.target == b"/slow" else echo(request)

    async with serving(handler) as server, connect(server) as (reader, writer):
        writer.write(get(b"/a") + get(b"/slow") + get(b"/c"))
        assert (await read_response(reader))[2] == b"GET /a"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.2)
        release.set()
        assert (await read_response(reader))[2] == b"GET /slow"
        assert (await read_response(reader))[2] == b"GET /c"


async def test_many_pipelined_slow_answers_all_arrive_in_order() -> None:
    """More waiting answers than one connection holds: reading pauses, then resumes."""

    async def late(request: Request) -> Response:
        await asyncio.sleep(0.001)
        return echo(request)

    def handler(request: Request) -> asyncio.Future[Response]:
        return deferred(late(request))

    async with serving(handler) as server, connect(server) as (reader, writer):
        writer.write(b"".join(get(b"/%d" % n) for n in range(100)))
        for n in range(100):
            assert (await read_response(reader))[2] == b"GET /%d" % n


@pytest.mark.parametrize(
    "garbage",
    [b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nHost x\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n"],
)
async def test_a_malformed_request_gets_400_after_the_answers_before_it(garbage: bytes) -> None:
    async with serving() as server, connect(server) as (reader, writer):
        writer.write(get(b"/fine") + garbage + get(b"/never"))
        assert (await read_response(reader))[2] == b"GET /fine"
        status, headers, _ = await read_response(reader)
        assert status == b"HTTP/1.1 400 Bad Request"
        assert headers[b"connection"] == b"close"
        assert await closed(reader)


async def test_a_head_over_the_limit_gets_431_and_the_connection_closes() -> None:
    async with serving() as server, connect(server) as (reader, writer):
        writer.write(get(b"/", b"X-Big: %s\r\n" % (b"a" * MAX_REQUEST_HEAD)))
        status, _, _ = await read_response(reader)
        assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
        assert await closed(reader)


@pytest.mark.parametrize(
    "request_bytes",
    [get(b"/bye", b"Connection: close\r\n"), get(b"/bye", version=b"1.0")],
    ids=["connection-close", "http-1.0"],
)
async def test_a_client_that_does_not_keep_alive_is_answered_then_closed(
    request_bytes: bytes,
) -> None:
    async with serving() as server, connect(server) as (reader, writer):
        writer.write(request_bytes)
        _, headers, body = await read_response(reader)
        assert body == b"GET /bye"
        assert headers[b"connection"] == b"close"
        assert await closed(reader)


async def test_http_1_0_with_keep_alive_stays_open() -> None:
    async with serving() as server, connect(server) as (reader, writer):
        for _ in range(2):
            writer.write(get(b"/", b"Connection: keep-alive\r\n", version=b"1.0"))
            assert (await read_response(reader))[2] == b"GET /"


async def test_head_gets_the_length_without_the_body() -> None:
    async with serving() as server, connect(server) as (reader, writer):
        writer.write(b"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n" + get(b"/after"))
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"content-length: 7\r\n" in head  # len(b"HEAD /x")
        assert (await read_response(reader))[2] == b"GET /after"


async def test_a_request_body_is_read_and_dropped() -> None:
    async with serving() as server, connect(server) as (reader, writer):
        writer.write(
            b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get(b"/next")
        )
        assert (await read_response(reader))[2] == b"POST /p"
        assert (await read_response(reader))[2] == b"GET /next"


async def test_a_failing_handler_gets_500_and_the_connection_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(request: Request) -> Response:
        raise RuntimeError("boom")

    async with serving(broken) as server, connect(server) as (reader, writer):
        writer.write(get(b"/"))
        assert (await read_response(reader))[0] == b"HTTP/1.1 500 Internal Server Error"
        assert await closed(reader)
    assert "serve-auth failed on a request" in caplog.text


async def test_an_upgrade_is_answered_and_the_connection_closed() -> None:
    async with serving() as server, connect(server) as (reader, writer):
        writer.write(get(b"/ws", b"Connection: Upgrade\r\nUpgrade: websocket\r\n"))
        assert (await read_response(reader))[2] == b"GET /ws"
        assert await closed(reader)


async def test_idle_connections_are_closed() -> None:
    async with serving(idle_seconds=0.1) as server, connect(server) as (reader, writer):
        writer.write(get(b"/"))
        await read_response(reader)
        assert await closed(reader)  # after 0.1 to 0.2 s without a request
        assert not server.connections


async def test_shutdown_lets_a_pending_answer_finish() -> None:
    async def late(request: Request) -> Response:
        await asyncio.sleep(0.2)
        return echo(request)

    server = HTTPServer(lambda request: deferred(late(request)))
    await server.start("127.0.0.1", 0)
    async with connect(server) as (reader, writer), connect(server) as (idle_reader, _):
        writer.write(get(b"/held"))
        await asyncio.sleep(0.05)
        await server.shutdown(5)
        assert (await read_response(reader))[2] == b"GET /held"
        assert await closed(reader)
        assert await closed(idle_reader)


def test_a_header_value_cannot_carry_a_line_break() -> None:
    with pytest.raises(ValueError, match="line break"):
        Response(200, [(b"x-robots-tag", b"noai\r\nSet-Cookie: a=b")])


def test_a_response_is_encoded_once_and_its_length_can_be_declared() -> None:
    response = Response(404, [(b"content-length", b"999")], b"gone")
    assert response.data == b"HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\n\r\ngone"
    assert Response(200, body=b"", length=12).encode(body=False, close=True) == (
        b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\nconnection: close\r\n\r\n"
    )


async def test_nothing_after_a_last_request_is_read() -> None:
    async with serving() as server, connect(server) as (reader, writer):
        writer.write(get(b"/last", b"Connection: close\r\n") + b"GARBAGE\r\n\r\n" + get(b"/more"))
        assert (await read_response(reader))[2] == b"GET /last"
        assert await closed(reader)
