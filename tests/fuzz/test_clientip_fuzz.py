"""Fuzzing the client address: X-Forwarded-For is written by whoever sends the request.

The hops are addresses in every notation (ports, brackets, zones, mapped IPv4) mixed with junk,
behind peers that are or are not trusted proxies. The answer must be the socket's peer or a hop
that only trusted proxies stand to the right of, written the one canonical way.
"""

from __future__ import annotations

import ipaddress

from hypothesis import example, given
from hypothesis import strategies as st

from noaiguard.clientip import TrustedProxies, parse_ip

from .budget import fuzz

NETWORKS = ["10.0.0.0/8", "192.168.1.0/24", "127.0.0.1", "fd00::/8", "::1", "2001:db8::/32"]

addresses = st.one_of(
    st.ip_addresses().map(str),
    st.sampled_from(
        ["10.1.2.3", "192.168.1.9", "127.0.0.1", "fd00::5", "::1", "2001:db8::7", "66.249.66.1"]
    ),
)
hops = st.one_of(
    addresses,
    addresses.map(lambda a: f"[{a}]:8080" if ":" in a else f"{a}:8080"),
    addresses.map(lambda a: f"  {a}\t"),
    st.sampled_from(
        [
            "",
            "unknown",
            "_hidden",
            "fe80::1%eth0",
            "fe80::1%\r\nX-Evil: 1",
            "fe80::1%\x00",
            "::ffff:10.0.0.1",
            "[::1",
            "[]",
            "1.2.3.4:5:6",
            "01.02.03.04",
        ]
    ),
    st.text(max_size=12).filter(lambda text: "," not in text),
)


def is_canonical(address: str) -> bool:
    try:
        return str(ipaddress.ip_address(address)) == address and "%" not in address
    except ValueError:
        return False


@fuzz(1000)
@given(
    networks=st.lists(st.sampled_from(NETWORKS), max_size=4, unique=True),
    peer=st.one_of(st.none(), addresses, st.sampled_from(["", "not an address"])),
    forwarded=st.lists(hops, max_size=8),
)
@example(networks=["10.0.0.0/8"], peer="10.0.0.2", forwarded=["fe80::1%\r\nX-Evil: 1"])
def test_the_client_is_the_peer_or_a_hop_only_trusted_proxies_vouch_for(
    networks: list[str], peer: str | None, forwarded: list[str]
) -> None:
    trusted = TrustedProxies(networks)
    header = ",".join(forwarded)
    client = trusted.client_ip(peer, header)
    if not networks or not header or peer is None or not trusted.trusts(peer):
        assert client == peer
        return
    # From the right: the run of hops trusted proxies wrote, then the hop before it, if any.
    run = 0
    for hop in reversed(forwarded):
        address = parse_ip(hop)
        if address is None or not trusted.trusts(address):
            break
        run += 1
    before = forwarded[: len(forwarded) - run]
    if not before:
        expected = parse_ip(forwarded[0])  # trusted all the way: the leftmost hop
    elif parse_ip(before[-1]) is None:
        # An unreadable hop was written by someone untrusted: the last one vouched for.
        expected = parse_ip(forwarded[len(before)]) if run else peer
    else:
        expected = parse_ip(before[-1])  # the first untrusted address
    assert client == expected
    assert client == peer or (client is not None and is_canonical(client)), client


@fuzz(500)
@given(text=st.one_of(hops, st.text(max_size=40)))
def test_a_hop_reads_as_a_canonical_address_or_nothing(text: str) -> None:
    address = parse_ip(text)
    assert address is None or is_canonical(address), address
