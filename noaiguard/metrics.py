"""Live metrics for Prometheus: what the guard decides, for whom, and how long deciding takes.

Off by default (``metrics.enabled``). Then the guard has no :class:`Metrics` and the middleware's
request path is what it was, but for reading one attribute. On, a judged request costs two clock
readings and a few counter steps, and never a lock:

- prometheus_client's own ``Counter`` and ``Histogram`` take a lock on every ``inc()`` and
  ``observe()``. Here every count is an ``itertools.count``, whose ``next()`` is one atomic step
  under the GIL, so threads never lose an increment (as in :mod:`noaiguard.tally`). A custom
  collector reads the counts when Prometheus scrapes; that is the only place a lock is taken.
- An ``itertools.count`` cannot be read without stepping it, so a read steps it too and the
  collector remembers how many reads it made: the count is ``next(counter)`` minus earlier reads.
- Labels stay few. Categories and actions are fixed lists, and agent names come from the crawler
  database (the built-in one plus ``agents.extra``), so the series of
  ``noaiguard_agent_requests_total`` are bounded; a request from no known agent is counted by
  category only.
- The latency histogram measures the guard itself (classification, policy, behaviour), not the
  app behind it. Its buckets are counters picked with ``bisect``; its sum is kept per thread, so
  each sum has one writer and needs no lock either.

prometheus_client is imported only when metrics are on, and every :class:`Metrics` has a registry
of its own (no global ``REGISTRY``), so two guards in one process report separately. Metrics are
per process: with several worker processes, each answers with its own counts.
"""

from __future__ import annotations

import bisect
import hmac
import itertools
import logging
import socket
import socketserver
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import TYPE_CHECKING

from ._types import RawHeaders, Receive, Scope, Send
from .errors import NoAIGuardError

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from .categories import Category
    from .config import Action, MetricsConfig
    from .policy import Decision
    from .sink import EventSink

logger = logging.getLogger("noaiguard.metrics")

#: Upper bounds of the latency buckets, in seconds. A decision the cache answers takes a few
#: microseconds; a new User-Agent, or behaviour scoring, some tens to hundreds.
LATENCY_BUCKETS = (
    0.000001,
    0.0000025,
    0.000005,
    0.00001,
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.1,
)
#: The path a listener of its own (``metrics.port``) answers: Prometheus' default metrics_path.
LISTENER_PATH = "/metrics"
_INSTALL = "live metrics (metrics.enabled) need prometheus-client: pip install 'noaiguard[metrics]'"
_READ = ("GET", "HEAD")
_AUTHORIZATION = b"authorization"
_ACCEPT = b"accept"
_TEXT = (b"content-type", b"text/plain; charset=utf-8")
_NO_STORE = (b"cache-control", b"no-store")


def require_client() -> ModuleType:
    """The prometheus_client package, or a NoAIGuardError that names the extra to install."""
    try:
        import prometheus_client
    except ImportError as exc:
        raise NoAIGuardError(_INSTALL) from exc
    return prometheus_client


