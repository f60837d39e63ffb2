"""The reverse proxy: noaiguard in front of any site that speaks HTTP.

:func:`create_proxy_app` stacks these ASGI layers over one :class:`~noaiguard.upstream.Upstream`::

    (HtmlReencoder)           only with proxy.reencode_html: gzip again after the tag went in
      NoAIGuardMiddleware     the same engine and policy as in an app; it answers the health
        ProxyApp              path (HealthEndpoint) before any policy applies, forwards the rest
          UpstreamTransport   httpx's transport API over the upstream's connection pool

ProxyApp is an httpx client at the transport layer: each request is an ``httpx.Request`` (the
origin's URL, the exact request target in the ``target`` extension, the client's body as a
stream) handed to an ``httpx.AsyncBaseTransport``, and the answer an ``httpx.Response`` streamed
back. Any httpx transport works (``httpx.AsyncHTTPTransport`` included, which the benchmark runs
for comparison); :class:`~noaiguard.upstream.UpstreamTransport` is the fast one it is built with.
``httpx.AsyncClient`` is not on the request path: its redirects, cookie jar, auth flow and header
merging are work a reverse proxy must not do, and cost three times what the rest of the proxy does
(``benchmarks/README.md``).

:class:`ProxyApp` forwards exactly what it must and nothing else. The request target and headers
go out byte for byte, except the hop-by-hop headers (RFC 9110 section 7.6.1, and any header the
``Connection`` header names), ``Host`` (per ``proxy.host_header``) and the ``X-Forwarded-*``
headers it adds. It never follows redirects and never decodes bodies, so compressed responses,
ranges, conditional responses and every ``Set-Cookie`` line reach the client as the upstream sent
them. It only ever connects to the one configured upstream, so it cannot be used as an open proxy;
requests in absolute form for other hosts and ``CONNECT`` are refused outright.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from ._types import HEADER_LINES, ASGIApp, Message, RawHeaders, Receive, Scope, Send
from .backends import EventStore
from .config import Config, ProxyConfig
from .facts import RequestFacts
from .guard import Guard
from .middleware import NoAIGuardMiddleware
from .origin import Origin
from .signals.response import RESPONSE_STATUS, ResponseSignals, SignalingSend, content_length
from .upstream import Timeouts, Upstream, UpstreamTransport

logger = logging.getLogger("noaiguard.proxy")

#: Headers that describe one connection, not the message (RFC 9110 section 7.6.1), plus Expect,
#: which the server in front of the proxy has already answered.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
    }
)
_FORWARDED = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"}
)
_HOST = b"host"
_CONTENT_LENGTH = b"content-length"
_CONTENT_TYPE = b"content-type"
_CONTENT_ENCODING = b"content-encoding"
_START = "http.response.start"
_BODY = "http.response.body"
#: The request target in absolute or authority form, which uvicorn drops from the scope; recorded
#: by :class:`noaiguard._httpprotocol.RequestTargetProtocol` (the same string, kept here so that
#: this module does not need uvicorn).
TARGET_EXTENSION = "noaiguard.request_target"
#: Where the lifespan state tells that protocol the client time limits (proxy.timeouts).
CLIENT_TIMEOUTS = "noaiguard.client_timeouts"
#: Marks a response ProxyApp decompressed, for HtmlReencoder to compress again.
_REENCODE = b"x-noaiguard-reencode"


def _dropped(headers: Any) -> frozenset[bytes]:
    """The hop-by-hop headers, plus those a ``Connection`` header names for this hop only.

    Header names arrive in lower case on both sides: uvicorn lowers the client's, the upstream
    client lowers the upstream's.
    """
    extra: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            extra.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return HOP_BY_HOP | extra if extra else HOP_BY_HOP


class _TooLarge(Exception):
    """The request body went over proxy.max_request_bytes."""


class _ClientGone(Exception):
    """The client disconnected before its request body was complete."""


class _ClientBody(httpx.AsyncByteStream):
    """The client's request body as it arrives, streamed on, within ``limit`` bytes (0: none)."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            received += len(chunk)
            if self._limit and received > self._limit:
                raise _TooLarge
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


