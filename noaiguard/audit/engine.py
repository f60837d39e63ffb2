"""The audit's engine: requests read from a log go through the guard as the middleware would have
taken them, and become the events and hourly roll-ups a live store would hold.

Each request gets what the live middleware gives it: the decision the guard makes from its
User-Agent (cached per User-Agent, as :meth:`Guard.decide_by_user_agent` caches it; per request
when the policy has path or method rules), then :meth:`Guard.judge` with the client's address,
which catches claimed crawlers outside their operators' published ranges and scores behaviour.
The guard's clock is the log's: a browser User-Agent that took 300 images in a minute of last
month's log is caught as it would have been that minute. robots.txt, tdmrep.json and ai.txt
would have been answered by noaiguard itself: counted as allowed, and a known agent's robots.txt
fetch recorded, as :meth:`Guard.robots_served` does.

What differs from a live site, because a log cannot say it, is made to fit the log:

- reverse DNS is off (it would take an audit of a month hours, and asks the internet about every
  address). Claims of operators that publish IP ranges are checked against the ranges that ship
  with noaiguard (``noaiguard agents update`` refreshes them); the others pass unverified;
- access logs record no request headers besides the User-Agent, so behaviour's header checks
  (no Accept, no Accept-Language) are off: they would flag every client;
- an event records what really happened: the status and the bytes the server sent. For a request
  the policy would have refused, those bytes are what refusing it would have kept from the client
  (``bytes_withheld``).

Events are written in batches of :data:`BATCH` by a thread of their own, and the hourly roll-ups
at the end; addresses are stored as ``store.ip_privacy`` says, as the event sink stores them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

from ..backends import EventStore
from ..config import Action, Config
from ..events import REQUEST, ROBOTS_FETCH, Batch, Event, Rollup
from ..facts import RequestFacts
from ..guard import Guard
from ..policy import Decision
from ..privacy import anonymizer
from .logformats import Parser
from .shards import owner_of

#: Events written to the store per transaction.
BATCH = 20_000
#: Distinct User-Agents (their decisions) and addresses (where they go) remembered; then the
#: memory starts over.
MAX_CACHED = 200_000
#: Examples of bad lines kept for the summary, per reason.
EXAMPLES = 3
_REFUSE = (Action.BLOCK, Action.TARPIT)


class LogClock:
    """The time the guard sees: that of the log line being judged."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        # Behaviour counts seconds from the clock at start in 32 bits: 0 fits every log date.
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class BadLine(NamedTuple):
    source: str
    number: int
    reason: str
    text: str


@dataclasses.dataclass(slots=True)
class Reading:
    """What an audit has read so far."""

    lines: int = 0
    requests: int = 0
    bad: Counter[str] = dataclasses.field(default_factory=Counter)
    examples: list[BadLine] = dataclasses.field(default_factory=list)
    #: The first and the last hour (epoch seconds) with a request.
    first_hour: int | None = None
    last_hour: int | None = None

    @property
    def bad_lines(self) -> int:
        return sum(self.bad.values())


class Share(NamedTuple):
    """What the audit of one shard found that adds up (see :meth:`Audit.share`)."""

    reading: Reading
    rollups: dict[tuple[int, str, str, int], int]


def audit_config(config: Config) -> Config:
    """``config`` as an audit applies it: nothing opened or served, no DNS, no header checks."""
    behaviour = config.behaviour
    return dataclasses.replace(
        config,
        store=dataclasses.replace(
            config.store, url="memory://", counters_url="memory://", spill_max_mb=0
        ),
        agents=dataclasses.replace(config.agents, verify_rdns=False),
        metrics=dataclasses.replace(config.metrics, enabled=False),
        behaviour=dataclasses.replace(
            behaviour,
            header_anomalies=dataclasses.replace(behaviour.header_anomalies, enabled=False),
        ),
    )


