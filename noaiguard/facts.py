"""RequestFacts: what noaiguard knows about a request before it reaches the app.

Built once per request from the ASGI scope in one pass over the headers. Header values are bytes
that clients control; they are decoded as Latin-1, which maps every byte to one character and never
fails, so invalid UTF-8 or NUL bytes in a User-Agent cannot raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

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
        user_agent = host = b""
        forwarded: list[bytes] = []
        headers = scope.get("headers") or ()
        for name, value in headers:
            # Servers send lower-case names, but ASGI does not promise it; the length test
            # keeps the lower-casing off every other header.
            size = len(name)
            if size == 10:
                if name.lower() == _UA:
                    user_agent = value
            elif size == 4:
                if name.lower() == _HOST:
                    host = value
            elif size == 15 and trusted and name.lower() == _XFF:
                forwarded.append(value)
        client_ip = _client_ip(scope, trusted, forwarded)
        query = scope.get("query_string")
        return cls(
            scope.get("method", "GET"),
            scope.get("path") or "/",
            user_agent[:MAX_HEADER_VALUE].decode("latin-1"),
            client_ip,
            host[:1024].decode("latin-1"),
            bytes(query[:MAX_HEADER_VALUE]).decode("latin-1") if query else "",
            scope.get("scheme", "http"),
            headers,
        )


def client_address(scope: Scope, trusted: TrustedProxies) -> str | None:
    """The client's address: the socket's, or from X-Forwarded-For through trusted proxies only.

    For the front doors' fast path, which needs the address but not the rest of the facts.
    """
    forwarded = (
        [value for name, value in scope.get("headers") or () if name.lower() == _XFF]
        if trusted
        else []
    )
    return _client_ip(scope, trusted, forwarded)


def _client_ip(scope: Scope, trusted: TrustedProxies, forwarded: list[bytes]) -> str | None:
    client = scope.get("client")
    peer = str(client[0]) if client else None
    if not forwarded:
        return peer
    return trusted.client_ip(peer, b",".join(forwarded)[:MAX_HEADER_VALUE].decode("latin-1"))
