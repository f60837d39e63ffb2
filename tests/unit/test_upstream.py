"""The proxy's upstream client against a raw server that answers exactly what each test scripts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from noaiguard.origin import Origin
from noaiguard.upstream import Timeouts, Upstream, UpstreamTransport

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """A TCP server running ``handler`` per connection; every connection is closed at the end."""
    tasks: set[asyncio.Task[None]] = set()
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await handler(reader, writer)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            writer.close()
        await server.wait_closed()
        await asyncio.sleep(0)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def upstream(url: str, **kwargs: object) -> Upstream:
    return Upstream(url, timeouts=Timeouts(connect=2, read=2, write=2, pool=1), **kwargs)  # type: ignore[arg-type]


async def read_all(response: object) -> bytes:
    parts = []
    while chunk := await response.read():  # type: ignore[attr-defined]
        parts.append(chunk)
    return b"".join(parts)


async def test_requests_go_out_byte_for_byte_and_connections_are_reused() -> None:
    seen: list[bytes] = []
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for _ in range(3):
            seen.append(await read_request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Mixed-Case: Yes\r\n\r\nok")
            await writer.drain()

    async with raw_server(handler) as url:
        client = upstream(url)
        for _ in range(3):
            response = await client.request(
                b"GET", b"/a%2Fb?q=%20", [(b"host", b"site.example"), (b"x-a", b"1")]
            )
            assert response.status == 200
            assert response.headers == [(b"content-length", b"2"), (b"x-mixed-case", b"Yes")]
            assert await read_all(response) == b"ok"
            await response.aclose()
        await client.aclose()
    assert connections == 1
    assert seen[0] == b"GET /a%2Fb?q=%20 HTTP/1.1\r\nhost: site.example\r\nx-a: 1\r\n\r\n"


async def test_interim_responses_are_skipped() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"
        )
        await writer.drain()

    async with raw_server(handler) as url:
        client = upstream(url)
        response = await client.request(b"GET", b"/", [(b"host", b"x")])
        assert response.status == 200
        assert response.headers == [(b"content-length", b"5")]
        assert await read_all(response) == b"final"
        await response.aclose()
        await client.aclose()


async def test_a_body_delimited_by_closing_the_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    async with raw_server(handler) as url:
        client = upstream(url)
        response = await client.request(b"GET", b"/", [(b"host", b"x")])
        assert await read_all(response) == b"until the end"
        await response.aclose()
        assert client.idle_count == 0  # such a connection cannot be reused
        await client.aclose()


async def test_head_responses_end_after_the_headers() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(5)

    async with raw_server(handler) as url:
        client = upstream(url)
        response = await client.request(b"HEAD", b"/", [(b"host", b"x")])
        assert response.headers == [(b"content-length", b"1000")]
        assert await asyncio.wait_for(read_all(response), 1) == b""
        await response.aclose()
        await client.aclose()


async def test_a_stale_kept_alive_connection_is_retried_once() -> None:
    requests = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        await read_request(reader)
        requests += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")
        await writer.drain()
        # Then the server closes the idle connection, as servers do after their keep-alive time.
        writer.close()

    async with raw_server(handler) as url:
        client = upstream(url)
        first = await client.request(b"GET", b"/", [(b"host", b"x")])
        assert await read_all(first) == b"1"
        await first.aclose()
        await asyncio.sleep(0.1)
        second = await client.request(b"GET", b"/", [(b"host", b"x")])
        assert await read_all(second) == b"1"
        await second.aclose()
        await client.aclose()
    assert requests == 2


async def test_errors_are_httpx_errors() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with raw_server(garbage) as url:
        client = upstream(url)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.request(b"GET", b"/", [(b"host", b"x")])
        await client.aclose()
    async with raw_server(silent) as url:
        client = Upstream(url, timeouts=Timeouts(read=0.2))
        with pytest.raises(httpx.ReadTimeout):
            await client.request(b"GET", b"/", [(b"host", b"x")])
        await client.aclose()
    with pytest.raises(httpx.ConnectError):
        await upstream("http://127.0.0.1:9").request(b"GET", b"/", [(b"host", b"x")])


async def test_the_pool_waits_then_gives_up() -> None:
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await release.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async with raw_server(handler) as url:
        client = Upstream(url, max_connections=1, timeouts=Timeouts(pool=0.2))
        busy = asyncio.ensure_future(client.request(b"GET", b"/", [(b"host", b"x")]))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await client.request(b"GET", b"/", [(b"host", b"x")])
        release.set()
        response = await busy
        await response.aclose()
        assert client.active_count == 0
        await client.aclose()


async def test_the_httpx_transport_serves_only_its_origin() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        body = request.split(b"\r\n", 1)[0]
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    async with (
        raw_server(handler) as url,
        httpx.AsyncClient(transport=UpstreamTransport(Upstream(url))) as http,
    ):
        response = await http.get(f"{url}/path%2Fx?y=1")
        assert response.text == "GET /path%2Fx?y=1 HTTP/1.1"
        with pytest.raises(httpx.UnsupportedProtocol):
            await http.get("http://elsewhere.example/")


def test_origins_are_scheme_host_and_port_only() -> None:
    assert Origin.parse("http://127.0.0.1:8000").host_header == b"127.0.0.1:8000"
    assert Origin.parse("https://art.example").host_header == b"art.example"
    assert str(Origin.parse("http://[::1]:81/")) == "http://[::1]:81"
    for bad in ("ftp://x", "http://x/path", "http://user:pw@x", "localhost:8000"):
        with pytest.raises(ValueError, match=r"URL|path|credentials"):
            Origin.parse(bad)
