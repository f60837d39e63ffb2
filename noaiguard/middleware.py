"""NoAIGuardMiddleware: pure ASGI, so it runs unchanged under Starlette, FastAPI, Django's ASGI
handler and noaiguard's own proxy.

For each HTTP request it builds the request facts, answers the paths noaiguard owns
(``/robots.txt``), asks the guard for a decision, and then either sends the block response or calls
the app with a wrapped ``send`` that adds ``X-Robots-Tag`` to every response and injects the robots
meta tag into HTML pages as they stream. Bodies are never buffered, except for the bounded
look-ahead of the HTML injector. Mount compression (GZip) *outside* this middleware, so that it
sees the HTML before it is compressed.

Everything costly is prepared in ``__init__``; per-request state lives in the closure that wraps
``send`` for that request. If noaiguard itself fails on a request, the request is let through and
the error logged: the guard must never be the reason a site is down.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import Any

import anyio

from ._types import ASGIApp, Message, RawHeaders, Receive, Scope, Send
from .actions import BlockResponder, Tarpit
from .classify.useragent import MAX_CACHED_LENGTH
from .config import Action, Config
from .facts import RequestFacts, client_address
from .guard import Guard
from .policy import Decision
from .signals.headers import X_ROBOTS_TAG, merge_x_robots_tag
from .signals.imagestamp import ImageStamping
from .signals.response import (
    RESPONSE_STATUS,
    Outcome,
    RecordingSend,
    ResponseSignals,
    SignalingSend,
    header_value,
)
from .signals.siterobots import (
    CONDITIONAL_HEADERS,
    FAILED,
    MAX_BYTES,
    TIMEOUT_SECONDS,
    Reading,
    SiteRobotsCache,
    read_answer,
)

logger = logging.getLogger("noaiguard.middleware")

_USER_AGENT = b"user-agent"
_CONTENT_TYPE = b"content-type"
_CONTENT_ENCODING = b"content-encoding"
_CONTENT_LENGTH = b"content-length"
_READ = ("GET", "HEAD")
_ALLOW = Action.ALLOW
_REFUSE = frozenset({Action.BLOCK, Action.TARPIT})
#: The status recorded when a client hung up before its answer (nginx's convention).
_CLIENT_GONE = 499
_ROBOTS_PATH = "/robots.txt"


class NoAIGuardMiddleware:
    """Sends AI opt-out signals on every response and enforces the policy.

    ``config`` is a path to a YAML file, a :class:`~noaiguard.config.Config`, or None for the
    built-in defaults; pass ``guard`` instead to share one engine between several front doors.
    A broken config raises :class:`~noaiguard.errors.ConfigError` here, before anything is served.
    ``endpoints`` maps paths to ASGI apps that answer them before any policy applies (the
    proxy's health check). ``app_signals`` are the response signals of an app that puts them in
    its responses itself, as noaiguard's proxy does while it builds each response from the
    upstream's (one pass over the headers, and a page tagged before its head goes out, instead
    of a second layer that holds the head and rebuilds both): the middleware then passes that
    app's responses on as they are, and reads each one's status from the request state
    (:data:`~noaiguard.signals.response.RESPONSE_STATUS`).
    """

    def __init__(
        self,
        app: ASGIApp,
        config: str | os.PathLike[str] | Config | None = None,
        *,
        guard: Guard | None = None,
        endpoints: Mapping[str, ASGIApp] | None = None,
        app_signals: ResponseSignals | None = None,
    ) -> None:
        guard = guard if guard is not None else Guard.of(config)
        self.app = app
        self.guard = guard
        self._endpoints = dict(endpoints or {})
        # Live metrics (None when off): answered on metrics.path, or by a listener of their own.
        self._metrics = metrics = guard.metrics
        if metrics is not None:
            if metrics.path:
                self._endpoints[metrics.path] = metrics.serve
            else:
                metrics.listen()
        self._block = BlockResponder(guard.config.policy.block)
        self.tarpit = Tarpit(guard.config.policy.tarpit, self._block)
        self._app_robots = (
            _AppRobots(app, guard.config.signals.robots_txt.app_cache_seconds)
            if guard.robots is not None and guard.config.signals.robots_txt.merge_app
            else None
        )
        self._tally = self.guard.tally
        self._signals = app_signals if app_signals is not None else ResponseSignals.of(guard)
        #: True when the app signals its responses itself (see ``app_signals``).
        self._app_signals = app_signals is not None
        stamp = guard.config.signals.stamp_images
        #: Stamps the opt-out into image responses (None: off, the default).
        self._stamping = ImageStamping(stamp) if stamp.enabled else None
        # The paths answered before any policy applies: robots.txt and the given endpoints.
        self._own_paths = (
            frozenset(self._endpoints)
            | frozenset(guard.own_files)
            | ({_ROBOTS_PATH} if guard.robots is not None else frozenset())
        )
        #: Guard.fast_decision's cache, called here without the method around it (this is the
        #: path of nearly every request); None when the policy has rules for paths or methods.
        self._fast_decisions = guard.fast_decisions
        self._count_only = guard.count_only
        # The client's address (verification, behaviour) is judged on the fast path too: the
        # socket's, or X-Forwarded-For's through the trusted proxies.
        self._judging = guard.behaviour is not None or guard.verifier is not None
        self._trusted = guard.trusted_proxies
        #: No trusted proxies: the client's address is the socket's, read inline (kept here:
        #: the TrustedProxies' own truth test is a Python call).
        self._socket_address = not guard.trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return

        # The fast path, inline: most clients' decision depends on their User-Agent alone and is
        # cached, and an allowed one needs no RequestFacts and no coroutine beyond this one.
        path: str = scope.get("path") or "/"
        if path in self._own_paths and await self._serve_own_path(scope, receive, send, path):
            return
        metrics = self._metrics
        started = perf_counter() if metrics is not None else 0.0
        try:
            headers = scope.get("headers") or ()
            user_agent = _user_agent(headers)
            fast_decisions = self._fast_decisions
            fast = (
                fast_decisions(user_agent)
                if fast_decisions is not None and len(user_agent) <= MAX_CACHED_LENGTH
                else None
            )
            decision = fast.decision if fast is not None else None
            if fast is not None and self._judging:
                if self._socket_address:  # (client_address's first case, without the call)
                    client = scope.get("client")
                    client_ip = str(client[0]) if client else None
                else:
                    client_ip = client_address(scope, self._trusted)
                if client_ip is not None and not self._count_only(fast, client_ip, path):
                    decision = self.guard.judge(
                        fast.decision,
                        client_ip,
                        path,
                        headers,
                        http_version=scope.get("http_version", "1.1"),
                    )
        except Exception:
            await self._let_through(scope, receive, send)
            return
        if decision is not None and decision.action is _ALLOW:
            if metrics is not None:
                metrics.decided(decision, perf_counter() - started)
            state = scope.get("state")
            if state is None:
                scope["state"] = state = {}
            state["noaiguard"] = decision
            if self._stamping is not None:
                send = self._stamping.wrap(scope, send)
            if self._app_signals:
                try:
                    await self.app(scope, receive, send)
                finally:
                    status = state.get(RESPONSE_STATUS) or 500
                    self._tally.count(decision.verdict.category, _ALLOW, status)
                return
            sending = SignalingSend(self._signals, send, path, scope.get("method", "GET"))
            try:
                await self.app(scope, receive, sending)
            finally:
                self._tally.count(decision.verdict.category, _ALLOW, sending.status or 500)
            return
        await self._enforce(scope, receive, send, path, decision, started=started)

    async def _enforce(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        path: str,
        decision: Decision | None,
        *,
        started: float = 0.0,
    ) -> None:
        """The rest of the decisions: those that need the full request, refusals, logging.

        A ``decision`` given here comes from the fast path, behaviour included; without one the
        request is inspected in full and its behaviour judged with the client address the
        trusted proxies name. ``started`` is when deciding began (``perf_counter``), for metrics.
        """
        guard = self.guard
        try:
            facts = RequestFacts.from_scope(scope, guard.trusted_proxies)
            if decision is None:
                decision = guard.judge(
                    guard.inspect(facts),
                    facts.client_ip,
                    facts.path,
                    facts.headers,
                    http_version=scope.get("http_version", "1.1"),
                    method=facts.method,
                )
        except Exception:
            await self._let_through(scope, receive, send)
            return
        if self._metrics is not None:
            self._metrics.decided(decision, perf_counter() - started)
        state = scope.setdefault("state", {})
        state["noaiguard"] = decision
        category, action = decision.verdict.category, decision.action
        if self._stamping is not None and decision.effective_action not in _REFUSE:
            send = self._stamping.wrap(scope, send)
        if decision.effective_action in _REFUSE:
            status = await self._refuse(facts, decision, receive, send)
            self._tally.count(category, action, status)
            return
        outcome = Outcome() if action is not _ALLOW else None
        signalling = (
            None
            if self._app_signals
            else SignalingSend(self._signals, send, path, facts.method, outcome)
        )
        if signalling is not None:
            sending: Send = signalling
        else:
            sending = send if outcome is None else RecordingSend(send, outcome)
        try:
            await self.app(scope, receive, sending)
        finally:
            # An app that signals itself records each response's status in the request state.
            status = (
                signalling.status if signalling is not None else state.get(RESPONSE_STATUS)
            ) or 500
            self._tally.count(category, action, status)
            if outcome is not None:
                guard.record(
                    facts,
                    decision,
                    status=status,
                    bytes_sent=outcome.bytes_sent,
                    x_robots_tag=outcome.x_robots_tag,
                )

    async def _serve_own_path(self, scope: Scope, receive: Receive, send: Send, path: str) -> bool:
        """Answer an endpoint's path, robots.txt or another file of noaiguard's own; False when
        the request is not for us."""
        endpoint = self._endpoints.get(path)
        if endpoint is not None:
            await endpoint(scope, receive, send)
            return True
        if scope.get("method", "GET") not in _READ:  # a POST to /robots.txt is the app's
            return False
        try:
            facts = RequestFacts.from_scope(scope, self.guard.trusted_proxies)
        except Exception:
            await self._let_through(scope, receive, send)
            return True
        if path in self.guard.own_files:
            file, headers = self.guard.own_file(facts)
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            body = b"" if facts.method == "HEAD" else file.body
            await send({"type": "http.response.body", "body": body})
            return True
        await self._serve_robots(scope, facts, send)
        return True

    async def _let_through(self, scope: Scope, receive: Receive, send: Send) -> None:
        """noaiguard failed on this request: log it and serve the request untouched."""
        logger.exception("noaiguard failed on a request; letting it through")
        scope.setdefault("state", {})["noaiguard"] = None
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

    async def _refuse(
        self, facts: RequestFacts, decision: Decision, receive: Receive, send: Send
    ) -> int:
        """Block, or hold in the tarpit and then block; record it; return the status sent."""
        head = facts.method == "HEAD"
        directives = self.guard.x_robots_tag.directives_for(facts.path, self._block.content_type)
        usage = self._signals.usage_for(facts.path)
        status = self._block.status
        if decision.effective_action is Action.TARPIT:
            served, _ = await self.tarpit.respond(
                receive, send, head=head, directives=directives, extra=usage
            )
            if not served:
                status = _CLIENT_GONE
        else:
            served = await self._block.respond(send, head=head, directives=directives, extra=usage)
        self.guard.record(
            facts,
            decision,
            status=status,
            bytes_sent=0 if head or status == _CLIENT_GONE else len(self._block.body),
            x_robots_tag=served,
        )
        return status

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
        headers += self._signals.usage_for(facts.path)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if facts.method == "HEAD" else body})
        self.guard.robots_served(facts, body, x_robots_tag=header_value(headers, X_ROBOTS_TAG))


def _user_agent(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The raw User-Agent header (the length test keeps lower-casing off the other headers), as
    bytes for the decision cache (``bytes()`` only for another buffer: it costs a call)."""
    for name, value in headers:
        if name == _USER_AGENT or (len(name) == 10 and name.lower() == _USER_AGENT):
            return value if type(value) is bytes else bytes(value)
    return b""