class Audit:
    """Requests from logs through one guard, into ``store``."""

    def __init__(
        self, config: Config, store: EventStore, *, shard: int = 0, shards: int = 1
    ) -> None:
        self.config = config
        #: This audit judges the clients of one share of the networks (see :mod:`.shards`).
        self.shard, self.shards = shard, shards
        self._owners: dict[str, int] = {}
        self._sources: dict[str, int] = {}  # the names fed, in order
        self.clock = LogClock()
        self.guard = Guard(audit_config(config), clock=self.clock)
        self.store = store
        self.reading = Reading()
        self._anonymize = anonymizer(config.store.ip_privacy, config.store.ip_hash_key)
        self._stored_ips: dict[str, str | None] = {}
        self._by_user_agent: dict[str, Decision | None] = {}
        self._events: list[Event] = []
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="noaiguard-audit")
        self._writing: Future[None] | None = None
        self._rollups: Counter[tuple[int, str, str, int]] = Counter()
        guard = self.guard
        self._own_paths = frozenset(guard.own_files) | (
            {"/robots.txt"} if guard.robots is not None else frozenset()
        )

    def feed(self, source: str, lines: Iterable[str], parse: Parser) -> None:
        """Judge and record every request in ``lines``; count the lines that are none.

        This is the loop that runs a million times per million lines, so what it uses is held
        in local names, and everything that is the same for many lines is cached.
        """
        guard = self.guard
        judge = guard.judge
        clock = self.clock
        trusted = guard.trusted_proxies
        by_user_agent = self._by_user_agent
        own_paths = self._own_paths
        rollups = self._rollups
        events = self._events
        allow = Action.ALLOW
        reading = self.reading
        shard, shards, owners = self.shard, self.shards, self._owners
        # With several shards, a combined or common line's client is its first field (unless
        # trusted proxies may name another): a line of another shard's client is not even parsed.
        early = shards > 1 and not trusted
        self._sources.setdefault(source, len(self._sources))
        number = requests = 0
        seen_hour = -1
        first, last = reading.first_hour, reading.last_hour
        for number, line in enumerate(lines, 1):
            mine = early and line[:1] != "{"
            if mine:
                key = line[: line.find(" ")]
                owner = owners.get(key)
                if owner is None:
                    owner = self._owner(key)
                if owner != shard:
                    continue
            request = parse(line)
            if isinstance(request, str):
                if mine or shard == 0:  # every bad line is counted by one shard
                    self._bad(source, number, request, line)
                continue
            ip, t, method, path, query, version, status, size, ua, _, host, forwarded = request
            if forwarded and trusted:
                ip = trusted.client_ip(ip, forwarded) or ip
            if shards > 1 and not mine:
                owner = owners.get(ip)
                if owner is None:
                    owner = self._owner(ip)
                if owner != shard:
                    continue
            requests += 1
            clock.now = t
            hour = int(t) // 3600 * 3600
            if hour != seen_hour:  # once an hour in a log in time order
                seen_hour = hour
                first = hour if first is None else min(first, hour)
                last = hour if last is None else max(last, hour)
            if path in own_paths and method in ("GET", "HEAD"):
                self._own_path(t, hour, ip, method, path, query, status, size, ua, host)
                continue
            try:
                decision = by_user_agent[ua]
            except KeyError:
                decision = self._decision_of(ua)
            if decision is None:
                decision = guard.inspect(RequestFacts(method, path, ua, ip, host, query))
            decision = judge(decision, ip, path, http_version=version, method=method)
            action = decision.action
            verdict = decision.verdict
            rollups[(hour, verdict.category, action, status // 100)] += 1
            if action is not allow:
                events.append(self._event(decision, t, ip, method, path, status, size, ua, host))
                if len(events) >= BATCH:
                    self._write()
        reading.lines += number
        reading.requests += requests
        reading.first_hour, reading.last_hour = first, last

    def _owner(self, ip: str) -> int:
        if len(self._owners) >= MAX_CACHED:
            self._owners.clear()
        owner = self._owners[ip] = owner_of(ip, self.shards)
        return owner

    def _decision_of(self, ua: str) -> Decision | None:
        """The guard's decision for ``ua`` when it depends on the User-Agent alone, else None."""
        if len(self._by_user_agent) >= MAX_CACHED:
            self._by_user_agent.clear()
        decision = self.guard.decide_by_user_agent(ua.encode("latin-1", "replace"))
        self._by_user_agent[ua] = decision
        return decision

    def _event(  # noqa: PLR0917 - one caller, the loop above, which has these in local names
        self,
        decision: Decision,
        t: float,
        ip: str,
        method: str,
        path: str,
        status: int,
        size: int,
        ua: str,
        host: str,
        kind: str = REQUEST,
    ) -> Event:
        verdict = decision.verdict
        try:
            stored = self._stored_ips[ip]
        except KeyError:
            if len(self._stored_ips) >= MAX_CACHED:
                self._stored_ips.clear()
            stored = self._stored_ips[ip] = self._anonymize(ip)
        return Event(
            time=t,
            method=method,
            path=path,
            status=status,
            category=str(verdict.category),
            action=str(decision.action),
            client_ip=stored,
            host=host,
            bytes_sent=size,
            user_agent=ua,
            agent=verdict.agent_name,
            enforced=decision.enforced,
            rule=decision.rule,
            reasons=verdict.reasons,
            kind=kind,
            bytes_withheld=size if decision.effective_action in _REFUSE else 0,
        )

    def _own_path(  # noqa: PLR0917 - see _event
        self,
        t: float,
        hour: int,
        ip: str,
        method: str,
        path: str,
        query: str,
        status: int,
        size: int,
        ua: str,
        host: str,
    ) -> None:
        """A file noaiguard answers itself: counted as allowed; robots.txt fetched by a known
        agent is also an event, the evidence that it read the rules."""
        verdict = self.guard.classify(RequestFacts(method, path, ua, ip, host, query))
        self._rollups[(hour, verdict.category, Action.ALLOW, status // 100)] += 1
        if path == "/robots.txt" and verdict.agent is not None:
            decision = Decision(Action.ALLOW, verdict, "")
            self._events.append(
                self._event(decision, t, ip, method, path, status, size, ua, host, ROBOTS_FETCH)
            )

    def _bad(self, source: str, number: int, reason: str, line: str) -> None:
        self.reading.bad[reason] += 1
        if self.reading.bad[reason] <= EXAMPLES:
            self.reading.examples.append(BadLine(source, number, reason, line.rstrip("\r\n")))

    def _write(self) -> None:
        """Hand the events so far to the writer thread, once it has written the batch before.

        SQLite lets go of the GIL while it inserts, so the next lines are judged meanwhile; one
        batch in flight bounds the memory held.
        """
        if not self._events:
            return
        batch = Batch.new(self._events)  # a copy: the list is the loop's, and is reused
        self._events.clear()
        if self._writing is not None:
            self._writing.result()  # raises what the store raised
        self._writing = self._writer.submit(self.store.write, batch)

    def flush(self) -> None:
        """Write every event judged so far, and wait until they are written."""
        self._write()
        if self._writing is not None:
            self._writing.result()
            self._writing = None

    def share(self) -> Share:
        """End the audit of a shard: its events written, what adds up over shards."""
        self.flush()
        self._writer.shutdown()
        self.guard.close()
        return Share(self.reading, dict(self._rollups))

    def add(self, share: Share) -> None:
        """Count what the audit of another shard found (it read the same lines)."""
        reading, theirs = self.reading, share.reading
        reading.requests += theirs.requests
        if theirs.first_hour is not None and theirs.last_hour is not None:
            first, last = reading.first_hour, reading.last_hour
            reading.first_hour = (
                theirs.first_hour if first is None else min(first, theirs.first_hour)
            )
            reading.last_hour = theirs.last_hour if last is None else max(last, theirs.last_hour)
        reading.bad.update(theirs.bad)
        order = self._sources
        examples = sorted(
            (*reading.examples, *theirs.examples),
            key=lambda e: (order.get(e.source, len(order)), e.number),
        )
        shown: Counter[str] = Counter()
        reading.examples = []
        for example in examples:
            shown[example.reason] += 1
            if shown[example.reason] <= EXAMPLES:
                reading.examples.append(example)
        self._rollups.update(share.rollups)

    def finish(self) -> Reading:
        """Write what is left (events, then every hour's counts) and say what was read."""
        self.flush()
        self._writer.shutdown()
        rollups = [
            Rollup(hour, str(category), str(action), status_class, count)
            for (hour, category, action, status_class), count in sorted(self._rollups.items())
        ]
        for start in range(0, len(rollups), BATCH):
            self.store.write(Batch.new(rollups=rollups[start : start + BATCH]))
        self._rollups.clear()
        self.guard.close()
        return self.reading
