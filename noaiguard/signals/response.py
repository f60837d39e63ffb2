"""Signals on the way out: the ``send`` that adds ``X-Robots-Tag`` to a response and the robots
meta tag to an HTML page as it streams.

:class:`ResponseSignals` holds what the configuration says and is built once per middleware;
each response gets a :class:`SignalingSend` of its own. This runs on
every response of the site, so it is shaped for cost: the per-response object is a small slotted
object rather than a closure (three times cheaper to make), and it is a plain callable that hands
back the awaitable of the next ``send`` whenever a message passes on unchanged, so those messages
cost no coroutine of their own. Only the body of a page that gets the tag goes through one.

Bodies are never buffered, except for the bounded look-ahead of the HTML injector.
"""

from __future__ import annotations

import re
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Sequence,
)
from typing import TYPE_CHECKING, Any

from .._types import HEADER_LINES, Message, Send
from ..paths import PathSet
from .headers import X_ROBOTS_TAG, XRobotsTag, merge_x_robots_tag, missing_agent_lines
from .html import HeadEndMemory, HeadInjector, HeadTags
from .metas import PageTags
from .usage import NAMES as USAGE_NAMES
from .usage import Pairs, UsageHeaders

if TYPE_CHECKING:
    from ..guard import Guard

_CONTENT_TYPE = b"content-type"
_CONTENT_ENCODING = b"content-encoding"
_CONTENT_LENGTH = b"content-length"
_BODY = "http.response.body"
_START = "http.response.start"
_MAX_CONTENT_TYPES = 256
#: The response headers the start looks at: those the signals depend on or merge with.
_NOTED = frozenset({_CONTENT_TYPE, _CONTENT_ENCODING, _CONTENT_LENGTH, X_ROBOTS_TAG, *USAGE_NAMES})
#: Paths whose response size is remembered; when full, the memory starts over.
MAX_SIZES = 16384
#: Where an app that puts the signals in its responses itself (the proxy's) records each
#: response's status in the request's ``scope["state"]``, for the middleware's tally.
RESPONSE_STATUS = "noaiguard.status"


class TaggedPages:
    """The last tagged copy of each page, by path, in bounded memory.

    Most pages are served again and again exactly as they were; one comparison with the last
    copy then gives the tagged page without a search or a copy. A page that differs each time
    (a timestamp, a token) is tagged afresh, and its copy replaced. Pages over ``max_page``
    bytes are not kept; when the copies (both versions counted) pass ``max_bytes``, the oldest
    are forgotten.
    """

    __slots__ = ("_bytes", "_pages", "get", "max_bytes", "max_page")

    def __init__(self, *, max_bytes: int = 8 * 1024 * 1024, max_page: int = 256 * 1024) -> None:
        self.max_bytes = max_bytes
        self.max_page = max_page
        self._pages: dict[str, tuple[bytes, bytes]] = {}
        self._bytes = 0
        #: ``get(path)``: the page last seen at ``path`` and its tagged copy, or None. The dict's
        #: own method, with no Python call around it: every page served asks.
        self.get: Callable[[str], tuple[bytes, bytes] | None] = self._pages.get

    def put(self, path: str, page: bytes, tagged: bytes) -> None:
        """Keep ``tagged`` as the copy of ``page`` at ``path``."""
        if len(page) > self.max_page:
            return
        size = len(page) + len(tagged)
        pages = self._pages
        old = pages.pop(path, None)
        if old is not None:
            self._bytes -= len(old[0]) + len(old[1])
        while pages and self._bytes + size > self.max_bytes:
            oldest = pages.pop(next(iter(pages)))
            self._bytes -= len(oldest[0]) + len(oldest[1])
        pages[path] = (page, tagged)
        self._bytes += size

    def __len__(self) -> int:
        return len(self._pages)


