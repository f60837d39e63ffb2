"""The client's address: the socket peer, or X-Forwarded-For through trusted proxies only.

Anyone can send ``X-Forwarded-For: 66.249.66.1`` to look like Googlebot, so the header is believed
only when the peer that sent it is a proxy the site owner listed in ``network.trusted_proxies``.
The list is walked from the right (the hop the nearest proxy appended) leftwards, skipping trusted
proxies; the first address that is not one of them is the client. Empty by default: trust no one.
This is the approach of uvicorn's ProxyHeadersMiddleware and of nginx's ``real_ip_recursive``.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str) -> str | None:
    """A normalised address from an X-Forwarded-For hop (``1.2.3.4:80``, ``[::1]:80``), or None.

    An IPv6 zone (``fe80::1%eth0``) is dropped: it names an interface of the proxy that wrote it,
    and ``ipaddress`` takes any text there, line breaks included, which would then travel on as
    the client's address into logs and events.
    """
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        text = text[1:end] if end > 0 else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        address = ipaddress.IPv6Address(int(address))
    return str(address)


class TrustedProxies:
    """The proxies whose X-Forwarded-For is believed."""

    def __init__(self, networks: Sequence[str] = ()) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in networks
        )
        self.trusts = functools.lru_cache(maxsize=1024)(self._trusts)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def _trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_ip(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The client address for a request from ``peer`` carrying ``forwarded_for``."""
        if not self.networks or not forwarded_for or peer is None or not self.trusts(peer):
            return peer
        client = peer
        for hop in reversed(forwarded_for.split(",")):
            address = parse_ip(hop)
            if address is None:
                # A hop we cannot read was written by someone we do not trust: stop at the last
                # address a trusted proxy vouched for.
                return client
            client = address
            if not self.trusts(address):
                return address
        return client