class Metrics:
    """Counts for Prometheus, kept lock-free on the request path and read at scrape time.

    The front door calls :meth:`decided` once per judged request. Scrapes come in through
    :meth:`serve` (an ASGI endpoint for ``metrics.path``) or the listener :meth:`listen` starts
    (``metrics.port``); both need the bearer token when one is configured.
    """

    def __init__(self, config: MetricsConfig, sink: EventSink | None = None) -> None:
        client = require_client()
        self.config = config
        #: The path the middleware answers with the metrics ("" with a listener of its own).
        self.path = config.path
        self._token = config.bearer_token.encode("ascii")
        self._sink = sink
        self._requests: dict[tuple[Category, Action], itertools.count[int]] = {}
        self._agents: dict[tuple[str, Category, Action], itertools.count[int]] = {}
        self._bounds = LATENCY_BUCKETS
        self._buckets = tuple(itertools.count() for _ in range(len(LATENCY_BUCKETS) + 1))
        self._sums: dict[int, list[float]] = {}  # by thread id; only that thread writes its cell
        self._reads: dict[itertools.count[int], int] = {}
        self._read_lock = threading.Lock()
        self.registry = client.CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        client.ProcessCollector(registry=self.registry)
        self._listener: _Listener | None = None
        self._listener_thread: threading.Thread | None = None
        self._listener_lock = threading.Lock()

    # -- the request path -----------------------------------------------------------------

    def decided(self, decision: Decision, seconds: float) -> None:
        """Count one judged request, and the ``seconds`` the guard took to judge it."""
        verdict = decision.verdict
        category, action = verdict.category, decision.action
        key = (category, action)
        counter = self._requests.get(key)
        if counter is None:
            counter = self._requests.setdefault(key, itertools.count())
        next(counter)
        agent = verdict.agent
        if agent is not None:
            agent_key = (agent.name, category, action)
            counter = self._agents.get(agent_key)
            if counter is None:
                counter = self._agents.setdefault(agent_key, itertools.count())
            next(counter)
        next(self._buckets[bisect.bisect_left(self._bounds, seconds)])
        thread = threading.get_ident()
        cell = self._sums.get(thread)
        if cell is None:
            cell = self._sums.setdefault(thread, [0.0])
        cell[0] += seconds

    # -- scraping -------------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """The metric families, read now (prometheus_client's Collector protocol)."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )
        from prometheus_client.utils import floatToGoString

        with self._read_lock:
            requests = sorted((k, self._read(c)) for k, c in list(self._requests.items()))
            agents = sorted((k, self._read(c)) for k, c in list(self._agents.items()))
            buckets = [self._read(c) for c in self._buckets]
            latency_sum = sum(cell[0] for cell in list(self._sums.values()))

        family = CounterMetricFamily(
            "noaiguard_requests",
            "Requests the guard judged, by client category and the policy's action (in monitor "
            "mode, the action it would take).",
            labels=("category", "action"),
        )
        for (category, action), value in requests:
            family.add_metric((str(category), str(action)), value)
        yield family

        family = CounterMetricFamily(
            "noaiguard_agent_requests",
            "Requests the guard judged from agents in its crawler database, by agent, category "
            "(spoofed-bot for a false claim) and action.",
            labels=("agent", "category", "action"),
        )
        for (agent, category, action), value in agents:
            family.add_metric((agent, str(category), str(action)), value)
        yield family

        cumulative = list(itertools.accumulate(buckets))
        bounds = [*map(floatToGoString, self._bounds), "+Inf"]
        yield HistogramMetricFamily(
            "noaiguard_guard_latency_seconds",
            "Time the guard took to judge a request (classification, policy, behaviour; not the "
            "app's time).",
            buckets=list(zip(bounds, cumulative, strict=True)),
            sum_value=latency_sum,
            unit="seconds",
        )

        sink = self._sink
        if sink is None:
            return
        for name, value, text in (
            ("written", sink.written, "Events the store accepted."),
            ("spilled", sink.spilled, "Events written to the spill file while the store was down."),
            ("dropped", sink.dropped, "Events lost: queue full, or spill file full or off."),
        ):
            yield CounterMetricFamily(f"noaiguard_events_{name}", text, value=value)
        yield GaugeMetricFamily(
            "noaiguard_events_queued", "Records waiting for the event writer.", value=sink.queued
        )

    def _read(self, counter: itertools.count[int]) -> int:
        """A counter's value; under the read lock (the read steps the counter, see above)."""
        reads = self._reads.get(counter, 0)
        self._reads[counter] = reads + 1
        return next(counter) - reads

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The metrics in the format ``accept`` asks for (Prometheus text unless OpenMetrics)."""
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type

    def authorized(self, authorization: bytes | None) -> bool:
        """Whether an ``Authorization`` header carries the token (RFC 6750 section 2.1).

        Compared in constant time. Without a configured token (a listener on loopback), anyone
        who can connect may read the metrics.
        """
        if not self._token:
            return True
        if authorization is None:
            return False
        scheme, _, credentials = authorization.strip().partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._token)

    def answer(
        self, method: str, authorization: bytes | None, accept: bytes | None
    ) -> tuple[int, RawHeaders, bytes]:
        """Status, headers and body for a scrape (the body even for HEAD; the caller drops it)."""
        if not self.authorized(authorization):
            challenge = b'Bearer realm="noaiguard metrics"'
            if authorization is not None:
                challenge += b', error="invalid_token"'
            body = b"401 Unauthorized: send Authorization: Bearer <token>\n"
            return 401, [(b"www-authenticate", challenge), _TEXT, _NO_STORE], body
        if method not in _READ:
            return 405, [(b"allow", b"GET, HEAD"), _TEXT, _NO_STORE], b"405 Method Not Allowed\n"
        body, content_type = self.render(accept.decode("latin-1") if accept else "")
        headers = [
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", str(len(body)).encode("ascii")),
            _NO_STORE,
        ]
        return 200, headers, body

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a scrape on the site's own port (``metrics.path``), an ASGI endpoint."""
        authorization = accept = None
        for name, value in scope.get("headers") or ():
            lowered = name.lower()
            if lowered == _AUTHORIZATION:
                authorization = bytes(value)
            elif lowered == _ACCEPT:
                accept = bytes(value)
        method = scope.get("method", "GET")
        status, headers, body = self.answer(method, authorization, accept)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

    # -- a listener of its own ------------------------------------------------------------

    def listen(self) -> None:
        """Start the listener on ``metrics.host:port`` (no-op without a port, or when running).

        It runs on daemon threads, so it never holds up an exit; :meth:`close` stops it.
        Raises NoAIGuardError when the address cannot be bound.
        """
        host, port = self.config.host, self.config.port
        if not port:
            return
        with self._listener_lock:
            if self._listener is not None:
                return
            try:
                listener = _Listener(host, port, self)
            except OSError as exc:
                raise NoAIGuardError(
                    f"metrics.port: cannot listen on {host}:{port}: {exc}"
                ) from exc
            thread = threading.Thread(
                target=listener.serve_forever, name="noaiguard-metrics", daemon=True
            )
            thread.start()
            self._listener, self._listener_thread = listener, thread
        logger.info("metrics on http://%s:%d%s", host, port, LISTENER_PATH)

    @property
    def address(self) -> tuple[str, int] | None:
        """Where the listener is bound, or None when it is not running."""
        listener = self._listener
        if listener is None:
            return None
        host, port = listener.socket.getsockname()[:2]
        return str(host), int(port)

    def close(self) -> None:
        """Stop the listener, if one runs."""
        with self._listener_lock:
            listener, self._listener = self._listener, None
            thread, self._listener_thread = self._listener_thread, None
        if listener is not None:
            listener.shutdown()
            listener.server_close()
        if thread is not None:
            thread.join(5.0)


