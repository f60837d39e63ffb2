"""Claimed-bot verification: a User-Agent that names a crawler is a claim, checked against what
the crawler's operator publishes.

- Where the operator publishes IP ranges (Google, Bing, Apple, OpenAI, Perplexity, Common Crawl
  ...), the check is a lookup in memory (:mod:`.ipranges`): a "Googlebot" from an address outside
  Google's ranges is caught on its first request.
- Where the operator publishes only reverse-DNS names, forward-confirmed reverse DNS runs in the
  background: the PTR name of the address must end in the operator's domain and resolve back to
  the address. The request that starts a lookup is not held up (it passes as unverified); later
  requests from the address use the cached answer. An address outside published ranges of an
  operator that also documents reverse DNS gets the same background check, so a stale list
  corrects itself after one request.

Lookups run on a few daemon threads with timeouts (dnspython), at most ``max_pending`` waiting;
answers, good and bad, are cached for ``ttl`` seconds in a bounded cache.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from ..agents import Agent, AgentDB
from .ipranges import RangeTable, load_table

logger = logging.getLogger("noaiguard.verify")


class Resolver(Protocol):
    def reverse(self, address: str) -> list[str]:
        """The PTR names of ``address`` (empty when there are none)."""

    def forward(self, name: str) -> list[str]:
        """The IPv4 and IPv6 addresses of ``name``."""


class DNSResolver:
    """The system's DNS servers through dnspython, with a time limit on every lookup."""

    def __init__(self, timeout: float = 2.0) -> None:
        import dns.resolver

        self._resolver = dns.resolver.Resolver()
        self._resolver.lifetime = timeout
        self._errors = (dns.exception.DNSException,)

    def reverse(self, address: str) -> list[str]:
        import dns.reversename

        try:
            answer = self._resolver.resolve(dns.reversename.from_address(address), "PTR")
        except self._errors:
            return []
        return [str(record).rstrip(".").lower() for record in answer]

    def forward(self, name: str) -> list[str]:
        found: list[str] = []
        for kind in ("A", "AAAA"):
            try:
                found += [str(record) for record in self._resolver.resolve(name, kind)]
            except self._errors:
                continue
        return found


class Check(NamedTuple):
    """The outcome of verifying a claim."""

    genuine: bool
    reason: str


def forward_confirmed(resolver: Resolver, address: str, suffixes: Sequence[str]) -> Check:
    """FCrDNS: a PTR name under one of ``suffixes`` that resolves back to ``address``."""
    names = resolver.reverse(address)
    for name in names:
        if any(name == suffix or name.endswith("." + suffix) for suffix in suffixes):
            if address in resolver.forward(name):
                return Check(True, f"{address} is {name}, which resolves back to it")
            return Check(False, f"{address} claims {name}, which does not resolve back to it")
    if names:
        return Check(False, f"{address} is {names[0]}, not under {', '.join(suffixes)}")
    return Check(False, f"{address} has no reverse DNS name under {', '.join(suffixes)}")


class Verifier:
    """Checks claims in memory; reverse DNS runs in the background and fills a cache."""

    def __init__(
        self,
        agents: AgentDB,
        *,
        data_dir: Path | None = None,
        resolver: Resolver | None = None,
        ttl: float = 86400.0,
        cache_size: int = 65536,
        max_pending: int = 256,
        workers: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tables: dict[str, RangeTable] = {}
        self._rdns: dict[str, tuple[str, ...]] = {}
        for agent in agents:
            verify = agent.verify
            if verify is None:
                continue
            if verify.rdns:
                self._rdns[agent.name] = verify.rdns
            if verify.ip_ranges:
                table = self._tables.get(verify.ip_ranges) or load_table(verify.ip_ranges, data_dir)
                if table is not None:
                    self._tables[verify.ip_ranges] = table
        self._resolver = resolver
        self._ttl = ttl
        self._cache_size = cache_size
        self._max_pending = max_pending
        self._clock = clock
        self._cache: OrderedDict[tuple[str, str], tuple[float, Check]] = OrderedDict()
        self._pending: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        # Lookups wait here for a few daemon threads: bounded, and never holding up an exit.
        self._queue: queue.Queue[tuple[tuple[str, str], tuple[str, ...]] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._workers = workers

    def can_verify(self, agent: Agent) -> bool:
        verify = agent.verify
        return verify is not None and (
            verify.ip_ranges in self._tables or (bool(verify.rdns) and self._resolver is not None)
        )

    def check(self, agent: Agent, address: str) -> Check | None:
        """Whether ``address`` may send ``agent``'s requests; None while that is not known yet."""
        verify = agent.verify
        if verify is None:
            return None
        table = self._tables.get(verify.ip_ranges) if verify.ip_ranges else None
        if table is not None and address in table:
            return Check(True, f"{address} is in {agent.operator}'s published ranges")
        suffixes = self._rdns.get(agent.name)
        if suffixes and self._resolver is not None:
            known = self._cached(agent.name, address)
            if known is not None:
                return known
            self._look_up(agent.name, address, suffixes)
        if table is not None:
            return Check(False, f"{address} is not in {agent.operator}'s published ranges")
        return None  # only reverse DNS, and the lookup has just started

    # -- the reverse-DNS cache --------------------------------------------------------------

    def _cached(self, name: str, address: str) -> Check | None:
        key = (name, address)
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                return None
            if hit[0] < self._clock():
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return hit[1]

    def _look_up(self, name: str, address: str, suffixes: tuple[str, ...]) -> None:
        key = (name, address)
        with self._lock:
            if key in self._pending or len(self._pending) >= self._max_pending:
                return
            self._pending.add(key)
            if not self._threads:
                for index in range(self._workers):
                    thread = threading.Thread(
                        target=self._work, name=f"noaiguard-dns-{index}", daemon=True
                    )
                    thread.start()
                    self._threads.append(thread)
        self._queue.put((key, suffixes))

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            self._resolve(*job)

    def _resolve(self, key: tuple[str, str], suffixes: tuple[str, ...]) -> None:
        assert self._resolver is not None
        try:
            result = forward_confirmed(self._resolver, key[1], suffixes)
        except Exception as exc:  # a resolver failure is "not known", never a verdict
            logger.warning("reverse DNS of %s failed: %s", key[1], exc)
            with self._lock:
                self._pending.discard(key)
            return
        with self._lock:
            self._pending.discard(key)
            self._cache[key] = (self._clock() + self._ttl, result)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no lookup is running (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.005)
        return False

    def close(self) -> None:
        """Stop the lookup threads (a lookup under way finishes within its time limit)."""
        for _ in self._threads:
            self._queue.put(None)