_NO_BODY = httpx.ByteStream(b"")


def _error_page(status: int, title: str, text: str) -> tuple[RawHeaders, bytes]:
    body = (
        f"<!doctype html><html><head><title>{status} {title}</title></head>"
        f"<body><h1>{status} {title}</h1><p>{text}</p></body></html>\n"
    ).encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    return headers, body


_ERRORS = {
    400: ("Bad Request", "This request cannot be forwarded."),
    405: ("Method Not Allowed", "CONNECT is not supported: this is not a forward proxy."),
    413: ("Content Too Large", "The request body is larger than this site accepts."),
    421: ("Misdirected Request", "This server does not serve that host."),
    502: ("Bad Gateway", "The site is not answering right now. Please try again shortly."),
    503: ("Service Unavailable", "The site is busy right now. Please try again shortly."),
    504: ("Gateway Timeout", "The site took too long to answer. Please try again shortly."),
}


class ProxyApp:
    """Forwards each request to the upstream and streams the answer back."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        origin: Origin,
        settings: ProxyConfig,
        guard: Guard | None = None,
        *,
        signals: ResponseSignals | None = None,
    ) -> None:
        self.transport = transport
        self.origin = origin
        self.settings = settings
        self.guard = guard
        #: The response signals this app puts in every response it forwards itself (None: it
        #: forwards responses untouched, and the middleware around it signals them).
        self.signals = signals
        self._url = httpx.URL(str(origin))
        host_header = settings.host_header
        self._host: bytes | None = (
            None
            if host_header == "preserve"
            else origin.host_header
            if host_header == "upstream"
            else host_header.encode("latin-1")
        )
        # The proxies in front whose X-Forwarded-* headers are kept (None: none are trusted, and
        # no peer needs looking up).
        self._trusted = (
            guard.trusted_proxies if guard is not None and guard.trusted_proxies else None
        )
        self._hosts = frozenset(host.lower().encode("latin-1") for host in settings.hosts)
        self._max_body = settings.max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            state = scope.get("state")
            if state is not None:
                timeouts = self.settings.timeouts
                state[CLIENT_TIMEOUTS] = (timeouts.client_header, timeouts.client_body)
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "not proxied"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.transport.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- one request ----------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        if method == "CONNECT":
            await self._fail(scope, send, 405)
            return
        target = (scope.get("extensions") or {}).get(TARGET_EXTENSION)
        if target is not None and not self._own_absolute_target(target):
            await self._fail(scope, send, 421)
            return

        headers, length, chunked = self._request_headers(scope)
        if self._max_body and length is not None and length > self._max_body:
            await self._fail(scope, send, 413)
            return
        body = _ClientBody(receive, self._max_body) if chunked or length else _NO_BODY
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        query: bytes = scope.get("query_string", b"")
        request_target = raw_path + b"?" + query if query else raw_path
        request = httpx.Request(
            method, self._url, headers=headers, stream=body, extensions={"target": request_target}
        )
        try:
            response = await self.transport.handle_async_request(request)
        except _TooLarge:
            await self._fail(scope, send, 413)
            return
        except _ClientGone:
            return
        except httpx.PoolTimeout as exc:
            await self._fail(scope, send, 503, str(exc))
            return
        except httpx.TimeoutException as exc:
            await self._fail(scope, send, 504, str(exc))
            return
        except httpx.TransportError as exc:
            await self._fail(scope, send, 502, str(exc))
            return
        await self._respond(response, scope, receive, send)

    def _own_absolute_target(self, target: bytes) -> bool:
        """An absolute-form target is accepted only for a host the site lists as its own."""
        if not self._hosts:
            return False
        rest = target.partition(b"://")[2]
        authority = rest.split(b"/", 1)[0].split(b"?", 1)[0].lower()
        host = authority.rsplit(b":", 1)[0] if authority.count(b":") == 1 else authority
        return host in self._hosts or authority in self._hosts

    def _request_headers(self, scope: Scope) -> tuple[RawHeaders, int | None, bool]:
        """The headers to forward, the body's Content-Length, and whether it comes chunked."""
        incoming = scope.get("headers") or ()
        drop = _dropped(incoming)
        client = scope.get("client")
        peer = str(client[0]) if client else ""
        trusted = self._trusted is not None and bool(peer) and self._trusted.trusts(peer)
        headers: RawHeaders = []
        host = b""
        forwarded_for = b""
        length: int | None = None
        chunked = False
        keep_forwarded: dict[bytes, bytes] = {}
        for name, value in incoming:
            if name in drop:
                if name == b"transfer-encoding":
                    chunked = True
                continue
            if name == _HOST:
                host = value
                continue
            if name in _FORWARDED:
                if name == b"x-forwarded-for":
                    forwarded_for = value if not forwarded_for else forwarded_for + b", " + value
                elif trusted:
                    keep_forwarded[name] = value
                continue
            if name == _CONTENT_LENGTH:
                try:
                    length = int(value)
                except ValueError:
                    length = None
            headers.append((name, value))
        headers.append((_HOST, self._host if self._host is not None else host or self._origin_host))
        # X-Forwarded-For: the chain as received, plus the peer we saw (the upstream decides whom
        # to believe); the others are ours unless a trusted proxy in front already set them.
        peer_bytes = peer.encode("latin-1")
        headers.append(
            (
                b"x-forwarded-for",
                forwarded_for + b", " + peer_bytes if forwarded_for else peer_bytes,
            )
        )
        headers.append(
            (
                b"x-forwarded-proto",
                keep_forwarded.get(b"x-forwarded-proto", scope.get("scheme", "http").encode()),
            )
        )
        if host or b"x-forwarded-host" in keep_forwarded:
            headers.append((b"x-forwarded-host", keep_forwarded.get(b"x-forwarded-host", host)))
        if b"forwarded" in keep_forwarded:
            headers.append((b"forwarded", keep_forwarded[b"forwarded"]))
        if chunked:
            headers = [(k, v) for k, v in headers if k != _CONTENT_LENGTH]
            headers.append((b"transfer-encoding", b"chunked"))
            length = None
        return headers, length, chunked

    @property
    def _origin_host(self) -> bytes:
        return self.origin.host_header

    async def _respond(
        self, response: httpx.Response, scope: Scope, receive: Receive, send: Send
    ) -> None:
        method: str = scope["method"]
        raw = response.headers.raw
        drop = _dropped(raw)
        headers = [(k, v) for k, v in raw if k not in drop]
        decoder = self._html_decoder(headers) if self.settings.reencode_html else None
        if decoder is not None:
            headers = [(k, v) for k, v in headers if k not in (_CONTENT_ENCODING, _CONTENT_LENGTH)]
            headers.append((_REENCODE, b"gzip"))
        status = response.status_code
        # The last piece goes out marked as the last when the length, or the end of the
        # compressed stream, says it is: one message for a body that comes in one piece.
        remaining: int | None = None
        ended = started = page = False
        lines: bytes | None = None
        add_lines: Callable[[bytes], object] | None = None
        start: Message = {"type": _START, "status": status, "headers": headers}
        # The stream is read to its end (the read after the last piece returns at once), so
        # that it closes itself and gives the connection back.
        pieces = response.aiter_raw()
        watcher: asyncio.Task[None] | None = None
        try:
            signals = self.signals
            if signals is not None:
                path: str = scope["path"]
                state = scope.get("state")
                if state is not None:
                    state[RESPONSE_STATUS] = status
                extensions = scope.get("extensions")
                add_lines = extensions.get(HEADER_LINES) if extensions else None
                signalled, lines, page, length = signals.head(
                    path, method, status, headers, lines=add_lines is not None
                )
                start["headers"] = signalled
                if lines is not None:
                    start[HEADER_LINES] = lines
                if page and decoder is None:  # (head found its length: no second search)
                    value = signalled[length][1] if length >= 0 else b""
                    remaining = int(value) if value.isdigit() else None
                if page:
                    # A page: its first piece is read before the head goes out, so that a page
                    # that comes whole (nearly every page) is tagged here and sent in one piece.
                    try:
                        body = await anext(pieces)
                    except StopAsyncIteration:
                        body, ended = (decoder.flush() if decoder is not None else b""), True
                    else:
                        body, ended, remaining = _decoded(body, decoder, remaining)
                    tagged = signals.tagged(path, body) if ended else None
                    if tagged is not None:
                        if length >= 0:  # (the page is whole: its length is known)
                            signalled[length] = (_CONTENT_LENGTH, content_length(len(tagged)))
                        if lines is not None and add_lines is not None:
                            add_lines(lines)  # (for the head of the start sent next)
                        await send(start)
                        body = tagged
                    else:
                        # Any other page goes through the streaming injector, from that piece.
                        send = SignalingSend(signals, send, path, method)
                        await send({"type": _START, "status": status, "headers": headers})
                    await send({"type": _BODY, "body": body, "more_body": not ended})
                    started = True
            if not page and decoder is None:
                remaining = _body_length(headers, status)
            if not started:
                if lines is not None and add_lines is not None:
                    add_lines(lines)
                await send(start)
                if method == "HEAD":
                    await send({"type": _BODY, "body": b""})
                    return
            async for piece in pieces:
                if ended:
                    continue  # past the end: a transport's parser never gives this
                chunk, ended, remaining = _decoded(piece, decoder, remaining)
                await send({"type": _BODY, "body": chunk, "more_body": not ended})
                if not ended and watcher is None:
                    # A body that keeps coming: stop reading it if the client goes away.
                    watcher = asyncio.ensure_future(_watch_disconnect(receive, response))
            if not ended:
                last = decoder.flush() if decoder is not None else b""
                await send({"type": _BODY, "body": last})
        except httpx.TransportError as exc:
            logger.warning("the upstream failed in the middle of a response: %s", exc)
            raise
        finally:
            if watcher is not None:
                watcher.cancel()
            await response.aclose()  # an unfinished body: the connection is dropped, not reused

    def _html_decoder(self, headers: RawHeaders) -> Any:
        """A decompressor for compressed HTML, when the config asks to re-encode it."""
        content_type = encoding = b""
        for name, value in headers:
            if name == _CONTENT_TYPE:
                content_type = value.lower()
            elif name == _CONTENT_ENCODING:
                encoding = value.strip().lower()
        if not content_type.startswith(b"text/html") or not encoding:
            return None
        if encoding in (b"gzip", b"x-gzip"):
            return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        if encoding == b"deflate":
            return zlib.decompressobj()
        if encoding == b"br":
            try:
                import brotli
            except ImportError:
                return None
            return _BrotliDecoder(brotli.Decompressor())
        return None

    async def _fail(self, scope: Scope, send: Send, status: int, detail: str = "") -> None:
        """A short error page, and an event for failures of the upstream."""
        title, text = _ERRORS[status]
        headers, body = _error_page(status, title, text)
        if self.signals is not None:
            state = scope.get("state")
            if state is not None:
                state[RESPONSE_STATUS] = status
            method = scope.get("method", "GET")
            headers = self.signals.head(scope.get("path") or "/", method, status, headers)[0]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body}
        )
        if status >= 500 and self.guard is not None:
            logger.warning("%s %s: %s", status, scope.get("path"), detail or title)
            facts = RequestFacts.from_scope(scope, self.guard.trusted_proxies)
            decision = (scope.get("state") or {}).get("noaiguard")
            self.guard.record_failure(facts, decision, status=status, reason=detail or title)


