"""NoAIGuardWSGI: noaiguard around a WSGI app (Flask, Bottle, Pyramid, Falcon, Django's WSGI app).

::

    from noaiguard import NoAIGuardWSGI
    app.wsgi_app = NoAIGuardWSGI(app.wsgi_app, config="noaiguard.yaml")   # Flask

The same engine and YAML file as :class:`~noaiguard.NoAIGuardMiddleware`: refused clients get the
block response, every other response gets ``X-Robots-Tag``, HTML pages get the robots meta tag,
``/robots.txt`` is the app's own with noaiguard's groups merged in, and events go to the store.
The decision is left in the environ under ``"noaiguard.decision"`` (see
:func:`noaiguard.get_decision`).

Responses pass through untouched whenever that is possible: when the app calls
``start_response`` before returning and the response is not an HTML page to tag, its body
iterable (a ``wsgi.file_wrapper`` included, so ``sendfile`` still works) goes back to the server
as it is. Otherwise the body is wrapped; an HTML page is read only until the tag is placed (the
injector's bounded look-ahead), and ``start_response`` reaches the server once the new
``Content-Length`` is known, before the first byte of the body, as PEP 3333 allows middleware to do.

A WSGI worker is a thread the site needs, so a tarpit decision is answered at once with the
block response (see :mod:`noaiguard.integrations.gate`).
"""

from __future__ import annotations

import io
import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from ..config import Action, Config
from ..facts import RequestFacts, http_version
from ..guard import Guard
from ..policy import Decision
from ..signals.html import HeadInjector
from ..signals.response import tag_stream
from ..signals.siterobots import (
    CONDITIONAL_ENVIRON_KEYS,
    FAILED,
    MAX_BYTES,
    Reading,
    read_answer,
)
from .gate import ENVIRON_KEY, ROBOTS_PATH, Answer, Gate

logger = logging.getLogger("noaiguard.wsgi")

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | None
Headers = list[tuple[str, str]]
Write = Callable[[bytes], object]
StartResponse = Callable[..., Write]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class NoAIGuardWSGI:
    """Sends AI opt-out signals on every response of a WSGI app and enforces the policy.

    ``config`` is a path to a YAML file, a :class:`~noaiguard.config.Config`, or None for the
    built-in defaults; pass ``guard`` instead to share one engine with other front doors. A
    broken config raises :class:`~noaiguard.errors.ConfigError` here, before anything is served.
    Queued events are written when the process exits (or call ``self.guard.close()``).
    """

    def __init__(
        self,
        app: WSGIApp,
        config: str | os.PathLike[str] | Config | None = None,
        *,
        guard: Guard | None = None,
    ) -> None:
        guard = guard if guard is not None else Guard.of(config)
        self.app = app
        self.guard = guard
        self._gate = Gate(guard)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        gate = self._gate
        try:
            facts = gate.facts(environ)
        except Exception:
            logger.exception("noaiguard failed on a request; letting it through")
            environ[ENVIRON_KEY] = None
            return self.app(environ, start_response)
        if gate.robots_enabled and gate.is_robots_request(facts.path, facts.method):
            return self._robots_txt(environ, start_response, facts)
        answer = gate.own_answer(facts)
        if answer is not None:
            return _answer(start_response, answer)
        decision = gate.decide(facts, http_version(environ))
        environ[ENVIRON_KEY] = decision
        if decision is None:
            return self.app(environ, start_response)
        if gate.refuses(decision):
            return _answer(start_response, gate.refuse(facts, decision))
        response = _Response(gate, facts, decision, start_response)
        result = self.app(environ, response.start_response)
        if response.started and response.injector is None and decision.action is Action.ALLOW:
            gate.done(facts, decision, response.status)
            return result  # untouched: a file_wrapper stays one
        return _Body(response, result)

    # -- robots.txt -----------------------------------------------------------------------

    def _robots_txt(
        self, environ: Environ, start_response: StartResponse, facts: RequestFacts
    ) -> Iterable[bytes]:
        gate = self._gate
        try:
            fresh, site = gate.site_robots_copy(facts.host)
            if not fresh:
                site = gate.keep_site_robots(facts.host, self._read_site_robots(environ))
            answer = gate.robots_txt(facts, site)
        except Exception:
            logger.exception("noaiguard failed to serve robots.txt; the app answers")
            return self.app(environ, start_response)
        return _answer(start_response, answer)

    def _read_site_robots(self, environ: Environ) -> Reading:
        """``GET /robots.txt`` from the app itself, without the client's conditional headers."""
        sub = {k: v for k, v in environ.items() if k not in CONDITIONAL_ENVIRON_KEYS}
        sub.update(
            REQUEST_METHOD="GET",
            PATH_INFO=ROBOTS_PATH,
            SCRIPT_NAME="",
            QUERY_STRING="",
            CONTENT_LENGTH="0",
        )
        sub["wsgi.input"] = io.BytesIO()
        got: dict[str, Any] = {}

        def capture(status: str, headers: Headers, exc_info: ExcInfo = None) -> Write:
            got["status"] = int(status[:3]) if status[:3].isdigit() else 0
            got["type"] = next((v for k, v in headers if k.lower() == "content-type"), "")
            return lambda data: None

        try:
            result = self.app(sub, capture)
            try:
                body = bytearray()
                for chunk in result:
                    body += chunk
                    if len(body) >= MAX_BYTES:
                        break
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            logger.warning("the app failed to serve its own robots.txt", exc_info=True)
            return FAILED
        return read_answer(got.get("status", 0), got.get("type", ""), bytes(body))


