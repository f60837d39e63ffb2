"""NoAIGuardMiddleware: pure ASGI, so it runs unchanged under Starlette, FastAPI, Django's ASGI
handler and noaiguard's own proxy.

For each HTTP request it builds the request facts, answers the paths noaiguard owns
(``/robots.txt``), asks the guard for a decision, and then either sends the block response or calls
the app with a wrapped ``send`` that adds ``X-Robots-Tag`` to every response and injects the robots
meta tag into HTML pages as they stream. Bodies are never buffered, except for the bounded
look-ahead of the HTML injector. Mount compression (GZip) *outside* this middleware, so that it
sees the HTML before it is compressed.

Everything costly is prepared in ``__init__``; per-request state lives in a :class:`_SignalingSend`
made for that request. If noaiguard itself fails on a request, the request is let through and the
error logged: the guard must never be the reason a site is down.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from typing import Any

import anyio

from ._types import ASGIApp, Message, RawHeaders, Receive, Scope, Send
from .actions import BlockResponder
from .config import Action, Config, load_config
from .facts import RequestFacts
from .guard import Guard
from .policy import Decision
from .signals.headers import X_ROBOTS_TAG, merge_x_robots_tag
from .signals.html import HeadInjector

logger = logging.getLogger("noaiguard.middleware")

_CONTENT_TYPE = b"content-type"
_CONTENT_ENCODING = b"content-encoding"
_CONTENT_LENGTH = b"content-length"
_HTML_TYPES = ("text/html",)
_ROBOTS_PATH = "/robots.txt"
_MAX_APP_ROBOTS = 512 * 1024
_APP_ROBOTS_HOSTS = 64
_APP_ROBOTS_TIMEOUT = 5.0
#: Request headers that would make the app answer robots.txt with 304 or 206 instead of the file.
_CONDITIONAL = frozenset({b"if-none-match", b"if-modified-since", b"range", b"if-range"})


class NoAIGuardMiddleware:
    """Sends AI opt-out signals on every response and enforces the policy.

    ``config`` is a path to a YAML file, a :class:`~noaiguard.config.Config`, or None for the
    built-in defaults; pass ``guard`` instead to share one engine between several front doors.
    A broken config raises :class:`~noaiguard.errors.ConfigError` here, before anything is served.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: str | os.PathLike[str] | Config | None = None,
        *,
        guard: Guard | None = None,
    ) -> None:
        if guard is None:
            if config is None or isinstance(config, Config):
                guard = Guard(config)
            else:
                guard = Guard(load_config(os.fspath(config)))
        self.app = app
        self.guard = guard
        self._block = BlockResponder(guard.config.policy.block)
        self._app_robots = (
            _AppRobots(app, guard.config.signals.robots_txt.app_cache_seconds)
            if guard.robots is not None and guard.config.signals.robots_txt.merge_app
            else None
        )
        self._html_lookahead = guard.config.signals.html_meta.max_lookahead

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # -- lifespan -------------------------------------------------------------------------

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the lifespan through, and write every queued event when the server stops."""
        guard = self.guard

        async def send_and_flush(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await anyio.to_thread.run_sync(guard.close)
            await send(message)

        await self.app(scope, receive, send_and_flush)

    # -- HTTP -----------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        guard = self.guard
        try:
            facts = RequestFacts.from_scope(scope, guard.trusted_proxies)
            if (
                facts.path == _ROBOTS_PATH
                and guard.robots is not None
                and facts.method
                in (
                    "GET",
                    "HEAD",
                )
            ):
                await self._serve_robots(scope, facts, send)
                return
            decision = guard.inspect(facts)
        except Exception:
            logger.exception("noaiguard failed on a request; letting it through")
            scope.setdefault("state", {})["noaiguard"] = None
            await self.app(scope, receive, send)
            return

        state = scope.get("state")
        if state is None:
            scope["state"] = state = {}
        state["noaiguard"] = decision

        if decision.effective_action is Action.BLOCK:
            directives = guard.x_robots_tag.directives_for(facts.path, self._block.content_type)
            served = await self._block.respond(
                send, head=facts.method == "HEAD", directives=directives
            )
            body = 0 if facts.method == "HEAD" else len(self._block.body)
            guard.record(
                facts, decision, status=self._block.status, bytes_sent=body, x_robots_tag=served
            )
            return

        signaling = _SignalingSend(send, guard, facts, decision, self._html_lookahead)
        try:
            await self.app(scope, receive, signaling)
        finally:
            signaling.finished()

    async def _serve_robots(self, scope: Scope, facts: RequestFacts, send: Send) -> None:
        robots = self.guard.robots
        assert robots is not None
        app_body = await self._app_robots.get(scope, facts.host) if self._app_robots else None
        body = robots.render(app_body)
        headers: RawHeaders = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"cache-control", b"public, max-age=300"),
        ]
        merge_x_robots_tag(
            headers, self.guard.x_robots_tag.directives_for(facts.path, "text/plain")
        )
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if facts.method == "HEAD" else body})


class _SignalingSend:
    """The ``send`` the app gets: adds the signals, injects the meta tag, records the outcome."""

    __slots__ = (
        "_bytes",
        "_decision",
        "_facts",
        "_guard",
        "_held",
        "_injector",
        "_length_index",
        "_lookahead",
        "_recorded",
        "_send",
        "_status",
        "_x_robots",
    )

    def __init__(
        self, send: Send, guard: Guard, facts: RequestFacts, decision: Decision, lookahead: int
    ) -> None:
        self._send = send
        self._guard = guard
        self._facts = facts
        self._decision = decision
        self._lookahead = lookahead
        self._held: Message | None = None
        self._injector: HeadInjector | None = None
        self._length_index = -1
        self._status = 0
        self._bytes = 0
        self._x_robots = ""
        self._recorded = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            await self._body(message)
        elif kind == "http.response.start":
            await self._start(message)
        else:
            # pathsend, trailers...: the body cannot be rewritten, send what is held unchanged.
            if self._held is not None:
                await self._send(self._held)
                self._held = self._injector = None
            await self._send(message)

    async def _start(self, message: Message) -> None:
        headers = list(message.get("headers") or ())
        content_type = encoding = ""
        for index, (name, value) in enumerate(headers):
            lowered = name.lower()
            if lowered == _CONTENT_TYPE:
                content_type = value.decode("latin-1")
            elif lowered == _CONTENT_ENCODING:
                encoding = value.decode("latin-1").strip().lower()
            elif lowered == _CONTENT_LENGTH:
                self._length_index = index
        guard, facts = self._guard, self._facts
        merge_x_robots_tag(headers, guard.x_robots_tag.directives_for(facts.path, content_type))
        message["headers"] = headers
        self._status = int(message.get("status", 200))
        if self._decision.action is not Action.ALLOW:
            self._x_robots = _header_value(headers, X_ROBOTS_TAG)
        if self._should_inject(content_type, encoding):
            self._injector = HeadInjector(guard.meta_directives, self._lookahead)
            self._held = message
            return
        await self._send(message)

    def _should_inject(self, content_type: str, encoding: str) -> bool:
        guard, facts = self._guard, self._facts
        if self._status != 200 or facts.method == "HEAD" or not guard.meta_directives:
            return False
        if encoding not in ("", "identity"):
            return False
        media_type, _, params = content_type.partition(";")
        if media_type.strip().lower() not in _HTML_TYPES:
            return False
        if "utf-16" in params.lower() or "utf-32" in params.lower():
            return False  # an ASCII tag would corrupt a two- or four-byte encoding
        return not guard.meta_excluded.matches(facts.path)

    async def _body(self, message: Message) -> None:
        injector = self._injector
        if injector is None:
            self._bytes += len(message.get("body", b""))
            await self._send(message)
            return
        body = message.get("body", b"")
        more = bool(message.get("more_body", False))
        out = injector.feed(body)
        if not more:
            out += injector.finish()
        if injector.done:
            self._injector = None
            if self._held is not None:
                self._fix_length(self._held, injector.delta)
                await self._send(self._held)
                self._held = None
        if self._held is None and (out or not more):
            self._bytes += len(out)
            await self._send({"type": "http.response.body", "body": out, "more_body": more})

    def _fix_length(self, start: Message, delta: int) -> None:
        if not delta or self._length_index < 0:
            return
        headers = start["headers"]
        name, value = headers[self._length_index]
        try:
            length = int(value)
        except ValueError:
            return
        headers[self._length_index] = (name, str(length + delta).encode("ascii"))

    def finished(self) -> None:
        """The app returned (or failed): record the decision once, with what was sent."""
        if self._recorded:
            return
        self._recorded = True
        if self._decision.action is not Action.ALLOW:
            self._guard.record(
                self._facts,
                self._decision,
                status=self._status or 500,
                bytes_sent=self._bytes,
                x_robots_tag=self._x_robots,
            )


def _header_value(headers: RawHeaders, name: bytes) -> str:
    return ", ".join(v.decode("latin-1") for k, v in headers if k.lower() == name)


class _AppRobots:
    """The app's own robots.txt, read through the app itself and cached per host for a while."""

    def __init__(self, app: ASGIApp, ttl: float) -> None:
        self._app = app
        self._ttl = ttl
        self._cache: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()

    async def get(self, scope: Scope, host: str) -> bytes | None:
        now = time.monotonic()
        hit = self._cache.get(host)
        if hit is not None and hit[0] > now:
            self._cache.move_to_end(host)
            return hit[1]
        body = await self._fetch(scope)
        self._cache[host] = (now + self._ttl, body)
        self._cache.move_to_end(host)
        while len(self._cache) > _APP_ROBOTS_HOSTS:
            self._cache.popitem(last=False)
        return body

    async def _fetch(self, scope: Scope) -> bytes | None:
        """GET /robots.txt from the app; None unless it answers 200 with a plain-text file."""
        sub: dict[str, Any] = dict(scope)
        sub.update(
            method="GET",
            path=_ROBOTS_PATH,
            raw_path=_ROBOTS_PATH.encode(),
            query_string=b"",
            headers=[(k, v) for k, v in scope.get("headers", ()) if k.lower() not in _CONDITIONAL],
        )
        sub["state"] = dict(scope.get("state") or {})
        status = 0
        content_type = ""
        chunks: list[bytes] = []
        size = 0
        finished = anyio.Event()
        requested = False

        async def receive() -> Message:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, content_type, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", ()):
                    if name.lower() == _CONTENT_TYPE:
                        content_type = value.decode("latin-1").lower()
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                if size < _MAX_APP_ROBOTS:
                    chunks.append(body[: _MAX_APP_ROBOTS - size])
                    size += len(chunks[-1])
                if not message.get("more_body", False):
                    finished.set()

        try:
            with anyio.move_on_after(_APP_ROBOTS_TIMEOUT):
                await self._app(sub, receive, send)
        except Exception:
            logger.warning("the app failed to serve its own robots.txt", exc_info=True)
            return None
        finally:
            finished.set()
        body = b"".join(chunks)
        if status != 200 or "html" in content_type or body.lstrip()[:1] == b"<":
            return None  # no robots.txt, or a single-page app answering every path with HTML
        return body