class Outcome:
    """What a response turned out to be, filled in by its ``send`` for the event record."""

    __slots__ = ("bytes_sent", "status", "x_robots_tag")

    def __init__(self) -> None:
        self.status = 0
        self.bytes_sent = 0
        self.x_robots_tag = ""


class ResponseSignals:
    """The response side of a guard's signals config: which header, which tag, where."""

    def __init__(
        self,
        x_robots_tag: XRobotsTag,
        page_tags: PageTags | tuple[str, ...],
        meta_excluded: PathSet,
        max_lookahead: int,
        *,
        trap_path: str = "",
        sizes: dict[str, bytes] | None = None,
        usage: UsageHeaders | None = None,
    ) -> None:
        self.x_robots_tag = x_robots_tag
        #: tdm-reservation and Content-Usage per path (see signals.usage); constant when they
        #: do not depend on the path.
        self.usage = usage
        self.usage_constant = usage.constant if usage is not None else ()
        #: Content-Length of the last 200 response per path (see Guard.served_sizes).
        self.sizes: dict[str, bytes] = {} if sizes is None else sizes
        #: The header every response gets when no per-path or per-type rule applies.
        self.default_pair = (
            x_robots_tag.header_for("/", b"") if not x_robots_tag.has_rules else None
        )
        if not isinstance(page_tags, PageTags):
            page_tags = PageTags(page_tags)
        #: The meta tags of pages, by path (see signals.metas).
        self.page_tags = page_tags
        self.tags_constant = page_tags.constant
        #: Whether pages get any meta tag at all.
        self.has_meta = bool(page_tags)
        #: Whether a path is excluded from the tag (None: no path is).
        self.meta_excluded = meta_excluded.matches if meta_excluded else None
        self.max_lookahead = max_lookahead
        self.head_ends = HeadEndMemory(max_lookahead, names=page_tags.names)
        self._tagged_pages = TaggedPages()
        #: The hidden link put before ``</body>`` (b"": none), see BehaviourConfig.trap.
        self.trap_link = trap_link(trap_path) if trap_path and self.has_meta else b""
        #: Per-crawler X-Robots-Tag lines (``img2dataset: noai``), if any are configured.
        self.agent_lines = bool(x_robots_tag.agent_tokens)
        #: Every header line a response gets when none of them depends on its path or type and
        #: it has none of its own (the usual case: appended as they are); else None.
        self.constant_pairs: Pairs | None = None
        if not x_robots_tag.has_rules and self.usage_constant is not None:
            default = x_robots_tag.default
            pair = x_robots_tag.header_for("/")
            self.constant_pairs = (
                ((pair,) if pair is not None else ())
                + x_robots_tag.agent_lines(default)
                + self.usage_constant
            )
        #: The constant pairs as header lines, checked once here, for a server that writes lines
        #: as they are given (see :data:`~noaiguard._types.HEADER_LINES`); None: no such lines.
        self.constant_lines = header_lines(self.constant_pairs) if self.constant_pairs else None
        # Content-Type value -> whether such a response may get the meta tag.
        self._html_types: dict[bytes, bool] = {}

    @classmethod
    def of(cls, guard: Guard) -> ResponseSignals:
        """The response signals a guard's configuration asks for."""
        return cls(
            guard.x_robots_tag,
            guard.page_tags,
            guard.meta_excluded,
            guard.config.signals.html_meta.max_lookahead,
            trap_path=guard.trap_path,
            sizes=guard.served_sizes,
            usage=guard.usage_headers,
        )

    @staticmethod
    def missing_usage(
        raw: Iterable[tuple[bytes, bytes]], usage: Pairs
    ) -> list[tuple[bytes, bytes]]:
        """The usage pairs the response does not carry already (the app's own are kept)."""
        present = {name.lower() for name, _ in raw}
        return [pair for pair in usage if pair[0] not in present]

    def tags_for(self, path: str) -> HeadTags:
        """The meta tags of a page at ``path``."""
        constant = self.tags_constant
        return constant if constant is not None else self.page_tags.for_path(path)

    def usage_for(self, path: str) -> Pairs:
        """The usage pairs for a response to ``path``."""
        if self.usage_constant is not None:
            return self.usage_constant
        return self.usage.for_path(path) if self.usage else ()

    def injectable(self, content_type: bytes, encoding: bytes) -> bool:
        """Whether a response of this type and encoding may get the meta tag: uncompressed HTML."""
        is_html = self._html_types.get(content_type)
        if is_html is None:
            is_html = self._learn_type(content_type)
        return is_html and (not encoding or encoding.strip().lower() == b"identity")

    def _learn_type(self, content_type: bytes) -> bool:
        """Whether a Content-Type is HTML the tag can go in, kept for the next response."""
        is_html = _is_injectable_html(content_type)
        if len(self._html_types) < _MAX_CONTENT_TYPES:
            self._html_types[content_type] = is_html
        return is_html

    def head(
        self,
        path: str,
        method: str,
        status: int,
        raw: Sequence[tuple[bytes, bytes]],
        *,
        lines: bool = False,
    ) -> tuple[list[tuple[bytes, bytes]], bytes | None, bool, int]:
        """A response's headers with the signals; the header lines that go with them; whether
        it is a page that gets the meta tag (:meth:`tags_page`); and, for such a page, where its
        Content-Length is (-1: none, or not a page).

        With ``lines`` (the server takes :data:`~noaiguard._types.HEADER_LINES`), the usual
        constant signals come back as :attr:`constant_lines` for the start message, and the
        headers are ``raw`` itself, to be sent as they are; else the lines are None. Header names
        are lower case, as ASGI and the proxy's upstream client give them. The app's own
        ``X-Robots-Tag`` and usage headers are merged with, never doubled. A 200 response's
        length is remembered for the events of later refusals (:meth:`remember_size`).
        """
        content_type = encoding = b""
        length = None
        length_index = -1
        has_tag = has_usage = False
        for index, (name, value) in enumerate(raw):
            if name in _NOTED:  # one set look-up for the headers of no interest
                if name == _CONTENT_TYPE:
                    content_type = value
                elif name == _CONTENT_LENGTH:
                    length, length_index = value, index
                elif name == _CONTENT_ENCODING:
                    encoding = value
                elif name == X_ROBOTS_TAG:
                    has_tag = True
                else:
                    has_usage = True
        constant = self.constant_pairs
        extra = None
        if constant is None or has_tag or has_usage:
            headers = self._merged_headers(path, raw, content_type, has_tag, has_usage)
        elif lines and self.constant_lines is not None and isinstance(raw, list):
            headers, extra = raw, self.constant_lines
        else:
            headers = [*raw, *constant]
        if status != 200:
            return headers, extra, False, -1
        if length is not None:
            self.remember_size(path, length)
        # tags_page, inline: this runs on every response.
        if method == "HEAD" or not self.has_meta:
            return headers, extra, False, -1
        is_html = self._html_types.get(content_type)
        if is_html is None:
            is_html = self._learn_type(content_type)
        if (
            not is_html
            or (encoding and encoding.strip().lower() != b"identity")
            or (self.meta_excluded is not None and self.meta_excluded(path))
        ):
            return headers, extra, False, -1
        return headers, extra, True, length_index

    def _merged_headers(
        self,
        path: str,
        raw: Sequence[tuple[bytes, bytes]],
        content_type: bytes,
        has_tag: bool,
        has_usage: bool,
    ) -> list[tuple[bytes, bytes]]:
        """The headers with the signals merged with those the app sent itself, or chosen by the
        path and type: everything the constant pairs cannot do."""
        if has_tag:
            headers = list(raw)
            media_type = content_type.decode("latin-1")
            merge_x_robots_tag(headers, self.x_robots_tag.directives_for(path, media_type))
        else:
            pair = self.default_pair or self.x_robots_tag.header_for(path, content_type)
            headers = [*raw, pair] if pair is not None else list(raw)
        if self.agent_lines:
            xrt = self.x_robots_tag
            lines = xrt.agent_lines(xrt.directives_for(path, content_type.decode("latin-1")))
            if has_tag:
                values = (v.decode("latin-1") for k, v in raw if k == X_ROBOTS_TAG)
                headers += missing_agent_lines(values, lines)
            else:
                headers += lines
        usage = self.usage_for(path)
        if usage:
            headers += usage if not has_usage else self.missing_usage(raw, usage)
        return headers

    def tags_page(
        self, path: str, method: str, status: int, content_type: bytes, encoding: bytes
    ) -> bool:
        """Whether this response is a page that gets the meta tag."""
        return (
            status == 200
            and self.has_meta
            and method != "HEAD"
            and self.injectable(content_type, encoding)
            and (self.meta_excluded is None or not self.meta_excluded(path))
        )

    # -- for front doors that see whole response objects (WSGI, Django) ----------------------

    def tag_page(self, path: str, page: bytes) -> bytes:
        """A whole page with the tag in its head (and the trap link before ``</body>``)."""
        tagged = self.tagged(path, page)
        if tagged is not None:
            return tagged
        injector = self.injector(path)
        page = injector.feed(page) + injector.finish()
        if not injector.delta:
            return page
        if self.trap_link:
            end = _body_end(page)
            if end >= 0:
                page = page[:end] + self.trap_link + page[end:]
        return page

    def tagged(self, path: str, page: bytes) -> bytes | None:
        """A whole page with the tags, and the trap link, put in where an ordinary page has
        room for them; None when the page is not ordinary (it then needs the injector)."""
        known = self._tagged_pages.get(path)
        if known is not None and known[0] == page:
            return known[1]  # the page as it was last time: the same answer, no search
        offset = self.head_ends.find(path, page, complete=True)
        if offset is None:
            return None
        block = self.tags_for(path).block
        trap = self.trap_link
        end = _body_end(page) if trap else -1
        if end < offset:  # no trap link, or no </body> after the head
            tagged = b"".join((page[:offset], block, page[offset:]))
        else:
            tagged = b"".join((page[:offset], block, page[offset:end], trap, page[end:]))
        self._tagged_pages.put(path, page, tagged)
        return tagged

    def injector(self, path: str) -> HeadInjector:
        """An injector for one streamed page at ``path`` (see :func:`tag_stream`)."""
        return HeadInjector(self.tags_for(path), self.max_lookahead)

    def remember_size(self, path: str, content_length: bytes) -> None:
        """Keep a 200 response's Content-Length for the event of a later refusal of ``path``."""
        sizes = self.sizes
        if len(sizes) >= MAX_SIZES:
            sizes.clear()
        sizes[path] = content_length