def _answer(start_response: StartResponse, answer: Answer) -> list[bytes]:
    """Send a response noaiguard made itself."""
    start_response(answer.status_line, answer.headers)
    return [answer.body]


class _Response:
    """One response on its way out: the signal header on its start, the tag in its page."""

    __slots__ = (
        "_decision",
        "_facts",
        "_gate",
        "_length_index",
        "_pending",
        "_start_response",
        "_write",
        "bytes_sent",
        "injector",
        "started",
        "status",
        "x_robots_tag",
    )

    def __init__(
        self, gate: Gate, facts: RequestFacts, decision: Decision, start_response: StartResponse
    ) -> None:
        self._gate = gate
        self._facts = facts
        self._decision = decision
        self._start_response = start_response
        #: The start of an HTML page, held until its tag is placed.
        self._pending: tuple[str, Headers, ExcInfo] | None = None
        self._length_index = -1
        self._write: Write | None = None
        self.injector: HeadInjector | None = None
        #: Whether the server's start_response has been called.
        self.started = False
        self.status = 0
        self.bytes_sent = 0
        self.x_robots_tag = ""

    def start_response(self, status: str, headers: Headers, exc_info: ExcInfo = None) -> Write:
        """The start_response the app calls: adds the header, holds an HTML page's start."""
        if exc_info is not None and self.started:
            # Too late to change the response; the server re-raises, as PEP 3333 asks.
            return self._start_response(status, headers, exc_info)
        code = self.status = int(status[:3]) if status[:3].isdigit() else 0
        content_type = encoding = ""
        existing: list[str] = []
        own_usage: list[str] = []
        length_index = -1
        for index, (name, value) in enumerate(headers):
            lowered = name.lower()
            if lowered == "content-type":
                content_type = value
            elif lowered == "content-length":
                length_index = index
            elif lowered == "content-encoding":
                encoding = value
            elif lowered == "x-robots-tag":
                existing.append(value)
            elif lowered in Gate.USAGE_NAMES:
                own_usage.append(lowered)
        gate = self._gate
        path = self._facts.path
        values = gate.x_robots_tag(path, content_type, existing)
        if existing:
            headers = [(k, v) for k, v in headers if k.lower() != "x-robots-tag"]
            length_index = next(
                (i for i, (k, _) in enumerate(headers) if k.lower() == "content-length"), -1
            )
        else:
            headers = list(headers)
        headers += [("X-Robots-Tag", value) for value in values]
        headers += gate.usage(path, own_usage)
        self.x_robots_tag = ", ".join(values)
        signals = gate.signals
        if code == 200 and length_index >= 0:
            signals.remember_size(path, headers[length_index][1].encode("latin-1", "replace"))
        if signals.tags_page(
            path,
            self._facts.method,
            code,
            content_type.encode("latin-1", "replace"),
            encoding.encode("latin-1", "replace"),
        ):
            self.injector = signals.injector(path)
            self._pending = (status, headers, exc_info)
            self._length_index = length_index
            return self._write_after_start
        self._pending = None
        self.injector = None
        return self._start(status, headers, exc_info)

    def is_whole(self, chunk: bytes) -> bool:
        """Whether ``chunk`` is the whole held page (its Content-Length says so)."""
        if self._pending is None or self._length_index < 0:
            return False
        length = self._pending[1][self._length_index][1].strip()
        return length.isdigit() and int(length) == len(chunk)

    def tag_page(self, page: bytes) -> bytes:
        return self._gate.signals.tag_page(self._facts.path, page)

    @property
    def holding(self) -> bool:
        """Whether the start of an HTML page is held until its tag is placed."""
        return self._pending is not None

    def _start(self, status: str, headers: Headers, exc_info: ExcInfo) -> Write:
        self.started = True
        self._write = self._start_response(status, headers, exc_info)
        return self._write

    def release(self, added: int) -> None:
        """Pass the held start on, its Content-Length grown by the ``added`` bytes."""
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        status, headers, exc_info = pending
        index = self._length_index
        if added and index >= 0 and headers[index][1].strip().isdigit():
            headers[index] = (headers[index][0], str(int(headers[index][1]) + added))
        self._start(status, headers, exc_info)

    def _write_after_start(self, data: bytes) -> object:
        """The legacy ``write`` callable: the page cannot be held any more, so it goes untagged."""
        self.injector = None
        self.release(0)
        assert self._write is not None
        self.bytes_sent += len(data)
        return self._write(data)

    def finished(self) -> None:
        self._gate.done(
            self._facts,
            self._decision,
            self.status or 500,
            bytes_sent=self.bytes_sent,
            x_robots_tag=self.x_robots_tag,
        )


class _Body:
    """The body iterable handed to the server when the app's own could not be passed on."""

    def __init__(self, response: _Response, result: Iterable[bytes]) -> None:
        self._response = response
        self._result = result
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        response = self._response
        chunks = iter(self._result)
        if not response.started and not response.holding:
            # A generator app calls start_response when its first chunk is asked for.
            first = next(chunks, None)
            if first is not None:
                chunks = itertools.chain((first,), chunks)
        injector = response.injector
        if injector is not None and response.holding:
            response.injector = None
            first = next(chunks, b"")
            if response.is_whole(first):  # the usual case: the page in one piece, tagged at once
                head = response.tag_page(first)
                response.release(len(head) - len(first))
            else:
                head = tag_stream(injector, itertools.chain((first,), chunks))
                response.release(injector.delta)
            if head:
                response.bytes_sent += len(head)
                yield head
        for chunk in chunks:
            response.bytes_sent += len(chunk)
            yield chunk

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._response.finished()
