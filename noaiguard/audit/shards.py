"""An audit split over processes: each judges the clients of a share of the networks.

What the guard remembers of a client over time (its request rates, per address and per /24 or
/64 network, and the penalty box) is kept per address and per network. Split by network, each
process sees every request it needs to judge its clients exactly as a single process would: the
same decisions and the same events; only the hourly counts, which add up, are summed at the end.
Each process reads every line and keeps the requests of its clients (the client being the address
that ``network.trusted_proxies`` makes of the line, as in the live middleware); only the first
counts the lines that are not requests.
"""

from __future__ import annotations

import zlib

from ..classify.behaviour import network_of


def owner_of(address: str, shards: int) -> int:
    """The shard (0 to ``shards - 1``) that judges the client at ``address``: the same for every
    address of one network, and the same in every process (no per-process hash seed)."""
    network = network_of(address) or address
    return zlib.crc32(network.encode("utf-8", "replace")) % shards