def tag_stream(injector: HeadInjector, chunks: Iterator[bytes]) -> bytes:
    """Read a streamed page until ``injector`` has placed the tag; return the bytes to send first.

    The rest of ``chunks`` is left unread, to pass on untouched; ``injector.delta`` then says how
    much longer the page became. At most the injector's look-ahead is held.
    """
    out = []
    for chunk in chunks:
        out.append(injector.feed(chunk))
        if injector.done:
            return b"".join(out)
    out.append(injector.finish())
    return b"".join(out)


async def tag_async_stream(injector: HeadInjector, chunks: AsyncIterator[bytes]) -> bytes:
    """:func:`tag_stream` for an asynchronous iterator (the rest is left to ``anext``)."""
    out = []
    while True:
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            out.append(injector.finish())
            return b"".join(out)
        out.append(injector.feed(chunk))
        if injector.done:
            return b"".join(out)


class SignalingSend:
    """One response's ``send``: the header on its start, the tag in its HTML."""

    __slots__ = (
        "_held",
        "_injector",
        "_length_index",
        "_method",
        "_outcome",
        "_path",
        "_send",
        "_signals",
        "status",
    )

    def __init__(
        self,
        signals: ResponseSignals,
        send: Send,
        path: str,
        method: str,
        outcome: Outcome | None = None,
    ) -> None:
        self._signals = signals
        self._send = send
        self._path = path
        self._method = method
        self._outcome = outcome
        # The start of an HTML response, held until the tag is placed, and where in its headers
        # Content-Length is; the injector is made only when the fast path cannot place the tag.
        self._held: Message | None = None
        self._injector: HeadInjector | None = None
        #: The response's status, once its start has passed (0 before).
        self.status = 0

    def __call__(self, message: Message) -> Awaitable[None]:
        kind = message["type"]
        if kind == _BODY:
            held = self._held
            if held is None and self._injector is None:
                if self._outcome is not None:
                    self._outcome.bytes_sent += len(message.get("body", b""))
                return self._send(message)
            if held is not None and self._injector is None and not message.get("more_body"):
                # The whole page in one message, as most pages come: tagged here, no scanner.
                body = message.get("body", b"")
                tagged = self._signals.tagged(self._path, body)
                if tagged is not None:
                    if self._outcome is not None:
                        self._outcome.bytes_sent += len(tagged)
                    start = self._release(len(tagged) - len(body))
                    return _send_both(self._send, start, {"type": _BODY, "body": tagged})
            return self._rewrite_body(message)
        if kind != _START:
            # pathsend, trailers...: the body cannot be rewritten; send what is held as it was.
            self._injector = None
            held = self._held
            if held is not None:
                self._held = None
                return _send_both(self._send, held, message)
            return self._send(message)

        # The start (inline: it is one of the two messages of nearly every response).
        signals = self._signals
        status = self.status = message.get("status", 200)
        headers, _, page, length_index = signals.head(
            self._path, self._method, status, message.get("headers") or ()
        )
        message["headers"] = headers
        if self._outcome is not None:
            self._outcome.status = status
            self._outcome.x_robots_tag = header_value(headers, X_ROBOTS_TAG)
        if page:
            self._held = message
            self._length_index = length_index
            return DONE
        return self._send(message)

    async def _rewrite_body(self, message: Message) -> None:
        """A page that comes in pieces, or one the fast search cannot place the tags in."""
        signals = self._signals
        body = message.get("body", b"")
        more = message.get("more_body", False)
        injector = self._injector
        if injector is None:
            # (A whole page got here only because tagged() found no ordinary head in it.)
            offset = signals.head_ends.find(self._path, body, complete=False) if more else None
            if offset is not None:  # an ordinary head, in the first piece: no scanner needed
                block = signals.tags_for(self._path).block
                body = body[:offset] + block + body[offset:]
                await self._send(self._release(len(block)))
                if self._outcome is not None:
                    self._outcome.bytes_sent += len(body)
                await self._send({"type": _BODY, "body": body, "more_body": more})
                return
            injector = self._injector = signals.injector(self._path)
        out = injector.feed(body)
        if not more:
            out += injector.finish()
        if injector.done:
            self._injector = None
            if self._held is not None:
                await self._send(self._release(injector.delta))
        if self._held is None and (out or not more):
            if self._outcome is not None:
                self._outcome.bytes_sent += len(out)
            await self._send({"type": _BODY, "body": out, "more_body": more})

    def _release(self, added: int) -> Message:
        """The held start, no longer held, its Content-Length grown by the ``added`` bytes."""
        held = self._held
        assert held is not None
        self._held = None
        if added:
            _grow_length(held["headers"], self._length_index, added)
        return held


