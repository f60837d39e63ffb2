"""RequestFacts: what noaiguard knows about a request before it reaches the app.

Built once per request from the ASGI scope in one pass over the headers. Header values are bytes
that clients control; they are decoded as Latin-1, which maps every byte to one character and never
fails, so invalid UTF-8 or NUL bytes in a User-Agent cannot raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._types import Scope
from .clientip import TrustedProxies

_UA = b"user-agent"
_HOST = b"host"
_XFF = b"x-forwarded-for"

#: Longest header value noaiguard reads; a server normally refuses longer ones anyway.
MAX_HEADER_VALUE = 16384


@dataclass(frozen=True, slots=True)
class RequestFacts:
    method: str
    path: str
    user_agent: str = ""
    client_ip: str | None = None
    host: str = ""
    query: str = ""
    scheme: str = "http"
    #: The raw request headers, for checks that need more than the User-Agent.
    headers: tuple[tuple[bytes, bytes], ...] = field(default=(), repr=False)

    @classmethod
    def from_scope(cls, scope: Scope, trusted: TrustedProxies) -> RequestFacts:
        user_agent = host = b""
        forwarded: list[bytes] = []
        headers = scope.get("headers") or ()
        for name, value in headers:
            if name == _UA:
                user_agent = value
            elif name == _HOST:
                host = value
            elif name == _XFF and trusted:
                forwarded.append(value)
        client = scope.get("client")
        peer = str(client[0]) if client else None
        client_ip = (
            trusted.client_ip(peer, b",".join(forwarded)[:MAX_HEADER_VALUE].decode("latin-1"))
            if forwarded
            else peer
        )
        return cls(
            method=str(scope.get("method", "GET")),
            path=str(scope.get("path", "/")) or "/",
            user_agent=user_agent[:MAX_HEADER_VALUE].decode("latin-1"),
            client_ip=client_ip,
            host=host[:1024].decode("latin-1"),
            query=bytes(scope.get("query_string", b""))[:MAX_HEADER_VALUE].decode("latin-1"),
            scheme=str(scope.get("scheme", "http")),
            headers=tuple(headers),
        )
