"""A small HTTP/1.1 server on asyncio and httptools: what ``noaiguard serve-auth`` listens with.

Every request a site serves costs one question to this server, so its cost per request is the
price of the whole mode. Under uvicorn the same endpoint spent more time in the ASGI machinery
(scope, message dicts, the per-request task) than in deciding; this server parses with httptools
and answers with bytes prepared in advance (benchmarks/README.md, ``bench_auth.py``, has the
figures). It does only what a web server's authorization subrequests need:

* keep-alive: HTTP/1.1 connections stay open unless the client says ``Connection: close``,
  HTTP/1.0 ones only with ``Connection: keep-alive``;
* pipelining: answers leave in the order the requests came. An answer that takes time (a
  tarpit) holds back the answers behind it on its connection, never reorders them; while
  :data:`MAX_PENDING` answers wait, or the peer does not read what it was sent, reading stops;
* a malformed request gets ``400`` (a head over :data:`MAX_REQUEST_HEAD`, ``431``) after the
  answers before it, and the connection is closed; upgrades are not served;
* request bodies are read and dropped (a subrequest has none); every answer has a
  Content-Length, none is chunked; connections idle for ``idle_seconds`` are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from http import HTTPStatus
from typing import Any, NamedTuple, cast

import httptools

logger = logging.getLogger("noaiguard.auth")

#: Bytes of request line and headers a client may send, as noaiguard's other servers allow.
MAX_REQUEST_HEAD = 64 * 1024
#: Answers that may wait on one connection before it stops reading.
MAX_PENDING = 32


class Request(NamedTuple):
    """One request as the handler sees it. Header names are lower case; values are raw bytes."""

    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    #: The address of the peer (the web server), or None for a socket without one.
    peer: str | None


class Response:
    """An answer, encoded once: handlers keep the common ones and hand out the same object."""

    __slots__ = ("body", "data", "head", "status")

    def __init__(
        self,
        status: int,
        headers: Iterable[tuple[bytes, bytes]] = (),
        body: bytes = b"",
        *,
        length: int | None = None,
    ) -> None:
        """``length``: the Content-Length to declare when it is not the body's (an answer to
        HEAD, whose body is left out); any Content-Length in ``headers`` is replaced."""
        try:
            reason = HTTPStatus(status).phrase.encode("ascii")
        except ValueError:
            reason = b"Status"
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        for name, value in headers:
            if name.lower() == b"content-length":
                continue  # always the body's own, below
            if any(c in name or c in value for c in (b"\r", b"\n", b"\0")):
                raise ValueError(f"a header cannot hold a line break: {name!r}")
            lines.append(b"%s: %s\r\n" % (name, value))
        lines.append(b"content-length: %d\r\n" % (len(body) if length is None else length))
        self.status = status
        self.head = b"".join(lines)
        self.body = body
        #: The whole answer on a connection that stays open: what nearly every request gets.
        self.data = self.head + b"\r\n" + body

    def encode(self, *, body: bool = True, close: bool = False) -> bytes:
        """The bytes to send; ``body`` False for HEAD, ``close`` to say the connection ends."""
        if not close:
            return self.data if body else self.head + b"\r\n"
        return self.head + b"connection: close\r\n\r\n" + (self.body if body else b"")


#: What a handler returns: the answer, or a future of it (answered later, in order).
Answer = Response | asyncio.Future[Response]
Handler = Callable[[Request], Answer]

_BAD_REQUEST = Response(400, [(b"content-type", b"text/plain")], b"Bad Request\n")
_TOO_LARGE = Response(431, [(b"content-type", b"text/plain")], b"Request Header Fields Too Large\n")
_SERVER_ERROR = Response(500, [(b"content-type", b"text/plain")], b"Internal Server Error\n")


class _HeadTooLarge(Exception):
    """The request head went over MAX_REQUEST_HEAD."""


class _Connection(asyncio.Protocol):
    """One client connection: parses requests, asks the handler, writes answers in order."""

    #: Set by connection_made, which asyncio calls before anything else.
    _transport: asyncio.Transport

    def __init__(self, server: HTTPServer) -> None:
        self._server = server
        self._handler = server.handler
        self._loop = server.loop
        self._parser: Any = httptools.HttpRequestParser(self)
        self._peer: str | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        # Answers not written yet, in request order: (answer, HEAD request, close after it).
        self._pending: deque[tuple[Answer, bool, bool]] = deque()
        self._writer: asyncio.Task[None] | None = None
        #: No more requests are read: the connection closes once the pending answers are out.
        self.closing = False
        self._peer_full = False
        self._reading = True
        #: Reads so far, and as many at the last idle sweep (a counter is cheaper than a clock).
        self.reads = 0
        self.reads_swept = -1

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if isinstance(peer, tuple) and peer else None
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.forget(self)
        self.closing = True
        for answer, _, _ in self._pending:
            if isinstance(answer, asyncio.Future):
                answer.cancel()
        self._pending.clear()
        if self._writer is not None:
            self._writer.cancel()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.reads += 1
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish()  # the request was answered; nothing else is served on this connection
        except httptools.HttpParserCallbackError as exc:
            self._fail(_TOO_LARGE if isinstance(exc.__context__, _HeadTooLarge) else _BAD_REQUEST)
        except httptools.HttpParserError:
            self._fail(_BAD_REQUEST)

    def eof_received(self) -> bool:
        # The peer has hung up (a web server that gave up on a held request): the connection
        # closes, and answers still being prepared for it are cancelled (see connection_lost).
        return False

    def pause_writing(self) -> None:
        self._peer_full = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._peer_full = False
        self._update_reading()

    # -- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_bytes = 0

    # A head over MAX_REQUEST_HEAD raises _HeadTooLarge from a callback, which reaches
    # data_received as an HttpParserCallbackError (the count is inline: this runs per header).

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > MAX_REQUEST_HEAD:
            raise _HeadTooLarge
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_REQUEST_HEAD:
            raise _HeadTooLarge
        self._headers.append((name.lower(), value))

    def on_message_complete(self) -> None:
        if self.closing:
            return
        parser = self._parser
        method: bytes = parser.get_method()
        close = not parser.should_keep_alive()
        try:
            answer = self._handler(Request(method, self._url, self._headers, self._peer))
        except Exception:
            logger.exception("serve-auth failed on a request")
            answer, close = _SERVER_ERROR, True
        if not close and not self._pending and isinstance(answer, Response):
            # Nearly every request: an answer at once on a connection that stays open.
            self._transport.write(answer.data if method != b"HEAD" else answer.head + b"\r\n")
            return
        self._respond(answer, method == b"HEAD", close)

    # -- answering ----------------------------------------------------------------------------

    def _respond(self, answer: Answer, head: bool, close: bool) -> None:
        transport = self._transport
        if close:
            self.closing = True
        if not self._pending and isinstance(answer, Response):
            transport.write(answer.encode(body=not head, close=close))
            if close:
                transport.close()
            return
        self._pending.append((answer, head, close))
        if self._writer is None:
            self._writer = self._loop.create_task(self._write_pending())
        self._update_reading()

    async def _write_pending(self) -> None:
        """Write the waiting answers in order, each once it is ready."""
        transport = self._transport
        try:
            while self._pending:
                answer, head, close = self._pending[0]
                if isinstance(answer, asyncio.Future):
                    try:
                        response = await answer
                    except Exception:
                        logger.exception("serve-auth failed on a request")
                        response, close = _SERVER_ERROR, True
                else:
                    response = answer
                self._pending.popleft()
                transport.write(response.encode(body=not head, close=close))
                if close or (self.closing and not self._pending):
                    self.closing = True
                    transport.close()
                    return
                self._update_reading()
        finally:
            self._writer = None

    def _fail(self, response: Response) -> None:
        """A request that cannot be served: answer it after the others, then close (unless the
        connection is closing already: what follows a last request is not read)."""
        if not self.closing:
            self._respond(response, False, True)

    def _finish(self) -> None:
        """Read no more; close once the pending answers are out."""
        self.closing = True
        if not self._pending:
            self._transport.close()

    def _update_reading(self) -> None:
        transport = self._transport
        if transport.is_closing():
            return
        should_read = not self._peer_full and len(self._pending) < MAX_PENDING
        if should_read != self._reading:
            self._reading = should_read
            if should_read:
                transport.resume_reading()
            else:
                transport.pause_reading()

    @property
    def idle(self) -> bool:
        """Nothing is being answered on this connection."""
        return not self._pending

    def close(self) -> None:
        self._transport.close()


class HTTPServer:
    """Serves ``handler`` on one address; :meth:`shutdown` lets the pending answers finish.

    Made inside the event loop it serves on.
    """

    def __init__(self, handler: Handler, *, idle_seconds: float = 75.0) -> None:
        self.handler = handler
        self.idle_seconds = idle_seconds
        self.connections: set[_Connection] = set()
        self.loop = asyncio.get_running_loop()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        # Set when the last connection is gone, once shutting down.
        self._all_closed: asyncio.Event | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on ``host:port`` (0: any free port); return the address bound."""
        self._server = await self.loop.create_server(
            lambda: _Connection(self), host, port, reuse_address=True, backlog=1024
        )
        self._sweeper = self.loop.create_task(self._sweep())
        address = self._server.sockets[0].getsockname()
        return str(address[0]), int(address[1])

    def forget(self, connection: _Connection) -> None:
        """A connection has closed."""
        self.connections.discard(connection)
        if not self.connections and self._all_closed is not None:
            self._all_closed.set()

    async def _sweep(self) -> None:
        """Close connections that received nothing for ``idle_seconds`` (up to twice that).

        One pass every ``idle_seconds`` over all connections, rather than a timer per
        connection re-armed on every request.
        """
        while True:
            await asyncio.sleep(self.idle_seconds)
            for connection in list(self.connections):
                if connection.idle and connection.reads == connection.reads_swept:
                    connection.close()
                connection.reads_swept = connection.reads

    async def shutdown(self, grace_seconds: float) -> None:
        """Stop listening, close idle connections, and give busy ones ``grace_seconds`` to
        write their pending answers (a request held in the tarpit) before closing them too."""
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        self._all_closed = all_closed = asyncio.Event()
        for connection in list(self.connections):
            connection.closing = True
            if connection.idle:
                connection.close()
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_closed.wait(), grace_seconds)
        for connection in list(self.connections):
            connection.close()
        if self._server is not None:
            await self._server.wait_closed()


def deferred(coroutine: Awaitable[Response]) -> asyncio.Future[Response]:
    """An answer that comes later (it starts running now, concurrently with other requests)."""
    return asyncio.ensure_future(coroutine)
