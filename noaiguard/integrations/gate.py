"""The request side of the front doors that see a WSGI-style environ: WSGI and Django.

The ASGI middleware speaks in messages; these front doors speak in whole responses (a status, a
header list, a body or an iterator of body chunks). :class:`Gate` holds what they share, so that
one YAML file behaves the same behind each of them:

* :meth:`Gate.decide` makes the decision the ASGI middleware makes (the cached User-Agent fast
  path, then the client's address and behaviour), and lets the request through, logged, if
  noaiguard itself fails;
* :meth:`Gate.refuse` builds the block response and records it;
* :meth:`Gate.x_robots_tag` gives the header a response should carry, merged with the app's own;
* :meth:`Gate.robots_txt` builds ``/robots.txt`` from the site's own file (read through the app,
  kept per :mod:`~noaiguard.signals.siterobots`) and noaiguard's groups.

A tarpit holds a request open to tie up a scraper's worker. Holding costs an asynchronous server
one sleeping task, but it costs a WSGI server one of its few threads, so the scraper would tie up
the site instead: synchronous front doors refuse at once what the policy would tarpit, and the
event says so. Django's middleware under ASGI holds, as the ASGI middleware does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from time import perf_counter
from typing import Any, NamedTuple

from ..actions import BlockResponder
from ..config import Action
from ..facts import RequestFacts, environ_path
from ..guard import Guard
from ..policy import Decision
from ..signals.headers import X_ROBOTS_TAG, merge_x_robots_tag, missing_agent_lines
from ..signals.response import ResponseSignals
from ..signals.siterobots import Reading, SiteRobotsCache
from ..signals.usage import NAMES as USAGE_NAMES

logger = logging.getLogger("noaiguard.integrations")

ROBOTS_PATH = "/robots.txt"
#: Decisions that refuse the request (what is actually carried out: monitor mode only logs).
REFUSING = frozenset({Action.BLOCK, Action.TARPIT})
_READ = frozenset({"GET", "HEAD"})
#: Environ key under which the WSGI middleware leaves the decision for the app.
ENVIRON_KEY = "noaiguard.decision"


class Answer(NamedTuple):
    """A response noaiguard makes itself: a refusal or robots.txt."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status_line(self) -> str:
        """``403 Forbidden``, for WSGI's ``start_response``."""
        try:
            return f"{self.status} {HTTPStatus(self.status).phrase}"
        except ValueError:
            return f"{self.status} Status"