class _BrotliDecoder:
    def __init__(self, decompressor: Any) -> None:
        self._decompressor = decompressor

    def decompress(self, data: bytes) -> bytes:
        result: bytes = self._decompressor.process(data)
        return result

    def flush(self) -> bytes:
        return b""

    @property
    def eof(self) -> bool:
        """The whole compressed stream has been read (as ``zlib``'s decompressors say it)."""
        return bool(self._decompressor.is_finished())


def _body_length(headers: RawHeaders, status: int) -> int | None:
    """The body's Content-Length, when the response has a body and says how long it is."""
    if status in (204, 304) or status < 200:
        return None
    for name, value in headers:
        if name == _CONTENT_LENGTH:
            return int(value) if value.isdigit() else None
    return None


def _decoded(piece: bytes, decoder: Any, remaining: int | None) -> tuple[bytes, bool, int | None]:
    """A piece of the upstream's body as it goes to the client (decompressed when re-encoding),
    whether it is the last, and how many bytes of the body are still to come (None: unknown)."""
    if decoder is not None:
        chunk = decoder.decompress(piece)
        if decoder.eof:
            return chunk + decoder.flush(), True, None
        return chunk, False, None
    if remaining is None:
        return piece, False, None
    remaining -= len(piece)
    return piece, remaining <= 0, remaining


