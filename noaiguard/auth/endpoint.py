"""What ``noaiguard serve-auth`` answers.

``/.noaiguard/auth`` is asked by the web server before it serves each request (nginx
``auth_request``, Caddy ``forward_auth``, Traefik ``forwardAuth``):

* **200** lets the request through; its headers are the signals the response must carry
  (``X-Robots-Tag``, ``Content-Usage``, ``tdm-reservation``, ``tdm-policy``), exactly those the
  middleware adds, for the web server to copy onto its own response (deploy/ shows how);
* **403** refuses it, with the block body and the same signals (Caddy and Traefik send both to the
  client; nginx sends its own 403 page). Always 403, whatever ``policy.block.status`` says: it is
  the status all three web servers read as "deny";
* a **tarpit** is the 403 answered late, as the middleware's is: the web server waits for the
  answer, and its client with it, at most ``policy.tarpit.seconds``, for at most
  ``policy.tarpit.max_concurrent`` requests at once (beyond that, refused at once). Waiting costs
  noaiguard one sleeping task and the web server one idle connection.

``/robots.txt``, ``/.well-known/tdmrep.json`` and ``/ai.txt``, passed on by the web server as they
came, are answered as the middleware answers them; robots.txt merges the site's own file when
``--site-robots`` names it. ``/.noaiguard/health`` answers 200 for the web server's or container's
health check; ``metrics.path``, when set, answers Prometheus. Anything else is 404.

Deciding is the other front doors' :class:`~noaiguard.integrations.gate.Gate`: the User-Agent
decision is a cache hit, events go to the store from the sink's thread, and if noaiguard fails on a
request it is let through (a plain 200) and the error logged. What this mode cannot do, because
the web server makes the response and noaiguard never sees it: the robots meta tag in HTML pages,
stamping images, and per-crawler ``X-Robots-Tag`` lines (the web servers copy one value per header
name). The status recorded for an allowed or logged request is 200, the auth answer's: noaiguard
does not see the status the web server sends.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import mimetypes
from pathlib import Path

from ..config import Action
from ..facts import RequestFacts
from ..guard import Guard
from ..integrations.gate import Answer, Gate
from ..policy import Decision
from ..signals.siterobots import FAILED, MAX_BYTES, Reading
from . import AUTH_PATH, HEALTH_PATH, REFUSED
from .http import Request, Response, deferred
from .original import OriginalRequests

logger = logging.getLogger("noaiguard.auth")

#: Recorded for a request whose subrequest was dropped while it was held (nginx's convention).
_CLIENT_GONE = 499
_AUTH = AUTH_PATH.encode("ascii")
_HEALTH = HEALTH_PATH.encode("ascii")
_ALLOW = Action.ALLOW
_HEALTHY = Response(
    200,
    [(b"content-type", b"application/json"), (b"cache-control", b"no-store")],
    json.dumps({"status": "ok"}).encode(),
)
_NOT_FOUND = Response(404, [(b"content-type", b"text/plain")], b"Not Found\n")
#: noaiguard failed on the request: let it through, untouched (see Gate.decide).
_LET_THROUGH = Response(200)


class AuthEndpoint:
    """The handler of :class:`~noaiguard.auth.http.HTTPServer` for one guard."""

    def __init__(self, guard: Guard, *, site_robots: Path | None = None) -> None:
        self.guard = guard
        self.gate = gate = Gate(guard)
        self._originals = OriginalRequests(guard.trusted_proxies)
        self._site_robots = site_robots
        self._tally = guard.tally
        # With metrics on, every decision is timed: the gate does that, on the full path.
        self._timed = guard.metrics is not None
        # The answer that lets a request through, by path; one for every path when the signals
        # do not depend on it (no X-Robots-Tag rules, the same usage headers everywhere).
        constant = gate.signals.constant_pairs is not None
        self._allowed_everywhere = _allowed(gate, "/") if constant else None
        self._allowed_at = functools.lru_cache(maxsize=4096)(functools.partial(_allowed, gate))
        if guard.config.policy.block.status != REFUSED:
            logger.warning(
                "policy.block.status is %d, but serve-auth refuses with %d: the status the web "
                "servers read as 'deny'",
                guard.config.policy.block.status,
                REFUSED,
            )

    def __call__(self, request: Request) -> Response | asyncio.Future[Response]:
        path = request.target.partition(b"?")[0]
        if path == _AUTH:
            try:
                return self.authorize(request)
            except Exception:  # the guard must never be the reason a site is down
                logger.exception("noaiguard failed on a request; letting it through")
                return _LET_THROUGH
        if path == _HEALTH:
            return _HEALTHY
        return self._serve(request)

    # -- the decision -------------------------------------------------------------------------

    def authorize(self, request: Request) -> Response | asyncio.Future[Response]:
        """The answer to an authorization subrequest: allowed (with signals), or refused.

        The fast path is the middleware's: a decision cached by the raw User-Agent, judged with
        the client's address, and for an allowed request no RequestFacts at all.
        """
        original = self._originals.read(request, subrequest=True)
        guard = self.guard
        decision = None if self._timed else guard.decide_by_user_agent(original.user_agent)
        if decision is None:
            return self._decide_in_full(original.facts())
        decision = guard.judge(
            decision,
            original.client_ip,
            original.path,
            original.headers,
            method=original.method.decode("latin-1"),
        )
        if decision.action is _ALLOW:
            self._tally.count(decision.verdict.category, _ALLOW, 200)
            return self.allowed(original.path)[0]
        return self._enforce(original.facts(), decision)

    def _decide_in_full(self, facts: RequestFacts) -> Response | asyncio.Future[Response]:
        """Decide as the other front doors do (path rules, metrics timing), then act."""
        decision = self.gate.decide(facts)
        if decision is None:
            return _LET_THROUGH
        if decision.action is _ALLOW:
            self._tally.count(decision.verdict.category, _ALLOW, 200)
            return self.allowed(facts.path)[0]
        return self._enforce(facts, decision)

    def _enforce(
        self, facts: RequestFacts, decision: Decision
    ) -> Response | asyncio.Future[Response]:
        """Log, refuse or hold a request that is not simply allowed; record it."""
        gate = self.gate
        if not gate.refuses(decision):  # logged, or refused in monitor mode: served and recorded
            response, tag = self.allowed(facts.path)
            gate.done(facts, decision, 200, x_robots_tag=tag)
            return response
        if decision.effective_action is Action.TARPIT:
            return deferred(self._tarpit(facts, decision))
        return _refusal(gate.refuse(facts, decision))

    def allowed(self, path: str) -> tuple[Response, str]:
        """The 200 that lets a request for ``path`` through, and its X-Robots-Tag value."""
        everywhere = self._allowed_everywhere
        if everywhere is not None:
            return everywhere
        return self._allowed_at(path) if len(path) <= 512 else _allowed(self.gate, path)

    async def _tarpit(self, facts: RequestFacts, decision: Decision) -> Response:
        try:
            held = await self.gate.hold()
        except asyncio.CancelledError:
            # The web server dropped the subrequest (its client left, or it was stopped).
            self.guard.record(facts, decision, status=_CLIENT_GONE)
            self._tally.count(decision.verdict.category, decision.action, _CLIENT_GONE)
            raise
        return _refusal(self.gate.refuse(facts, decision, held=held))

    # -- the other paths ----------------------------------------------------------------------

    def _serve(self, request: Request) -> Response:
        """robots.txt, noaiguard's other files, metrics; 404 for the rest."""
        gate = self.gate
        facts = self._originals.read(request, subrequest=False).facts()
        if gate.robots_enabled and gate.is_robots_request(facts.path, facts.method):
            fresh, site = gate.site_robots_copy(facts.host)
            if not fresh:
                site = gate.keep_site_robots(facts.host, self._read_site_robots())
            return _response(gate.robots_txt(facts, site), head=request.method == b"HEAD")
        answer = gate.own_answer(facts)
        if answer is None:
            return _NOT_FOUND
        return _response(answer, head=request.method == b"HEAD")

    def _read_site_robots(self) -> Reading:
        """The site's own robots.txt (``--site-robots``): None when there is none, FAILED when it
        cannot be read now (the last good copy is kept)."""
        if self._site_robots is None:
            return None
        try:
            with self._site_robots.open("rb") as file:
                return file.read(MAX_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("cannot read the site's robots.txt: %s", exc)
            return FAILED


def _allowed(gate: Gate, path: str) -> tuple[Response, str]:
    """The 200 for ``path``: the response's X-Robots-Tag (one value: see the module docstring)
    for the type a web server serves such a file as, and the usage headers for the path."""
    values = gate.x_robots_tag(path, _content_type(path), agent_lines=False)
    tag = ", ".join(values)
    headers = [(b"x-robots-tag", tag.encode("latin-1"))] if tag else []
    headers += gate.signals.usage_for(path)
    return Response(200, headers), tag


def _content_type(path: str) -> str:
    """The media type a web server sends for ``path``: by its extension; a folder is its index
    page (X-Robots-Tag rules may be per content type, which the subrequest does not tell)."""
    if path.endswith("/"):
        return "text/html"
    return mimetypes.guess_type(path, strict=False)[0] or ""


def _refusal(answer: Answer) -> Response:
    return _response(answer._replace(status=REFUSED))


def _response(answer: Answer, *, head: bool = False) -> Response:
    """A gate's answer as bytes. ``head``: the answer to a HEAD request, whose body the gate left
    out and the server leaves out too, but whose Content-Length is the body's."""
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    length = None
    if head and not answer.body:
        length = next((int(v) for k, v in headers if k == b"content-length" and v.isdigit()), None)
    return Response(answer.status, headers, answer.body, length=length)
