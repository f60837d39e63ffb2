"""Hostile clients and a hostile upstream against the real proxy on 127.0.0.1: each gets a clean
4xx/5xx or a closed connection, the proxy stays up, and other clients keep being served while it
happens."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager

import httpx
import pytest

from tests.conftest import BROWSER_UA
from tests.proxy.conftest import Proxy, ProxyFactory, Site
from tests.proxy.test_security import raw_request, status_of, still_serving

pytestmark = [pytest.mark.anyio, pytest.mark.server]

QUICK = "proxy:\n  timeouts:\n    client_header: 1\n    client_body: 1\n    read: 2\n"


@asynccontextmanager
async def connection(url: str) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        yield reader, writer
    finally:
        writer.close()


async def trickle(
    writer: asyncio.StreamWriter, reader: asyncio.StreamReader
) -> tuple[bytes, float]:
    """Send a header line every 0.2 s until the server answers or closes; what it said, when."""
    started = time.monotonic()
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: " + BROWSER_UA.encode() + b"\r\n")
    for n in range(100):
        try:
            answer = await asyncio.wait_for(reader.read(65536), 0.2)
        except TimeoutError:
            writer.write(b"X-Slow-%d: %d\r\n" % (n, n))
            continue
        return answer, time.monotonic() - started
    raise AssertionError("the server let a slow-loris client trickle headers for 20 s")


async def test_slow_loris_headers_get_408_while_others_are_served(
    site: Site, start_proxy: ProxyFactory
) -> None:
    async with start_proxy(site.url, QUICK) as proxy:
        async with connection(proxy.url) as (reader, writer):
            slow = asyncio.ensure_future(trickle(writer, reader))
            async with httpx.AsyncClient(headers={"user-agent": BROWSER_UA}) as http:
                while not slow.done():  # served all along
                    assert (await http.get(f"{proxy.url}/")).status_code == 200
                    await asyncio.sleep(0.1)
            answer, seconds = await slow
        assert status_of(answer) == 408 and b"connection: close" in answer
        assert 0.9 < seconds < 2.5  # one second, however slowly the header bytes kept coming
        await still_serving(proxy)


async def test_many_slow_loris_connections_do_not_starve_anyone(
    site: Site, start_proxy: ProxyFactory
) -> None:
    async with start_proxy(site.url, QUICK) as proxy:
        opened = [await asyncio.open_connection(*proxy.url[7:].split(":")) for _ in range(200)]
        for _, writer in opened:
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the end of the head
        async with httpx.AsyncClient(headers={"user-agent": BROWSER_UA}) as http:
            started = time.monotonic()
            assert (await http.get(f"{proxy.url}/")).status_code == 200
            assert time.monotonic() - started < 0.5
        answers = await asyncio.gather(*(reader.read(4096) for reader, _ in opened))
        assert {status_of(answer) for answer in answers} == {408}
        for _, writer in opened:
            writer.close()


async def test_a_connection_that_never_speaks_is_closed_without_an_answer(
    site: Site, start_proxy: ProxyFactory
) -> None:
    async with start_proxy(site.url, QUICK) as proxy, connection(proxy.url) as (reader, _):
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert time.monotonic() - started < 2.5


async def test_a_stalled_body_gets_408_and_the_site_sees_no_whole_upload(
    site: Site, start_proxy: ProxyFactory
) -> None:
    async with start_proxy(site.url, QUICK) as proxy, connection(proxy.url) as (reader, writer):
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nUser-Agent: " + BROWSER_UA.encode() + b"\r\n"
            b"Content-Length: 100000\r\n\r\n" + b"a" * 1000
        )
        started = time.monotonic()
        answer = await asyncio.wait_for(reader.read(65536), 5)
        assert status_of(answer) == 408
        assert time.monotonic() - started < 2.5
        await still_serving(proxy)
    assert all(upload["size"] == 100000 for upload in site.state.uploads)


async def test_a_slow_but_steady_body_is_not_cut_off(site: Site, start_proxy: ProxyFactory) -> None:
    async with start_proxy(site.url, QUICK) as proxy, connection(proxy.url) as (reader, writer):
        writer.write(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nUser-Agent: " + BROWSER_UA.encode() + b"\r\n"
            b"Content-Length: 2000\r\n\r\n"
        )
        for _ in range(10):  # 2.5 s in all, longer than client_body, never idle that long
            writer.write(b"b" * 200)
            await asyncio.sleep(0.25)
        answer = await asyncio.wait_for(reader.read(65536), 5)
    assert status_of(answer) == 200 and b'"size":2000' in answer


async def test_thousands_of_headers(proxy: Proxy, site: Site) -> None:
    many = b"".join(b"X-H%d: v\r\n" % n for n in range(4000))  # ~45 KB: under the head limit
    answer = await raw_request(
        proxy.url, b"GET /echo/many HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"
    )
    assert status_of(answer) == 200
    too_many = b"".join(b"X-H%d: v\r\n" % n for n in range(8000))  # ~95 KB
    answer = await raw_request(
        proxy.url, b"GET /echo/more HTTP/1.1\r\nHost: x\r\n" + too_many + b"\r\n"
    )
    assert answer == b"" or status_of(answer) == 400
    assert "/echo/more" not in site.state.paths
    await still_serving(proxy)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /\xff\xfe/x HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /a%00b?q=%ff%00\xff HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /echo/x?\xc3\x28=\xa0\xa1 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: \xff\xfeGPTBot\xc0\xaf\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla\x00GPTBot\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: \xff\x00\r\nX-Forwarded-For: \xff, ::::, 1.2.3.4.5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: " + b"A" * 60_000 + b"\r\n\r\n",
    ],
    ids=[
        "utf8-path",
        "nul-path",
        "nul-encoded-query",
        "utf8-query",
        "utf8-ua",
        "nul-ua",
        "junk-host-and-xff",
        "60k-ua",
    ],
)
async def test_invalid_bytes_never_crash_the_proxy(proxy: Proxy, request_bytes: bytes) -> None:
    answer = await raw_request(proxy.url, request_bytes, timeout=5)
    assert answer == b"" or status_of(answer) < 500
    await still_serving(proxy)


SMUGGLED = b"GET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize(
    "head",
    [
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n",
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 60\r\n",
        b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n",
        b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n",
        b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n",
        b"POST /upload HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n",
    ],
    ids=["cl-te", "te-cl", "two-cl", "xchunked", "space-before-colon", "te-list", "http10"],
)
async def test_request_smuggling_never_reaches_the_site(
    proxy: Proxy, site: Site, head: bytes
) -> None:
    answer = await raw_request(proxy.url, head + b"\r\n0\r\n\r\n" + SMUGGLED, timeout=3)
    assert answer == b"" or status_of(answer) < 500
    await still_serving(proxy)
    assert "/echo/smuggled" not in site.state.paths


@contextmanager
def raw_upstream(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """An upstream that hands each connection it accepts to ``handle``, on a thread."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.settimeout(2)
            try:
                handle(conn)
            except OSError:
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        server.close()


