"""uvicorn's httptools protocol with what noaiguard's servers add to it.

It is a module of its own, imported only when uvicorn and httptools are installed, and its class
lives at module level so that uvicorn's worker processes (``--workers``) can import it by name.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ._types import HEADER_LINES

#: Bytes of request line and headers a client may send; beyond it the request gets a 400 and the
#: connection is closed, before the headers can fill memory. nginx allows 32 KiB by default.
MAX_REQUEST_HEAD = 64 * 1024
#: Where the request target goes when it is not a plain path (see noaiguard.proxy).
TARGET_EXTENSION = "noaiguard.request_target"
#: The lifespan state key where an app puts its (head, body) client timeouts, in seconds.
CLIENT_TIMEOUTS = "noaiguard.client_timeouts"
#: Seconds a client has to send a whole request head, and may leave a request body waiting.
DEFAULT_CLIENT_TIMEOUTS = (20.0, 60.0)

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\nconnection: close\r\n\r\nRequest Timeout\n"
)


class _HeadWithBody:
    """The transport as a response cycle sees it: a response's head waits for the rest of the
    event loop's turn, so that a head and a body the app sends together leave in one write.

    uvicorn writes the head the moment the app sends ``http.response.start``. When the body
    follows at once (a page whose start noaiguard held to put the meta tag in, or any response
    made whole, as Starlette's are), the second write lands while the first is still being taken
    in, and the pair costs about 4 us more than one write of both (benchmarks/README.md). A head
    alone still leaves within the turn: a stream whose first piece comes later is not held up.
    """

    __slots__ = ("_head", "_loop", "_transport", "expect_head", "header_lines", "offer")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None
        #: The next write is a response's head (set when a request's cycle begins).
        self.expect_head = False
        #: Header lines for the head written next (see :meth:`add_header_lines`).
        self.header_lines: bytes | None = None
        #: What ``scope["extensions"]`` offers for :data:`~noaiguard._types.HEADER_LINES`.
        self.offer = self.add_header_lines

    def add_header_lines(self, lines: bytes) -> None:
        """Put ``lines`` in the next response head written on this connection, after its own
        headers (the :data:`~noaiguard._types.HEADER_LINES` extension; an app calls this right
        before it sends that response's start). One response is written at a time on a
        connection, and uvicorn writes a head in one piece, so the next head is that response's.
        """
        self.header_lines = lines

    def write(self, data: bytes) -> None:
        lines = self.header_lines
        if lines is not None:  # a head: it ends with its blank line, and the lines go before it
            self.header_lines = None
            data = b"".join((data[:-2], lines, b"\r\n"))
        head = self._head
        if head is not None:  # the body, right behind its head: one write (writev) for both
            self._head = None
            self._transport.writelines((head, data))
        elif self.expect_head:
            self.expect_head = False
            self._head = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        """The end of the turn: a head still waiting goes alone."""
        head = self._head
        if head is not None:
            self._head = None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


class RequestTargetProtocol(HttpToolsProtocol):
    """uvicorn's protocol, plus what a server facing hostile clients (and on every request of
    a site) needs.

    - A request target that is not a plain path is kept (uvicorn drops the absolute form, which
      the proxy must see to refuse it).
    - A request head over :data:`MAX_REQUEST_HEAD` is refused.
    - Time limits on the client (uvicorn has none while a request arrives): the head must be
      complete within the first timeout of its first byte (or of the connection), however slowly
      it trickles in, or the client gets a 408 and the connection closes; and a body that stops
      arriving for the second timeout ends the same way. Time the server itself spends not
      reading (flow control, while the app is busy with what came) does not count. An app sets
      the two in its lifespan state under :data:`CLIENT_TIMEOUTS`.
    - A response's head and a body sent right after it go out in one write (:class:`_HeadWithBody`).
    - Header lines an app has encoded and checked go in as they are
      (:data:`~noaiguard._types.HEADER_LINES`).
    """

    head_bytes = 0
    _timer: asyncio.TimerHandle | None = None
    _head_done = True  # no request head under way
    _receiving = False  # a request has begun and is not complete
    _has_body = False
    _body_seen = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._writer = _HeadWithBody(transport, self.loop)
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        self.head_bytes = 0
        self._has_body = False
        self._receiving = True
        if self._head_done:
            self._start_head()
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        lowered = name.lower()
        if lowered == b"transfer-encoding" or (
            lowered == b"content-length" and value.strip() != b"0"
        ):
            self._has_body = True
        super().on_header(name, value)

    def on_body(self, body: bytes) -> None:
        self._body_seen = self.loop.time()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._stop_timer()
        self._receiving = False
        super().on_message_complete()

    # -- client time limits -----------------------------------------------------------------

    def _timeouts(self) -> tuple[float, float]:
        value = self.app_state.get(CLIENT_TIMEOUTS)
        return cast(tuple[float, float], value) if value else DEFAULT_CLIENT_TIMEOUTS

    def _start_head(self) -> None:
        self._stop_timer()
        self._head_done = False
        self._timer = self.loop.call_later(self._timeouts()[0], self._client_too_slow)

    def _start_body(self) -> None:
        self._body_seen = self.loop.time()
        self._timer = self.loop.call_later(self._timeouts()[1], self._body_check)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _body_check(self) -> None:
        """Fires a body timeout after; re-arms while bytes came lately or reading is paused."""
        self._timer = None
        limit = self._timeouts()[1]
        waited = self.loop.time() - self._body_seen
        if self.flow is not None and self.flow.read_paused:
            self._body_seen = self.loop.time()
            waited = 0.0
        if waited < limit:
            self._timer = self.loop.call_later(limit - waited, self._body_check)
            return
        self._client_too_slow()

    def _client_too_slow(self) -> None:
        """Close the connection; with a 408 first if a request began and has no response yet.

        A connection that never sent a byte is closed without one, as nginx does: browsers open
        spare connections they may never use, and an answer to no request confuses them.
        """
        self._timer = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        cycle = self.cycle
        answered = self._head_done and cycle is not None and cycle.response_started
        if self._receiving and not answered:
            transport.write(_TIMEOUT_RESPONSE)
        transport.close()

    def _count(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > MAX_REQUEST_HEAD:
            # Raised from a parser callback, this reaches uvicorn as a parse error: it answers
            # 400 and closes the connection.
            raise httptools.HttpParserError("request head too large")

    def on_headers_complete(self) -> None:
        target: bytes = self.url
        extensions: dict[str, Any] = {HEADER_LINES: self._writer.offer}
        if target[:1] != b"/" and target != b"*":
            extensions[TARGET_EXTENSION] = target
        self.scope["extensions"] = extensions
        self._stop_timer()
        self._head_done = True
        if self._has_body:
            self._start_body()
        before = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not before:  # (an upgrade makes none)
            cycle.transport = cast(asyncio.Transport, self._writer)
            self._writer.expect_head = True
