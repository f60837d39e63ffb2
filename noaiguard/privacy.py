"""What a client address becomes before it is stored: ``store.ip_privacy``.

- ``truncate`` (the default): IPv4 to its /24, IPv6 to its /48. Enough to see which networks a
  scraper comes from and to write an abuse report to the network's owner, while the stored value
  no longer points at one household. Data protection law (the GDPR in the EU) treats a full IP
  address as personal data; a site owner should store no more of it than the purpose needs, and
  blocking works on the live address in memory, never on the stored one.
- ``hash``: an HMAC-SHA256 of the address with a secret key, shortened to 16 hex digits. The same
  client gets the same value, so repeated visits can be told apart, but the address cannot be read
  back without the key (and even with it only by trying addresses).
- ``full``: the address as it came, for sites that have a reason and a legal basis to keep it.

This runs on the event writer's thread, never on the request path.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
from collections.abc import Callable

MODES = ("full", "truncate", "hash")


def truncate(address: str) -> str:
    """``198.51.100.7`` -> ``198.51.100.0/24``; ``2001:db8:1:2::5`` -> ``2001:db8:1::/48``."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "invalid"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def hasher(key: bytes) -> Callable[[str], str]:
    """An HMAC of an address under ``key``: stable, not reversible without the key."""

    def hashed(address: str) -> str:
        return hmac.new(key, address.encode("utf-8"), hashlib.sha256).hexdigest()[:16]

    return hashed


def anonymizer(mode: str, key: str = "") -> Callable[[str | None], str | None]:
    """The function that turns a client address into what is stored under ``mode``."""
    if mode == "full":
        return lambda address: address
    convert: Callable[[str], str]
    if mode == "truncate":
        convert = truncate
    elif mode == "hash":
        if not key:
            raise ValueError("ip_privacy: hash needs a secret key (store.ip_hash_key)")
        convert = hasher(key.encode("utf-8"))
    else:
        raise ValueError(f"ip_privacy: unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    cached = functools.lru_cache(maxsize=4096)(convert)
    return lambda address: cached(address) if address else address
