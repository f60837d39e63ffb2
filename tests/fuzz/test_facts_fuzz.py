"""Fuzzing RequestFacts: every header byte, the path and the query are the client's to choose.

Scopes carry arbitrary header names and values (invalid UTF-8, NUL, huge values, repeated and
oddly cased names). Building the facts never fails, reads each header the way the middleware's
fast path does, and keeps every value within its bound.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from noaiguard.clientip import TrustedProxies
from noaiguard.facts import MAX_HEADER_VALUE, RequestFacts, client_address
from noaiguard.middleware import _user_agent

from .budget import fuzz

NAMES = st.sampled_from(
    [b"user-agent", b"User-Agent", b"USER-AGENT", b"host", b"Host", b"x-forwarded-for",
     b"X-Forwarded-For", b"accept", b"cookie", b"", b"user-agent\x00", b"\xff"]
)  # fmt: skip
VALUES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"GPTBot/1.2", b"Mozilla/5.0", b"10.0.0.1, 66.249.66.1", b"\x00\xff\xfe"]),
    st.integers(MAX_HEADER_VALUE - 2, MAX_HEADER_VALUE + 2).map(lambda n: b"a" * n),
)
headers = st.lists(st.tuples(NAMES, VALUES), max_size=10)


@st.composite
def scopes(draw: st.DrawFn) -> dict[str, object]:
    scope: dict[str, object] = {"type": "http", "headers": draw(headers)}
    optional = {
        "method": st.sampled_from(["GET", "HEAD", "POST", "get", "", "M\x00"]),
        "path": st.text(max_size=30),
        "query_string": st.binary(max_size=40),
        "scheme": st.sampled_from(["http", "https", ""]),
        "client": st.one_of(
            st.none(),
            st.tuples(
                st.sampled_from(["10.0.0.2", "203.0.113.9", "::1", "fe80::1%eth0"]),
                st.integers(0, 65535),
            ),
        ),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            scope[key] = draw(strategy)
    return scope


@fuzz(800)
@given(scope=scopes(), trusted=st.sampled_from([(), ("10.0.0.0/8",), ("0.0.0.0/0", "::/0")]))
@example(  # two User-Agent lines: the fast path reads the first one
    scope={
        "type": "http",
        "headers": [(b"user-agent", b"Mozilla/5.0"), (b"user-agent", b"GPTBot")],
    },
    trusted=(),
)
def test_facts_are_built_from_any_scope(scope: dict[str, object], trusted: tuple[str, ...]) -> None:
    proxies = TrustedProxies(trusted)
    facts = RequestFacts.from_scope(scope, proxies)
    raw = scope["headers"]
    assert isinstance(raw, list)
    assert list(facts.headers) == raw
    assert len(facts.user_agent) <= MAX_HEADER_VALUE
    assert len(facts.host) <= 1024
    assert len(facts.query) <= MAX_HEADER_VALUE
    # The User-Agent the full inspection reads is the one the fast path decided on.
    assert facts.user_agent == _user_agent(raw)[:MAX_HEADER_VALUE].decode("latin-1")
    assert facts.client_ip == client_address(scope, proxies)
    if not trusted:
        client = scope.get("client")
        assert facts.client_ip == (str(client[0]) if isinstance(client, tuple) else None)
