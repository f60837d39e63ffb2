"""A small, fast HTTP/1.1 client for one upstream origin: the reverse proxy's transport.

Why not httpx's own transport: measured on this project's machines, a pass-through proxy on
httpx's default transport forwarded about 1,200 requests/s, one on httpx with an aiohttp transport
about 5,300, plain aiohttp about 12,400, and this client about 25,000. A proxy talks to exactly
one origin, HTTP/1.1, with bytes it must forward unchanged; that narrow job fits in one asyncio
protocol driving the llhttp parser (httptools, which uvicorn uses too), with no URL parsing, no
header objects and no cookie jar. The bytes of the request target and headers go out exactly as
given: ``%2F`` stays ``%2F``.

It is an httpx transport: the proxy hands :class:`UpstreamTransport` an ``httpx.Request`` and
streams the ``httpx.Response`` it returns (``httpx.AsyncClient`` can use it too; the health probe
does), and every failure is raised as the httpx exception it corresponds to (``ConnectError``,
``ReadTimeout``, ``PoolTimeout`` ...).

Bodies stream both ways with flow control: reading from the upstream pauses while more than
:data:`HIGH_WATER` bytes wait for a slow client, and uploads wait while the upstream's socket
buffer is full, so memory stays bounded whatever the size of the transfer.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import cast

import httptools
import httpx

from .origin import Origin

#: Bytes of response body held for a slow client before reading from the upstream pauses.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait: for a connection, for the upstream to answer or send more, to send."""

    connect: float = 5.0
    read: float = 60.0
    write: float = 60.0
    pool: float = 10.0


def _expire(future: asyncio.Future[None], error: Callable[[], Exception]) -> None:
    if not future.done():
        future.set_exception(error())


async def _wait(
    future: asyncio.Future[None], timeout: float, error: Callable[[], Exception]
) -> None:
    """Await ``future``; after ``timeout`` seconds it fails with ``error()`` instead.

    The exception is made only when the time runs out: building one on every wait would cost
    more than the wait's own bookkeeping.
    """
    handle = asyncio.get_running_loop().call_later(timeout, _expire, future, error)
    try:
        await future
    finally:
        handle.cancel()


