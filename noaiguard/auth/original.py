"""The original request, read off a web server's authorization subrequest.

nginx's ``auth_request``, Caddy's ``forward_auth`` and Traefik's ``forwardAuth`` each send noaiguard
a request of their own, with the visitor's headers copied and the rest of the original request in
headers. Accepted, first found wins:

=========== ==================================================================
method      ``X-Original-Method`` (nginx, as deploy/ sets it), ``X-Forwarded-Method`` (Caddy,
            Traefik); else the subrequest's own
URI         ``X-Original-URI`` (nginx), ``X-Forwarded-Uri`` (Caddy, Traefik)
client      ``X-Forwarded-For`` (all three), ``X-Real-IP``
host        ``X-Forwarded-Host`` (Caddy, Traefik), else ``Host`` (nginx passes the original)
scheme      ``X-Forwarded-Proto``
=========== ==================================================================

The client's address is believed only from a peer listed in ``network.trusted_proxies``, read as
:mod:`noaiguard.clientip` reads X-Forwarded-For. In this mode the peer is always the web server,
never the visitor, so when the address cannot be believed (the peer is not listed, or sent none)
the request is judged without one (by its User-Agent alone) rather than as the web server's:
taking the web server for the client would count every visitor as one, and behaviour detection
would soon refuse them all. Each such peer is logged once.
"""

from __future__ import annotations

import functools
import logging
from typing import NamedTuple
from urllib.parse import unquote

from ..clientip import TrustedProxies, parse_ip
from ..facts import MAX_HEADER_VALUE, RequestFacts
from .http import Request

logger = logging.getLogger("noaiguard.auth")

#: Most warnings kept about peers whose addresses are not believed.
_MAX_WARNED = 256


class Original(NamedTuple):
    """The visitor's request as the web server described it; the bytes as they came."""

    method: bytes
    #: The URL path, percent-decoded as ASGI servers decode it.
    path: str
    query: bytes
    user_agent: bytes
    #: None when the web server's word for it cannot be taken (see the module docstring).
    client_ip: str | None
    host: bytes
    scheme: bytes
    headers: list[tuple[bytes, bytes]]

    def facts(self) -> RequestFacts:
        """The request facts, for what needs more than the User-Agent decision's fast path."""
        return RequestFacts(
            self.method.decode("latin-1"),
            self.path,
            self.user_agent[:MAX_HEADER_VALUE].decode("latin-1"),
            self.client_ip,
            self.host.split(b",", 1)[0].strip()[:1024].decode("latin-1"),
            self.query[:MAX_HEADER_VALUE].decode("latin-1"),
            self.scheme.split(b",", 1)[0].strip().decode("latin-1").lower(),
            self.headers,
        )


class OriginalRequests:
    """Turns the web server's requests into the facts of the visitor's requests."""

    def __init__(self, trusted: TrustedProxies) -> None:
        self._trusted = trusted
        self._warned: set[str] = set()
        # Parsing addresses costs microseconds, and a web server sends the same few again and
        # again (one per visitor): the answers are kept, for headers of an ordinary size.
        self._cached_client = functools.lru_cache(maxsize=65536)(self._client)

    def read(self, request: Request, *, subrequest: bool) -> Original:
        """The visitor's request. ``subrequest``: an authorization subrequest, which carries the
        original method and URI in headers; otherwise a request the web server passed on as it
        came (robots.txt), whose own method and target are the original ones."""
        headers = request.headers
        found = dict(headers)  # one C call; when a name comes twice, the slow path below
        if len(found) != len(headers):
            found = _first_values(headers)
        get = found.get
        uri = (get(b"x-original-uri") or get(b"x-forwarded-uri")) if subrequest else None
        if uri is None:
            if subrequest:
                self._warn_once(
                    "uri",
                    "the web server sends no X-Original-URI or X-Forwarded-Uri: every request "
                    "is judged as one for /; see deploy/README.md",
                )
                uri = b"/"
            else:
                uri = request.target
        method = (get(b"x-original-method") or get(b"x-forwarded-method")) if subrequest else None
        path, _, query = _origin_form(uri).partition(b"?")
        return Original(
            (method or request.method).upper(),
            _decoded(path),
            query,
            get(b"user-agent", b""),
            self.client(request.peer, get(b"x-forwarded-for"), get(b"x-real-ip")),
            get(b"x-forwarded-host") or get(b"host", b""),
            get(b"x-forwarded-proto", b"http"),
            headers,
        )

    def client(
        self, peer: str | None, forwarded: bytes | None, real_ip: bytes | None
    ) -> str | None:
        """The visitor's address, or None when the web server's word cannot be taken for it."""
        if forwarded is not None and len(forwarded) > 256:
            return self._client(peer, forwarded, real_ip)
        return self._cached_client(peer, forwarded, real_ip)

    def _client(
        self, peer: str | None, forwarded: bytes | None, real_ip: bytes | None
    ) -> str | None:
        if forwarded is not None:
            hops = forwarded[:MAX_HEADER_VALUE].decode("latin-1")
        elif real_ip is not None:
            hops = real_ip[:64].decode("latin-1")
        else:
            self._warn_once(
                f"none:{peer}",
                f"the web server at {peer} sends no X-Forwarded-For or X-Real-IP: requests are "
                "judged without the client's address (no claimed-bot checks, no behaviour "
                "detection); see deploy/README.md",
            )
            return None
        if peer is None or not self._trusted.trusts(peer):
            self._warn_once(
                f"untrusted:{peer}",
                f"{peer} is not in network.trusted_proxies, so the client address it sends is "
                "not believed and its requests are judged without one; list the web server's "
                "address there (127.0.0.1 when it runs on this machine)",
            )
            return None
        address = self._trusted.client_ip(peer, hops)
        # A hop that is not an address (X-Real-IP: garbage) leaves the peer, which is not the
        # visitor.
        return address if address != peer or parse_ip(hops.rpartition(",")[2]) == peer else None

    def _warn_once(self, key: str, message: str) -> None:
        if key in self._warned or len(self._warned) >= _MAX_WARNED:
            return
        self._warned.add(key)
        logger.warning("%s", message)


def _first_values(headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """Each header's first value, except X-Forwarded-For, whose lines add up (RFC 9110 5.3)."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name == b"x-forwarded-for" and name in found:
            found[name] += b"," + value
        else:
            found.setdefault(name, value)
    return found


def _origin_form(uri: bytes) -> bytes:
    """``/path?query`` from a URI that may be in absolute form (``http://host/path?query``)."""
    if uri[:1] == b"/":
        return uri
    scheme, separator, rest = uri.partition(b"://")
    if not separator or not scheme.isalpha():
        return b"/" + uri.lstrip(b"/") if uri else b"/"
    slash = rest.find(b"/")
    return rest[slash:] if slash >= 0 else b"/"


def _decoded(path: bytes) -> str:
    """The URL path percent-decoded as UTF-8, as ASGI servers decode ``scope["path"]``."""
    text = path[:MAX_HEADER_VALUE].decode("utf-8", "replace")
    return unquote(text, errors="replace") if "%" in text else text