class _Listener(ThreadingHTTPServer):
    """The HTTP server of ``metrics.port``: one thread per scrape, none left behind at exit."""

    daemon_threads = True

    def __init__(self, host: str, port: int, metrics: Metrics) -> None:
        self.metrics = metrics
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), _ScrapeHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's fully qualified name, which can wait on DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _ScrapeHandler(BaseHTTPRequestHandler):
    """GET or HEAD /metrics, with the token when one is configured; 404 for other paths."""

    server_version = "noaiguard"
    sys_version = ""

    def do_GET(self) -> None:
        self._respond()

    def do_HEAD(self) -> None:
        self._respond()

    def _respond(self) -> None:
        server = self.server
        assert isinstance(server, _Listener)
        if self.path.partition("?")[0] != LISTENER_PATH:
            status: int = 404
            headers: Sequence[tuple[bytes, bytes]] = [_TEXT, _NO_STORE]
            body = f"404 Not Found: the metrics are at {LISTENER_PATH}\n".encode()
        else:
            authorization = self.headers.get("Authorization")
            accept = self.headers.get("Accept")
            status, headers, body = server.metrics.answer(
                self.command,
                authorization.encode("latin-1") if authorization is not None else None,
                accept.encode("latin-1") if accept is not None else None,
            )
        self.send_response(status)
        for name, value in headers:
            self.send_header(name.decode("latin-1"), value.decode("latin-1"))
        if not any(name == b"content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("metrics listener: " + format, *args)
