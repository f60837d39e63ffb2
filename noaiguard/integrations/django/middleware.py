"""Django's ``MIDDLEWARE`` entry: ``noaiguard.integrations.django.NoAIGuardMiddleware``.

It is sync- and async-capable, and takes the mode of the chain it sits in: under WSGI it is a
plain function call, under ASGI a coroutine, and Django never has to switch between the two for
it (nothing in it blocks: deciding is in memory and events are queued for a writer thread).

Per request: ``/robots.txt`` is answered with the app's own robots.txt view (when it has one)
merged with noaiguard's groups; otherwise the request is decided, a refused one gets the block
response before any middleware below runs (so a crawler costs the site no session or database
work), and an allowed one reaches the view as ``request.noaiguard`` and comes back with
``X-Robots-Tag`` and, for an HTML page, the robots meta tag. A view marked with
:func:`~noaiguard.integrations.django.noaiguard_exempt` is left entirely alone.

Put compression (``GZipMiddleware``) above this entry, so that it sees the HTML before it is
compressed; ``manage.py check`` warns otherwise (``noaiguard.W002``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve

from ...config import Action
from ...facts import RequestFacts, http_version
from ...policy import Decision
from ...signals.response import tag_async_stream, tag_stream
from ...signals.siterobots import CONDITIONAL_ENVIRON_KEYS, FAILED, MAX_BYTES, Reading, read_answer
from ..gate import Answer, Gate
from .conf import get_guard
from .decorators import is_exempt

logger = logging.getLogger("noaiguard.django")

GetResponse = Callable[[HttpRequest], Any]


class NoAIGuardMiddleware:
    """noaiguard as a Django middleware, configured by the ``NOAIGUARD`` setting."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        #: The engine, shared by every middleware chain of the process (see ``conf``).
        self.guard = get_guard()
        self.gate = Gate(self.guard)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        gate = self.gate
        facts = self._facts(request)
        if facts is None:
            return self.get_response(request)
        if gate.robots_enabled and gate.is_robots_request(facts.path, facts.method):
            if _exempt_path(request):
                return self.get_response(request)
            return self._robots_txt(facts, self._site_robots(request, facts))
        own = gate.own_answer(facts)
        if own is not None:
            return _http_response(own)
        decision = request.noaiguard = gate.decide(facts, http_version(request.META))  # type: ignore[attr-defined]
        if decision is None:
            return self.get_response(request)
        if gate.refuses(decision) and not _exempt_path(request):
            return _http_response(gate.refuse(facts, decision))
        response = self.get_response(request)
        if _exempt_view(request):
            return response
        return self._signal(facts, decision, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        gate = self.gate
        facts = self._facts(request)
        if facts is None:
            return await self.get_response(request)  # type: ignore[no-any-return]
        if gate.robots_enabled and gate.is_robots_request(facts.path, facts.method):
            if _exempt_path(request):
                return await self.get_response(request)  # type: ignore[no-any-return]
            return self._robots_txt(facts, await self._asite_robots(request, facts))
        own = gate.own_answer(facts)
        if own is not None:
            return _http_response(own)
        decision = request.noaiguard = gate.decide(facts, http_version(request.META))  # type: ignore[attr-defined]
        if decision is None:
            return await self.get_response(request)  # type: ignore[no-any-return]
        if gate.refuses(decision) and not _exempt_path(request):
            held = decision.action is Action.TARPIT and await gate.hold()
            return _http_response(gate.refuse(facts, decision, held=held))
        response = await self.get_response(request)
        if _exempt_view(request):
            return response  # type: ignore[no-any-return]
        if _async_stream(response):
            return await self._signal_async_stream(facts, decision, response)
        return self._signal(facts, decision, response)

    # -- deciding -------------------------------------------------------------------------

    def _facts(self, request: HttpRequest) -> RequestFacts | None:
        # Set on every request, so that every view can read it (robots.txt and exempt ones too).
        request.noaiguard = None  # type: ignore[attr-defined]
        try:
            return self.gate.facts(request.META, path=request.path, scheme=request.scheme or "")
        except Exception:
            logger.exception("noaiguard failed on a request; letting it through")
            return None

    # -- responses ------------------------------------------------------------------------

    def _signal(
        self,
        facts: RequestFacts,
        decision: Decision,
        response: HttpResponseBase,
        *,
        tagged: bool = False,
    ) -> HttpResponseBase:
        """The header on every response, the tag in an HTML page (unless ``tagged`` already),
        and the count or event."""
        try:
            tag_value = self._headers(facts, response)
            if not tagged and self._tags_page(facts, response):
                self._tag_sync(facts, response)
        except Exception:
            logger.exception("noaiguard failed on a response; it goes out as the app made it")
            tag_value = ""
        self.gate.done(
            facts,
            decision,
            response.status_code,
            bytes_sent=_length(response),
            x_robots_tag=tag_value,
        )
        return response

    def _headers(self, facts: RequestFacts, response: HttpResponseBase) -> str:
        """Add X-Robots-Tag (merged with the view's own); remember the page's size."""
        headers = response.headers
        existing = headers.get("X-Robots-Tag")
        values = self.gate.x_robots_tag(
            facts.path,
            headers.get("Content-Type", ""),
            [existing] if existing else [],
            agent_lines=False,  # Django sends one line per header name
        )
        if values:
            # A view's line for one crawler ("googlebot: noindex") stays last: Django keeps one
            # line per header name, and what follows "googlebot:" applies to Googlebot alone.
            headers["X-Robots-Tag"] = ", ".join(reversed(values))
        for name, value in self.gate.usage(facts.path):
            if name not in headers:  # a view's own tdm-reservation or Content-Usage is kept
                headers[name] = value
        if response.status_code == 200:
            length = _length(response)
            if length:
                self.gate.signals.remember_size(facts.path, b"%d" % length)
        return headers.get("X-Robots-Tag", "")

    def _tags_page(self, facts: RequestFacts, response: HttpResponseBase) -> bool:
        headers = response.headers
        return self.gate.signals.tags_page(
            facts.path,
            facts.method,
            response.status_code,
            headers.get("Content-Type", "").encode("latin-1", "replace"),
            headers.get("Content-Encoding", "").encode("latin-1", "replace"),
        )

    def _tag_sync(self, facts: RequestFacts, response: HttpResponseBase) -> None:
        """Put the tag in a page: a whole one at once, a streamed one as it is read."""
        signals = self.gate.signals
        if not response.streaming:
            assert isinstance(response, HttpResponse)
            page = signals.tag_page(facts.path, response.content)
            added = len(page) - len(response.content)
            response.content = page
        elif _async_stream(response):
            return  # an async stream in a sync server: Django consumes it itself; header only
        else:
            chunks: Iterator[bytes] = iter(response.streaming_content)  # type: ignore[attr-defined]
            injector = signals.injector(facts.path)
            head = tag_stream(injector, chunks)
            added = injector.delta
            _replace_stream(response, itertools.chain((head,), chunks))
        _grow_length(response, added)

    async def _signal_async_stream(
        self, facts: RequestFacts, decision: Decision, response: HttpResponseBase
    ) -> HttpResponseBase:
        """:meth:`_signal` for a streamed response whose content is an async iterator."""
        if not self._tags_page(facts, response):
            return self._signal(facts, decision, response)
        chunks: AsyncIterator[bytes] = aiter(response.streaming_content)  # type: ignore[attr-defined]
        injector = self.gate.signals.injector(facts.path)
        head = await tag_async_stream(injector, chunks)
        _replace_stream(response, _prepend(head, chunks))
        _grow_length(response, injector.delta)
        return self._signal(facts, decision, response, tagged=True)

    # -- robots.txt -----------------------------------------------------------------------

    def _robots_txt(self, facts: RequestFacts, site: bytes | None) -> HttpResponse:
        return _http_response(self.gate.robots_txt(facts, site))

    def _site_robots(self, request: HttpRequest, facts: RequestFacts) -> bytes | None:
        """The project's own robots.txt, from the cache or read through its view."""
        fresh, body = self.gate.site_robots_copy(facts.host)
        if fresh:
            return body
        with _unconditional(request):
            try:
                reading = _read_answer(self.get_response(request))
            except Exception:
                logger.warning("the site's robots.txt view failed", exc_info=True)
                reading = FAILED
        return self.gate.keep_site_robots(facts.host, reading)

    async def _asite_robots(self, request: HttpRequest, facts: RequestFacts) -> bytes | None:
        """:meth:`_site_robots` in an async chain."""
        fresh, body = self.gate.site_robots_copy(facts.host)
        if fresh:
            return body
        with _unconditional(request):
            try:
                response = await self.get_response(request)
                reading = (
                    await _aread_answer(response)
                    if _async_stream(response)
                    else _read_answer(response)
                )
            except Exception:
                logger.warning("the site's robots.txt view failed", exc_info=True)
                reading = FAILED
        return self.gate.keep_site_robots(facts.host, reading)


# -- helpers ------------------------------------------------------------------------------


def _exempt_path(request: HttpRequest) -> bool:
    """Whether the view for this URL is exempt (checked before the view runs: refusals only)."""
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return is_exempt(match.func)


def _exempt_view(request: HttpRequest) -> bool:
    """Whether the view that made the response is exempt (Django resolved it on the way in)."""
    match = getattr(request, "resolver_match", None)
    return match is not None and is_exempt(match.func)


def _async_stream(response: HttpResponseBase) -> bool:
    """Whether the response streams from an async iterator (StreamingHttpResponse.is_async)."""
    return response.streaming and bool(getattr(response, "is_async", False))


def _http_response(answer: Answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers:
        response.headers[name] = value
    return response


def _length(response: HttpResponseBase) -> int:
    """The body's size: the content's, or a streamed response's Content-Length (0: unknown)."""
    if not response.streaming:
        assert isinstance(response, HttpResponse)
        return len(response.content)
    length = response.headers.get("Content-Length", "")
    return int(length) if length.isdigit() else 0


def _grow_length(response: HttpResponseBase, added: int) -> None:
    length = response.headers.get("Content-Length", "")
    if added and length.isdigit():
        response.headers["Content-Length"] = str(int(length) + added)


def _replace_stream(response: HttpResponseBase, content: Any) -> None:
    response.streaming_content = content  # type: ignore[attr-defined]
    # A FileResponse would otherwise go to wsgi.file_wrapper as the untagged file.
    if getattr(response, "file_to_stream", None) is not None:
        response.file_to_stream = None  # type: ignore[attr-defined]


async def _prepend(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for chunk in rest:
        yield chunk


class _unconditional:
    """The request without the client's If-None-Match, Range ... while the site's robots.txt
    view is asked for the whole file."""

    def __init__(self, request: HttpRequest) -> None:
        self._meta = request.META
        self._removed: dict[str, Any] = {}

    def __enter__(self) -> None:
        for key in CONDITIONAL_ENVIRON_KEYS & self._meta.keys():
            self._removed[key] = self._meta.pop(key)

    def __exit__(self, *exc: object) -> None:
        self._meta.update(self._removed)


def _read_answer(response: HttpResponseBase) -> Reading:
    if response.streaming:
        if _async_stream(response):
            return FAILED
        body = bytearray()
        for chunk in response.streaming_content:  # type: ignore[attr-defined]
            body += chunk
            if len(body) >= MAX_BYTES:
                break
        response.close()
        content = bytes(body)
    else:
        assert isinstance(response, HttpResponse)
        content = response.content
    return read_answer(response.status_code, response.headers.get("Content-Type", ""), content)


async def _aread_answer(response: HttpResponseBase) -> Reading:
    body = bytearray()
    async for chunk in response.streaming_content:  # type: ignore[attr-defined]
        body += chunk
        if len(body) >= MAX_BYTES:
            break
    return read_answer(response.status_code, response.headers.get("Content-Type", ""), bytes(body))