class _AppRobots:
    """The app's own robots.txt, read through the app itself (see :mod:`..signals.siterobots`)."""

    def __init__(self, app: ASGIApp, ttl: float) -> None:
        self._app = app
        self._cache = SiteRobotsCache(ttl)

    async def get(self, scope: Scope, host: str) -> bytes | None:
        fresh, body = self._cache.get(host)
        if fresh:
            return body
        return self._cache.put(host, await self._fetch(scope))

    async def _fetch(self, scope: Scope) -> Reading:
        """GET /robots.txt from the app, read as :func:`~..signals.siterobots.read_answer` says."""
        sub: dict[str, Any] = dict(scope)
        sub.update(
            method="GET",
            path=_ROBOTS_PATH,
            raw_path=_ROBOTS_PATH.encode(),
            query_string=b"",
            headers=[
                (k, v) for k, v in scope.get("headers", ()) if k.lower() not in CONDITIONAL_HEADERS
            ],
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
                        content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                if size < MAX_BYTES:
                    chunks.append(body[: MAX_BYTES - size])
                    size += len(chunks[-1])
                if not message.get("more_body", False):
                    finished.set()

        try:
            with anyio.move_on_after(TIMEOUT_SECONDS) as timer:
                await self._app(sub, receive, send)
        except Exception:
            logger.warning("the app failed to serve its own robots.txt", exc_info=True)
            return FAILED
        finally:
            finished.set()
        if timer.cancelled_caught:
            return FAILED
        return read_answer(status, content_type, b"".join(chunks))