async def _watch_disconnect(receive: Receive, response: httpx.Response) -> None:
    """Close the upstream response as soon as the client disconnects."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            await response.aclose()
            return


class HtmlReencoder:
    """Compresses again, with gzip, the HTML that ProxyApp decompressed for the meta tag."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        compressor: Any = None

        async def send_encoded(message: Message) -> None:
            nonlocal compressor
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                if any(name == _REENCODE for name, _ in headers):
                    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
                    message["headers"] = [
                        (k, v) for k, v in headers if k not in (_REENCODE, _CONTENT_LENGTH)
                    ] + [(_CONTENT_ENCODING, b"gzip")]
            elif message["type"] == "http.response.body" and compressor is not None:
                data = compressor.compress(message.get("body", b""))
                if not message.get("more_body", False):
                    data += compressor.flush()
                else:
                    data += compressor.flush(zlib.Z_SYNC_FLUSH)
                message = {**message, "body": data}
            await send(message)

        await self.app(scope, receive, send_encoded)


class HealthEndpoint:
    """The health path: 200 when the upstream answers (with any status), 503 when not.

    The middleware routes the path here before any policy applies, so a load balancer is never
    refused. The answer is kept for a second, so a load balancer polling many times a second does
    not become load on the upstream.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        origin: Origin,
        *,
        timeout: float,
        ttl: float = 1.0,
    ) -> None:
        self._origin = str(origin)
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout)
        self._ttl = ttl
        self._last: tuple[float, bool, str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        up, detail = await self._probe()
        body = json.dumps(
            {"status": "ok" if up else "upstream-down", "upstream": self._origin, "detail": detail}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200 if up else 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    async def _probe(self) -> tuple[bool, str]:
        now = time.monotonic()
        last = self._last
        if last is not None and now - last[0] < self._ttl:
            return last[1], last[2]
        try:
            response = await self._client.request("HEAD", self._origin + "/")
            up, detail = True, f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            up, detail = False, f"{type(exc).__name__}: {exc}"
        self._last = (now, up, detail)
        return up, detail


def create_proxy_app(
    config: Config, *, upstream_url: str | None = None, store: EventStore | None = None
) -> ASGIApp:
    """The whole proxy for ``config``: health endpoint, guard, and the forwarding app.

    ``store`` replaces the store ``config.store.url`` names (tests pass an in-memory one).
    Raises ValueError when no upstream is given, here or in ``config.proxy.upstream``.
    """
    settings = config.proxy
    url = upstream_url or settings.upstream
    if not url:
        raise ValueError("no upstream: give --upstream or proxy.upstream in the config")
    limits, timeouts = settings.limits, settings.timeouts
    upstream = Upstream(
        url,
        max_connections=limits.max_connections,
        max_idle=limits.max_idle,
        idle_seconds=limits.idle_seconds,
        timeouts=Timeouts(timeouts.connect, timeouts.read, timeouts.write, timeouts.pool),
    )
    transport = UpstreamTransport(upstream)
    guard = Guard(config, store=store)
    endpoints = (
        {settings.health_path: HealthEndpoint(transport, upstream.origin, timeout=timeouts.connect)}
        if settings.health_path
        else {}
    )
    forwarding = ProxyApp(
        transport, upstream.origin, settings, guard, signals=ResponseSignals.of(guard)
    )
    app: ASGIApp = NoAIGuardMiddleware(
        forwarding, guard=guard, endpoints=endpoints, app_signals=forwarding.signals
    )
    return HtmlReencoder(app) if settings.reencode_html else app
