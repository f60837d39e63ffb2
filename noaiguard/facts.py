"""RequestFacts: what noaiguard knows about a request before it reaches the app.

Built once per request from the ASGI scope in one pass over the headers, or from a WSGI environ
(which Django's ``request.META`` also is, under WSGI and ASGI alike). Header values are bytes
that clients control; they are decoded as Latin-1, which maps every byte to one character and never
fails, so invalid UTF-8 or NUL bytes in a User-Agent cannot raise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from ._types import Scope
from .clientip import TrustedProxies

_UA = b"user-agent"
_HOST = b"host"
_XFF = b"x-forwarded-for"

#: Longest header value noaiguard reads; a server normally refuses longer ones anyway.
MAX_HEADER_VALUE = 16384


class RequestFacts(NamedTuple):
    """What noaiguard knows of one request.

    A named tuple rather than a frozen dataclass: one is built for every request, and a frozen
    dataclass takes twice as long to create.
    """

    method: str
    path: str
    user_agent: str = ""
    client_ip: str | None = None
    host: str = ""
    query: str = ""
    scheme: str = "http"
    #: The raw request headers, for checks that need more than the User-Agent.
    headers: Sequence[tuple[bytes, bytes]] = ()

    @classmethod
    def from_scope(cls, scope: Scope, trusted: TrustedProxies) -> RequestFacts:
        user_agent: bytes | None = None
        host: bytes | None = None
        forwarded: list[bytes] = []
        headers = scope.get("headers") or ()
        for name, value in headers:
            # Servers send lower-case names, but ASGI does not promise it; the length test
            # keeps the lower-casing off every other header. A repeated User-Agent or Host
            # counts once, the first, as the middleware's fast path (and Starlette) read it:
            # the decision and the event must name the same client.
            size = len(name)
            if size == 10:
                if user_agent is None and name.lower() == _UA:
                    user_agent = value
            elif size == 4:
                if host is None and name.lower() == _HOST:
                    host = value
            elif size == 15 and trusted and name.lower() == _XFF:
                forwarded.append(value)
        client_ip = _client_ip(scope, trusted, forwarded)
        query = scope.get("query_string")
        return cls(
            scope.get("method", "GET"),
            scope.get("path") or "/",
            user_agent[:MAX_HEADER_VALUE].decode("latin-1") if user_agent else "",
            client_ip,
            host[:1024].decode("latin-1") if host else "",
            bytes(query[:MAX_HEADER_VALUE]).decode("latin-1") if query else "",
            scope.get("scheme", "http"),
            headers,
        )

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, Any],
        trusted: TrustedProxies,
        *,
        path: str,
        scheme: str = "",
    ) -> RequestFacts:
        """The facts of a WSGI request. ``path`` is the decoded URL path (SCRIPT_NAME included).

        The headers are rebuilt as ASGI-style byte pairs (``HTTP_USER_AGENT`` becomes
        ``user-agent``), so the rest of noaiguard sees one shape whichever front door it sits
        behind. WSGI strings carry the raw bytes as Latin-1, so encoding back never fails.
        """
        user_agent = environ.get("HTTP_USER_AGENT", "")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR") if trusted else None
        peer = environ.get("REMOTE_ADDR") or None
        client_ip = trusted.client_ip(peer, forwarded[:MAX_HEADER_VALUE]) if forwarded else peer
        return cls(
            environ.get("REQUEST_METHOD", "GET"),
            path or "/",
            user_agent[:MAX_HEADER_VALUE],
            client_ip,
            environ.get("HTTP_HOST", "")[:1024],
            environ.get("QUERY_STRING", "")[:MAX_HEADER_VALUE],
            scheme or environ.get("wsgi.url_scheme", "http"),
            EnvironHeaders(environ),
        )


class EnvironHeaders(Sequence[tuple[bytes, bytes]]):
    """A WSGI environ's headers as ASGI-style pairs, built only if something reads them.

    Nearly every request is decided from its User-Agent and address alone; the full header list
    is read only to explain a behaviour finding. Building it costs more than the rest of the
    request facts together, so it waits.
    """

    __slots__ = ("_environ", "_headers")

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self._environ = environ
        self._headers: list[tuple[bytes, bytes]] | None = None

    def _list(self) -> list[tuple[bytes, bytes]]:
        if self._headers is None:
            self._headers = environ_headers(self._environ)
        return self._headers

    def __getitem__(self, index: Any) -> Any:
        return self._list()[index]

    def __len__(self) -> int:
        return len(self._list())

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(self._list())


def environ_headers(environ: Mapping[str, Any]) -> list[tuple[bytes, bytes]]:
    """A WSGI environ's request headers as ASGI-style (lower-case name, value) byte pairs."""
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in _UNPREFIXED:
            name = _UNPREFIXED[key]
        else:
            continue
        if isinstance(value, str):
            headers.append((name.encode("latin-1"), value.encode("latin-1", "replace")))
    return headers


def environ_path(environ: Mapping[str, Any]) -> str:
    """The URL path of a WSGI request, decoded as UTF-8 the way ASGI servers decode it."""
    raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    try:
        return raw.encode("latin-1").decode("utf-8", "replace") or "/"
    except UnicodeEncodeError:  # a server that already decoded it
        return raw or "/"


def http_version(environ: Mapping[str, Any]) -> str:
    """``1.1`` from ``SERVER_PROTOCOL: HTTP/1.1``, as in an ASGI scope."""
    protocol: str = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
    return protocol.rpartition("/")[2] or "1.1"


_UNPREFIXED = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def client_address(scope: Scope, trusted: TrustedProxies) -> str | None:
    """The client's address: the socket's, or from X-Forwarded-For through trusted proxies only.

    For the front doors' fast path, which needs the address but not the rest of the facts.
    """
    if not trusted:  # the socket's, as nearly every site has it: no header to look at
        client = scope.get("client")
        return str(client[0]) if client else None
    forwarded = [value for name, value in scope.get("headers") or () if name.lower() == _XFF]
    return _client_ip(scope, trusted, forwarded)


def _client_ip(scope: Scope, trusted: TrustedProxies, forwarded: list[bytes]) -> str | None:
    client = scope.get("client")
    peer = str(client[0]) if client else None
    if not forwarded:
        return peer
    return trusted.client_ip(peer, b",".join(forwarded)[:MAX_HEADER_VALUE].decode("latin-1"))