class Gate:
    """One guard's per-request work for the WSGI and Django front doors."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.signals = ResponseSignals.of(guard)
        self.trusted = guard.trusted_proxies
        self.tally = guard.tally
        self.robots_enabled = guard.robots is not None
        robots = guard.config.signals.robots_txt
        #: The site's own robots.txt per host (None: served alone, the app's is not read).
        self.site_robots = (
            SiteRobotsCache(robots.app_cache_seconds)
            if guard.robots is not None and robots.merge_app
            else None
        )
        self._block = BlockResponder(guard.config.policy.block)
        tarpit = guard.config.policy.tarpit
        self.tarpit_seconds = tarpit.seconds
        self._tarpit_places = tarpit.max_concurrent
        #: Requests held in the tarpit right now (asynchronous front doors only).
        self.holding = 0
        #: The path that answers a Prometheus scrape ("" when none: off, or a listener of its own).
        self.metrics_path = ""
        metrics = guard.metrics
        if metrics is not None:
            if metrics.path:
                self.metrics_path = metrics.path
            else:
                metrics.listen()
        constant = self.signals.usage_constant
        self._usage_constant = (
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in constant]
            if constant is not None
            else None
        )
        xrt = guard.x_robots_tag
        pair = xrt.header_for("/") if not xrt.has_rules else None
        self._default_tag = [pair[1].decode("latin-1")] if pair is not None else None

    def _block_headers_raw(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"content-type", self._block.content_type.encode("latin-1")),
            (b"cache-control", b"private, no-store"),
        ]

    # -- deciding -------------------------------------------------------------------------

    def facts(
        self, environ: Mapping[str, Any], *, path: str = "", scheme: str = ""
    ) -> RequestFacts:
        """The request's facts; ``path`` defaults to SCRIPT_NAME + PATH_INFO, decoded."""
        return RequestFacts.from_environ(
            environ, self.trusted, path=path or environ_path(environ), scheme=scheme
        )

    def decide(self, facts: RequestFacts, http_version: str = "1.1") -> Decision | None:
        """The decision for a request, or None when noaiguard failed (then let it through)."""
        guard = self.guard
        started = perf_counter() if guard.metrics is not None else 0.0
        try:
            decision = guard.decide_by_user_agent(facts.user_agent.encode("latin-1", "replace"))
            if decision is None:
                decision = guard.inspect(facts)
            decision = guard.judge(
                decision,
                facts.client_ip,
                facts.path,
                facts.headers,
                http_version=http_version,
                method=facts.method,
            )
        except Exception:
            logger.exception("noaiguard failed on a request; letting it through")
            return None
        if guard.metrics is not None:
            guard.metrics.decided(decision, perf_counter() - started)
        return decision

    @staticmethod
    def refuses(decision: Decision | None) -> bool:
        return decision is not None and decision.effective_action in REFUSING

    # -- refusing -------------------------------------------------------------------------

    def refuse(self, facts: RequestFacts, decision: Decision, *, held: bool = False) -> Answer:
        """The block response for a refused request, recorded as an event.

        ``held``: the request was held in the tarpit first. A tarpit decision that was not held
        (a synchronous front door, or no place left) is recorded as the block it became.
        """
        if decision.action is Action.TARPIT and not held:
            reason = "tarpit answered at once: this front door does not hold requests"
            verdict = dataclasses.replace(
                decision.verdict, reasons=(*decision.verdict.reasons, reason)
            )
            decision = decision._replace(action=Action.BLOCK, verdict=verdict)
        raw = self._block_headers_raw()
        merge_x_robots_tag(
            raw, self.guard.x_robots_tag.directives_for(facts.path, self._block.content_type)
        )
        body = b"" if facts.method == "HEAD" else self._block.body
        raw.append((b"content-length", b"%d" % len(self._block.body)))
        raw += self.signals.usage_for(facts.path)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
        tag = ", ".join(v for k, v in headers if k == "x-robots-tag")
        self.guard.record(
            facts, decision, status=self._block.status, bytes_sent=len(body), x_robots_tag=tag
        )
        self.tally.count(decision.verdict.category, decision.action, self._block.status)
        return Answer(self._block.status, headers, body)

    async def hold(self) -> bool:
        """Hold a request in the tarpit (asynchronous front doors); False when no place is left."""
        if self.holding >= self._tarpit_places:
            return False
        self.holding += 1
        try:
            await asyncio.sleep(self.tarpit_seconds)
        finally:
            self.holding -= 1
        return True

    # -- responses ------------------------------------------------------------------------

    def x_robots_tag(
        self,
        path: str,
        content_type: str,
        existing: Sequence[str] = (),
        *,
        agent_lines: bool = True,
    ) -> list[str]:
        """The ``X-Robots-Tag`` values for a response: the app's own, with what is missing, and
        the per-crawler lines unless ``agent_lines`` is False (a front door that sends one value
        per header name cannot: in one value, what follows ``img2dataset:`` is for it alone)."""
        values = self._x_robots_tag(path, content_type, existing)
        xrt = self.guard.x_robots_tag
        if agent_lines and xrt.agent_tokens:
            lines = xrt.agent_lines(xrt.directives_for(path, content_type))
            values = values + [v.decode("latin-1") for _, v in missing_agent_lines(values, lines)]
        return values

    def _x_robots_tag(self, path: str, content_type: str, existing: Sequence[str]) -> list[str]:
        if not existing:
            if self._default_tag is not None:
                return self._default_tag
            pair = self.guard.x_robots_tag.header_for(
                path, content_type.encode("latin-1", "replace")
            )
            return [pair[1].decode("latin-1")] if pair is not None else []
        raw = [(X_ROBOTS_TAG, value.encode("latin-1", "replace")) for value in existing]
        merge_x_robots_tag(raw, self.guard.x_robots_tag.directives_for(path, content_type))
        return [value.decode("latin-1") for _, value in raw]

    def usage(self, path: str, present: Iterable[str] = ()) -> list[tuple[str, str]]:
        """The usage headers (tdm-reservation, Content-Usage) a response to ``path`` lacks;
        ``present``: the lower-case names of the headers it has."""
        if self._usage_constant is not None and not present:
            return self._usage_constant
        pairs = self.signals.usage_for(path)
        if not pairs:
            return []
        have = set(present)
        return [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in pairs
            if name.decode("latin-1") not in have
        ]

    #: Lower-case names of the usage headers (an app's own is kept, not doubled).
    USAGE_NAMES = frozenset(name.decode("latin-1") for name in USAGE_NAMES)

    def done(
        self,
        facts: RequestFacts | None,
        decision: Decision,
        status: int,
        *,
        bytes_sent: int = 0,
        x_robots_tag: str = "",
    ) -> None:
        """Count a response the app made, and record it when the decision was not a plain allow."""
        self.tally.count(decision.verdict.category, decision.action, status)
        if decision.action is not Action.ALLOW and facts is not None:
            self.guard.record(
                facts, decision, status=status, bytes_sent=bytes_sent, x_robots_tag=x_robots_tag
            )

    # -- metrics ------------------------------------------------------------------------

    def metrics(self, facts: RequestFacts) -> Answer:
        """A Prometheus scrape of :attr:`metrics_path` (token checked; never judged or recorded)."""
        metrics = self.guard.metrics
        assert metrics is not None
        authorization = accept = None
        for name, value in facts.headers:
            if name == b"authorization":
                authorization = value
            elif name == b"accept":
                accept = value
        status, raw, body = metrics.answer(facts.method, authorization, accept)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
        return Answer(status, headers, b"" if facts.method == "HEAD" else body)

    # -- robots.txt -----------------------------------------------------------------------

    @staticmethod
    def is_robots_request(path: str, method: str) -> bool:
        return path == ROBOTS_PATH and method in _READ

    def own_answer(self, facts: RequestFacts) -> Answer | None:
        """The answer to a request noaiguard serves itself, unjudged and without the app: a
        metrics scrape, or one of its own files (tdmrep.json, ai.txt); None for any other."""
        if facts.path == self.metrics_path:
            return self.metrics(facts)
        if facts.path in self.guard.own_files and facts.method in _READ:
            return self.own_file(facts)
        return None

    def site_robots_copy(self, host: str) -> tuple[bool, bytes | None]:
        """(True, body) while the site's robots.txt need not be read (a fresh copy, or merging
        is off); (False, None) when the front door must read it and :meth:`keep_site_robots`."""
        if self.site_robots is None:
            return True, None
        return self.site_robots.get(host)

    def keep_site_robots(self, host: str, reading: Reading) -> bytes | None:
        """Keep a fresh reading of the site's robots.txt; return the body now in force."""
        assert self.site_robots is not None
        return self.site_robots.put(host, reading)

    def own_file(self, facts: RequestFacts) -> Answer:
        file, raw = self.guard.own_file(facts)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
        return Answer(200, headers, b"" if facts.method == "HEAD" else file.body)

    def robots_txt(self, facts: RequestFacts, site_body: bytes | None) -> Answer:
        """``/robots.txt``: noaiguard's groups merged with the site's own file (if any)."""
        robots = self.guard.robots
        assert robots is not None
        body = robots.render(site_body)
        raw = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
            (b"cache-control", b"public, max-age=300"),
        ]
        merge_x_robots_tag(raw, self.guard.x_robots_tag.directives_for(facts.path, "text/plain"))
        raw += self.signals.usage_for(facts.path)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
        tag = ", ".join(v for k, v in headers if k == "x-robots-tag")
        self.guard.robots_served(facts, body, x_robots_tag=tag)
        return Answer(200, headers, b"" if facts.method == "HEAD" else body)
