"""Client addresses: X-Forwarded-For is believed only through trusted proxies."""

from __future__ import annotations

import pytest

from noaiguard.clientip import TrustedProxies, parse_ip
from noaiguard.facts import RequestFacts


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert TrustedProxies().client_ip("203.0.113.9", "66.249.66.1") == "203.0.113.9"


def test_an_untrusted_peer_cannot_claim_another_address() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.client_ip("203.0.113.9", "66.249.66.1") == "203.0.113.9"


def test_a_trusted_proxy_is_believed() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.client_ip("10.1.2.3", "198.51.100.7") == "198.51.100.7"


def test_the_chain_is_walked_from_the_right_past_trusted_hops_only() -> None:
    proxies = TrustedProxies(["10.0.0.0/8", "192.0.2.1"])
    # The client wrote "66.249.66.1" itself; the first untrusted hop from the right is the client.
    chain = "66.249.66.1, 198.51.100.7, 192.0.2.1"
    assert proxies.client_ip("10.0.0.5", chain) == "198.51.100.7"
    # Every hop trusted: the leftmost is the client.
    assert proxies.client_ip("10.0.0.5", "192.0.2.1, 10.9.9.9") == "192.0.2.1"


def test_garbage_in_the_chain_stops_at_the_last_trusted_hop() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.client_ip("10.0.0.5", "not-an-ip, 10.0.0.7") == "10.0.0.7"
    assert proxies.client_ip("10.0.0.5", "\x00\xff") == "10.0.0.5"


@pytest.mark.parametrize(
    ("hop", "address"),
    [
        ("1.2.3.4", "1.2.3.4"),
        (" 1.2.3.4:8080 ", "1.2.3.4"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("unknown", None),
        ("", None),
    ],
)
def test_hops_are_normalised(hop: str, address: str | None) -> None:
    assert parse_ip(hop) == address


def test_request_facts_use_trusted_forwarded_for_only() -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/a",
        "client": ("10.0.0.5", 5000),
        "headers": [
            (b"host", b"example.org"),
            (b"user-agent", b"\xffbinary\x00ua"),
            (b"x-forwarded-for", b"198.51.100.7"),
        ],
    }
    trusted = RequestFacts.from_scope(scope, TrustedProxies(["10.0.0.0/8"]))
    assert trusted.client_ip == "198.51.100.7"
    assert trusted.user_agent == "\xffbinary\x00ua"
    assert trusted.host == "example.org"
    untrusted = RequestFacts.from_scope(scope, TrustedProxies())
    assert untrusted.client_ip == "10.0.0.5"


def test_request_facts_survive_a_minimal_scope() -> None:
    facts = RequestFacts.from_scope({"type": "http"}, TrustedProxies())
    assert facts.method == "GET" and facts.path == "/" and facts.client_ip is None