def resetting_upstream(*, after_request: bool) -> AbstractContextManager[str]:
    """An upstream that resets every connection (RST, not FIN): at once, or after the request."""

    def reset(conn: socket.socket) -> None:
        if after_request:
            conn.recv(65536)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return raw_upstream(reset)


def garbage_upstream(reply: bytes) -> AbstractContextManager[str]:
    """An upstream that answers every request with ``reply`` and closes."""

    def answer(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(reply)

    return raw_upstream(answer)


@pytest.mark.parametrize("after_request", [False, True], ids=["on-accept", "after-request"])
async def test_an_upstream_that_resets_connections_gives_502(
    start_proxy: ProxyFactory, after_request: bool
) -> None:
    with resetting_upstream(after_request=after_request) as upstream:
        async with start_proxy(upstream) as proxy:
            async with httpx.AsyncClient(headers={"user-agent": BROWSER_UA}) as http:
                for _ in range(5):
                    assert (await http.get(f"{proxy.url}/x")).status_code == 502
            assert [event.kind for event in proxy.events()].count("upstream-error") == 5


@pytest.mark.parametrize(
    "reply",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n0123456789",
        b"HTTP/1.1 200 OK\r\nX-Bad\x00Header: v\r\n\r\n",
        b"HTTP/1.1 999999 Huge\r\nContent-Length: 0\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS server hello's first bytes
    ],
    ids=["not-http", "two-lengths", "nul-header", "bad-status", "tls"],
)
async def test_an_upstream_that_speaks_garbage_gives_502(
    start_proxy: ProxyFactory, reply: bytes
) -> None:
    with garbage_upstream(reply) as upstream:
        async with start_proxy(upstream) as proxy:
            async with httpx.AsyncClient(headers={"user-agent": BROWSER_UA}) as http:
                response = await http.get(f"{proxy.url}/x")
            assert response.status_code == 502


async def test_a_never_ending_upstream_response_is_bounded_by_the_client(
    site: Site, start_proxy: ProxyFactory
) -> None:
    """A client reading slowly from an endless response holds the upstream back (flow control),
    rather than the proxy buffering what the upstream produces."""
    async with start_proxy(site.url) as proxy, connection(proxy.url) as (reader, writer):
        writer.write(
            b"GET /forever HTTP/1.1\r\nHost: x\r\nUser-Agent: " + BROWSER_UA.encode() + b"\r\n\r\n"
        )
        await reader.read(65536)
        await asyncio.sleep(1.0)  # the client stops reading; buffers fill up and stop the upstream
        produced = site.state.streamed
        await asyncio.sleep(1.0)
        assert site.state.streamed == produced  # nothing more while nobody reads
        assert produced * 65536 < 64 * 1024 * 1024  # socket buffers and the high-water mark only
    await asyncio.wait_for(site.state.stream_stopped.wait(), timeout=10)