class _Connection(asyncio.Protocol):
    """One keep-alive connection to the upstream, carrying one exchange at a time."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.lost = False
        self.idle_since = 0.0
        self.write_paused = False
        self._write_waiter: asyncio.Future[None] | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: Headers = []
        self.headers_ready: asyncio.Future[None] | None = None
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.keep_alive = False
        self.received = False
        self.error: Exception | None = None
        self.reading_paused = False
        self.interim = False
        self.no_body = False
        self._data_waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None or self.complete:
            # Bytes nobody asked for: the connection's framing can no longer be trusted.
            self._fail(httpx.RemoteProtocolError("the upstream sent data outside a response"))
            return
        self.received = True
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"invalid response from the upstream: {exc}"))
        except httptools.HttpParserUpgrade:
            # After a 101 (see on_headers_complete), and no HttpParserError: raised out of
            # here it reached the event loop as a fatal error of the protocol.
            self._fail(httpx.RemoteProtocolError("the upstream switched protocols"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.complete and self.status and exc is None and self._delimited_by_close():
            # No Content-Length and not chunked: the body ends where the connection does.
            self.complete = True
            self.keep_alive = False
            self._wake()
        if not self.complete:
            message = "the upstream closed the connection"
            self._fail(httpx.ReadError(f"{message}: {exc}" if exc else message))
        waiter = self._write_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(httpx.WriteError("the upstream closed the connection"))

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter = self._write_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _delimited_by_close(self) -> bool:
        return not any(
            name in (b"content-length", b"transfer-encoding") for name, _ in self.headers
        )

    # -- parser callbacks -----------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # An interim response (103 Early Hints, a stray 100): not forwarded, wait for the
            # final one on the same connection.
            self.interim = True
            self.headers = []
            self.reason = b""
            return
        if status == 101 or status < 100:
            # The proxy never asks for another protocol (Upgrade is hop-by-hop and not sent
            # on), so a switch is a broken answer: a 502, not a 101 without its protocol. The
            # parser takes any three digits; below 100 there is no status (RFC 9110, 15), and 0
            # is what `status` says before one has come.
            self._fail(httpx.RemoteProtocolError(f"invalid status {status} from the upstream"))
            return
        self.status = status
        self.keep_alive = self.parser.should_keep_alive()
        if self.no_body:
            # A HEAD response announces a length but sends no body; the parser cannot know.
            self.complete = True
            self.keep_alive = False  # a misbehaving upstream might send one anyway
        future = self.headers_ready
        if future is not None and not future.done():
            future.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self.no_body:
            return
        self.chunks.append(bytes(body))
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        self.complete = True
        self._wake()

    # -- exchange -------------------------------------------------------------------------

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        future = self.headers_ready
        if future is not None and not future.done():
            future.set_exception(error)
        self._wake()
        if self.transport is not None:
            self.transport.close()

    def _wake(self) -> None:
        waiter = self._data_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def usable(self, now: float, idle_seconds: float) -> bool:
        return (
            not self.lost
            and self.transport is not None
            and not self.transport.is_closing()
            and now - self.idle_since < idle_seconds
        )

    def start(self, head: bytes, *, no_body: bool) -> None:
        """Begin an exchange: a fresh parser, then the request head on the wire."""
        self._reset()
        self.no_body = no_body
        self.parser = httptools.HttpResponseParser(self)
        self.headers_ready = self.loop.create_future()
        assert self.transport is not None
        if self.lost:
            # Closed (or reset) by the upstream before the request went out: no answer can come,
            # and the transport would drop the write without a word.
            self._fail(httpx.ReadError("the upstream closed the connection before the request"))
            return
        self.transport.write(head)

    async def drain(self, timeout: float) -> None:
        if self.lost:
            raise httpx.WriteError("the upstream closed the connection")
        if not self.write_paused:
            return
        self._write_waiter = self.loop.create_future()
        try:
            await _wait(self._write_waiter, timeout, lambda: httpx.WriteTimeout("upload stalled"))
        finally:
            self._write_waiter = None

    async def wait_for_data(self, timeout: float) -> None:
        self._data_waiter = self.loop.create_future()
        try:
            await _wait(
                self._data_waiter,
                timeout,
                lambda: httpx.ReadTimeout("the upstream stopped sending"),
            )
        finally:
            self._data_waiter = None

    def detach(self) -> None:
        """The exchange is over: nobody will await its futures any more."""
        future = self.headers_ready
        if future is not None:
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # mark a failure as seen: it was handled by the caller

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class UpstreamResponse:
    """The status and headers of an upstream response, and its body as it arrives."""

    __slots__ = ("_conn", "_released", "_upstream", "headers", "reason", "status")

    def __init__(self, upstream: Upstream, conn: _Connection) -> None:
        self._upstream = upstream
        self._conn = conn
        self._released = False
        self.status = conn.status
        self.reason = conn.reason
        self.headers = conn.headers

    @property
    def finished(self) -> bool:
        """Every byte of the body has been read."""
        return self._conn.complete and not self._conn.chunks

    async def read(self) -> bytes:
        """The next piece of the body, or ``b""`` at its end."""
        conn = self._conn
        while True:
            if conn.chunks:
                chunk = conn.chunks.popleft()
                if len(conn.chunks) > 0:
                    # Hand over what has piled up as one piece: fewer sends downstream.
                    rest = b"".join(conn.chunks)
                    conn.chunks.clear()
                    chunk += rest
                conn.buffered = 0
                if conn.reading_paused and conn.transport is not None:
                    conn.reading_paused = False
                    conn.transport.resume_reading()
                return chunk
            if conn.complete:
                return b""
            if conn.error is not None:
                raise conn.error
            await conn.wait_for_data(self._upstream.timeouts.read)

    async def aclose(self) -> None:
        """Give the connection back (kept alive if the body was read to its end)."""
        if not self._released:
            self._released = True
            conn = self._conn
            self._upstream._release(conn, reusable=conn.complete and conn.keep_alive)

    def abort(self) -> None:
        """Drop the connection now: the client went away, the rest of the body is unwanted."""
        conn = self._conn
        if not conn.complete:
            conn.error = conn.error or httpx.ReadError("aborted: the client went away")
            conn._wake()
        if not self._released:
            self._released = True
            self._upstream._release(conn, reusable=False)


class Upstream:
    """A pool of keep-alive connections to one origin."""

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 100,
        max_idle: int = 100,
        idle_seconds: float = 30.0,
        timeouts: Timeouts = Timeouts(),
    ) -> None:
        self.origin = Origin.parse(url)
        self.timeouts = timeouts
        self.max_connections = max_connections
        self.max_idle = max_idle
        self.idle_seconds = idle_seconds
        self._ssl = ssl.create_default_context() if self.origin.scheme == "https" else None
        self._idle: list[_Connection] = []
        self._active = 0  # connections handed out or being opened
        self._waiters: collections.deque[asyncio.Future[_Connection | None]] = collections.deque()
        self._closed = False

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    @property
    def active_count(self) -> int:
        return self._active

    # -- requests -------------------------------------------------------------------------

    async def request(
        self,
        method: bytes,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        body: AsyncIterator[bytes] | None = None,
        *,
        chunked: bool = False,
    ) -> UpstreamResponse:
        """Send a request and return once the response headers have arrived.

        ``headers`` go out as given (the caller sets Host and the framing headers); ``body`` is
        streamed with ``Transfer-Encoding: chunked`` when ``chunked``, else as-is after a
        Content-Length the caller provided. A request without a body that fails on a kept-alive
        connection before any response byte arrived is retried once on a new connection: the
        upstream may have closed the idle connection just as it was reused.
        """
        lines = [method, b" ", target, b" HTTP/1.1\r\n"]
        for name, value in headers:
            lines += (name, b": ", value, b"\r\n")
        lines.append(b"\r\n")
        head = b"".join(lines)
        no_body = method == b"HEAD"
        attempts = 1 if body is not None else 2
        for attempt in range(attempts):
            conn, reused = await self._acquire()
            try:
                conn.start(head, no_body=no_body)
                if body is not None:
                    await self._send_body(conn, body, chunked)
                assert conn.headers_ready is not None
                await _wait(
                    conn.headers_ready,
                    self.timeouts.read,
                    lambda: httpx.ReadTimeout("the upstream did not answer in time"),
                )
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
                self._release(conn, reusable=False)
                if reused and not conn.received and attempt + 1 < attempts:
                    continue
                raise
            except BaseException:
                self._release(conn, reusable=False)
                raise
            return UpstreamResponse(self, conn)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_body(
        self, conn: _Connection, body: AsyncIterator[bytes], chunked: bool
    ) -> None:
        transport = conn.transport
        assert transport is not None
        write_timeout = self.timeouts.write
        async for chunk in body:
            if conn.error is not None:
                raise conn.error  # the upstream answered early or went away
            if not chunk:
                continue
            if chunked:
                transport.write(b"%x\r\n" % len(chunk))
                transport.write(chunk)
                transport.write(b"\r\n")
            else:
                transport.write(chunk)
            await conn.drain(write_timeout)
        if chunked:
            transport.write(b"0\r\n\r\n")

    # -- the pool -------------------------------------------------------------------------

    async def _acquire(self) -> tuple[_Connection, bool]:
        if self._closed:
            raise httpx.ConnectError("the upstream client is closed")
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.usable(now, self.idle_seconds):
                self._active += 1
                return conn, True
            conn.close()
        if self._active >= self.max_connections:
            waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await _wait(
                    waiter,  # type: ignore[arg-type]
                    self.timeouts.pool,
                    lambda: httpx.PoolTimeout("all connections to the upstream are busy"),
                )
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._release(waiter.result(), reusable=True)  # handed over as we gave up
                raise
            handed = waiter.result()
            if handed is not None:
                return handed, True
            # A slot was freed for us (already counted as active): open a new connection.
        else:
            self._active += 1
        try:
            return await self._connect(), False
        except BaseException:
            self._release(None, reusable=False)
            raise

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        origin = self.origin
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    _Connection,
                    origin.host,
                    origin.port,
                    ssl=self._ssl,
                    server_hostname=origin.host if self._ssl else None,
                ),
                self.timeouts.connect,
            )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {origin} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {origin}: {exc}") from exc
        return conn

    def _release(self, conn: _Connection | None, *, reusable: bool) -> None:
        """Take a connection back; hand it (or its slot) to the next waiter if there is one."""
        if conn is not None:
            conn.detach()
        if (
            conn is not None
            and reusable
            and not self._closed
            and conn.usable(time.monotonic(), 1e9)
        ):
            conn.parser = None
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_result(conn)  # stays active: it changes hands
                    return
            conn.idle_since = time.monotonic()
            self._active -= 1
            if len(self._idle) < self.max_idle:
                self._idle.append(conn)
            else:
                conn.close()
            return
        if conn is not None:
            conn.close()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to the waiter
                return
        self._active -= 1

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when they are released."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class UpstreamTransport(httpx.AsyncBaseTransport):
    """:class:`Upstream` as an httpx transport: the proxy's request path and the health probe.

    Only requests to the upstream's own origin are accepted: this transport cannot be talked
    into connecting anywhere else. The request target is the ``target`` extension when given (as
    httpcore reads it: the bytes the client sent, ``%2F`` and all), else the URL's path and query.
    A body is sent when the headers announce one (``Content-Length`` other than 0, or
    ``Transfer-Encoding``, which is always chunked here).
    """

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        origin = upstream.origin
        self._origin = (origin.scheme, origin.host, origin.port)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)) != (
            self._origin
        ):
            raise httpx.UnsupportedProtocol(f"{url} is not on the upstream {self.upstream.origin}")
        headers: list[tuple[bytes, bytes]] = []
        body = None
        chunked = False
        for raw_name, value in request.headers.raw:
            name = raw_name.lower()
            if name == b"transfer-encoding":
                chunked = True
                continue
            if name == b"content-length" and value != b"0":
                body = request.stream
            headers.append((name, value))
        if chunked:
            headers = [(k, v) for k, v in headers if k != b"content-length"]
            headers.append((b"transfer-encoding", b"chunked"))
            body = request.stream
        response = await self.upstream.request(
            request.method.encode("ascii"),
            request.extensions.get("target") or url.raw_path,
            headers,
            body.__aiter__() if body is not None else None,  # type: ignore[union-attr]
            chunked=chunked,
        )
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_ResponseStream(response),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason},
        )

    async def aclose(self) -> None:
        await self.upstream.aclose()


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, response: UpstreamResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await self._response.read():
            yield chunk

    async def aclose(self) -> None:
        if self._response.finished:
            await self._response.aclose()
        else:
            self._response.abort()