#: Content-Length values by size (see :func:`content_length`), at most _MAX_LENGTHS of them.
_LENGTHS: dict[int, bytes] = {}
_MAX_LENGTHS = 4096


def content_length(size: int) -> bytes:
    """``size`` as a Content-Length value. A site sends the same few sizes again and again (its
    tagged pages), and a look-up costs a fifth of formatting the number each time."""
    value = _LENGTHS.get(size)
    if value is None:
        value = b"%d" % size
        if len(_LENGTHS) < _MAX_LENGTHS:
            _LENGTHS[size] = value
    return value


def _grow_length(headers: list[tuple[bytes, bytes]], index: int, added: int) -> None:
    """Make the Content-Length at ``headers[index]`` (-1: none) ``added`` bytes larger."""
    if index >= 0:
        name, value = headers[index]
        if value.isdigit():  # a length that is not a number stays as it was
            headers[index] = (name, content_length(int(value) + added))


#: A header name (an RFC 9110 token), and what a header value must not hold (controls but tab).
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NOT_IN_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def header_lines(pairs: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """``pairs`` as header lines (``name: value\r\n`` each), or None if one is not valid HTTP."""
    lines = []
    for name, value in pairs:
        if _TOKEN.fullmatch(name) is None or _NOT_IN_VALUE.search(value) is not None:
            return None
        lines.append(b"%s: %s\r\n" % (name, value))
    return b"".join(lines)


def lines_value(lines: bytes, name: bytes) -> str:
    """All values of header ``name`` in encoded header ``lines``, comma-joined ("" if none)."""
    values = []
    for line in lines.split(b"\r\n"):
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            values.append(value.strip().decode("latin-1"))
    return ", ".join(values)


class RecordingSend:
    """A ``send`` that notes what a response was, for the event record, and changes nothing:
    for an app that puts the signals in its responses itself (see :class:`SignalingSend`)."""

    __slots__ = ("_outcome", "_send")

    def __init__(self, send: Send, outcome: Outcome) -> None:
        self._send = send
        self._outcome = outcome

    def __call__(self, message: Message) -> Awaitable[None]:
        outcome = self._outcome
        kind = message["type"]
        if kind == _START:
            outcome.status = message.get("status", 200)
            tag = header_value(message.get("headers") or (), X_ROBOTS_TAG)
            lines = message.get(HEADER_LINES)
            if lines:
                tag = ", ".join(v for v in (tag, lines_value(lines, X_ROBOTS_TAG)) if v)
            outcome.x_robots_tag = tag
        elif kind == _BODY:
            outcome.bytes_sent += len(message.get("body", b""))
        return self._send(message)


class _Done:
    """An awaitable that is already done: what ``send`` returns for a start it holds back."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return (yield from ())


#: Already done: what a ``send`` returns for a message it holds back.
DONE = _Done()


async def _send_both(send: Send, first: Message, second: Message) -> None:
    await send(first)
    await send(second)


def trap_link(path: str) -> bytes:
    """A link no person sees or reaches: not displayed, hidden from screen readers, out of the
    tab order, and marked nofollow for the crawlers that also respect robots.txt."""
    return (
        f'<a href="{path}" rel="nofollow" style="display:none" aria-hidden="true" '
        f'tabindex="-1">originals</a>'
    ).encode("ascii")


def _body_end(page: bytes) -> int:
    """Where the last ``</body`` starts (any case), or -1."""
    end = page.rfind(b"</body")
    return end if end >= 0 else page.lower().rfind(b"</body")


def header_value(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str:
    """All values of header ``name`` as one comma-joined string ("" when absent)."""
    return ", ".join(v.decode("latin-1") for k, v in headers if k.lower() == name)


def _is_injectable_html(content_type: bytes) -> bool:
    """``text/html`` in an encoding where an ASCII tag is ASCII (not UTF-16 or UTF-32)."""
    media_type, _, params = content_type.decode("latin-1").lower().partition(";")
    return media_type.strip() == "text/html" and "utf-16" not in params and "utf-32" not in params
