"""The report as data: one query layer reads a store and builds a :class:`Report`; the renderers
(:mod:`.html`, :mod:`.text`, :mod:`.data`) only lay it out.

Every number comes from a grouped query in the store (SQL ``GROUP BY`` in SQLite and PostgreSQL),
never from walking the events in Python, so a report over a million events takes seconds. Two
sources, two kinds of numbers:

- the hourly roll-ups count **every** request, so the headline, the shares by category and the
  timeline cover the whole site;
- the events hold only what was not a plain allow (refused, logged, robots.txt fetched by a known
  agent), so the tables of agents, paths, networks and User-Agents are about those.
"""

from __future__ import annotations

import ipaddress
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..agents import AgentDB
from ..backends.base import (
    REFUSING_ACTIONS,
    EventStore,
    Group,
    Selection,
    group_order,
    is_image,
)
from ..categories import Category
from ..config import Config
from ..events import REQUEST, ROBOTS_FETCH, RobotsVersion, Rollup
from ..signals.headers import with_directives
from ..signals.robots import AppRobots, Rules, allows
from .period import DAY, Period

#: The version of the JSON document (see docs/report-format.md); bumped when a field changes
#: meaning or goes away, not when one is added.
FORMAT = "noaiguard-report/1"

TOP = 15
#: Categories whose traffic noaiguard exists to stop, for the "blocked" side of the story.
AI_CATEGORIES = frozenset(
    {Category.AI_TRAINING, Category.AI_DATASET_TOOL, Category.AI_SEARCH, Category.AI_ASSISTANT}
)


@dataclass(frozen=True, slots=True)
class Change:
    """A number this period and the same number the period before."""

    now: int
    before: int

    @property
    def ratio(self) -> float | None:
        """now / before - 1 (+0.25 is 25% more); None when there was nothing before."""
        return self.now / self.before - 1 if self.before else None


@dataclass(frozen=True, slots=True)
class CategoryShare:
    category: str
    requests: int
    refused: int
    #: Of all requests in the period, 0 to 1.
    share: float
    previous: int


@dataclass(frozen=True, slots=True)
class Headline:
    requests: Change
    refused: Change
    logged: Change
    by_category: tuple[CategoryShare, ...]
    #: Whether the numbers come from the hourly roll-ups (every request) or, when the store has
    #: none for the period (an imported log, a store from before roll-ups), from the events.
    source: str


@dataclass(frozen=True, slots=True)
class AgentRow:
    agent: str
    operator: str
    category: str
    requests: int
    refused: int
    logged: int
    #: Bytes refused requests would have received (sizes known from other clients; a floor).
    bytes_withheld: int
    first_seen: float
    last_seen: float
    previous_requests: int
    #: True when the agent was never seen before this period.
    new: bool


@dataclass(frozen=True, slots=True)
class OperatorRow:
    operator: str
    agents: tuple[str, ...]
    requests: int
    refused: int
    bytes_withheld: int
    first_seen: float
    last_seen: float
    previous_requests: int


@dataclass(frozen=True, slots=True)
class Day:
    day: str
    #: Requests per category, split into allowed (allow, log) and refused (block, tarpit).
    allowed: dict[str, int]
    refused: dict[str, int]


@dataclass(frozen=True, slots=True)
class PathRow:
    path: str
    requests: int
    refused: int
    image: bool


@dataclass(frozen=True, slots=True)
class NetworkRow:
    #: A network (198.51.100.0/24), or a hashed address under ip_privacy: hash.
    network: str
    requests: int
    refused: int
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class RobotsFetch:
    agent: str
    fetches: int
    first: float
    last: float
    #: The robots.txt versions (SHA-256) it fetched.
    versions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RobotsViolation:
    agent: str
    #: Requests for paths that the robots.txt it had fetched disallows for it.
    requests: int
    paths: int
    examples: tuple[str, ...]
    first: float
    last: float
    #: The command that prints the whole timeline, as evidence.
    evidence: str


@dataclass(frozen=True, slots=True)
class NeverFetched:
    agent: str
    category: str
    requests: int
    #: What the agent database says: yes, no or unknown.
    claims_to_respect: str


@dataclass(frozen=True, slots=True)
class RobotsCompliance:
    fetched: tuple[RobotsFetch, ...]
    violations: tuple[RobotsViolation, ...]
    never_fetched: tuple[NeverFetched, ...]


@dataclass(frozen=True, slots=True)
class SpoofedRow:
    #: The crawler the User-Agent claimed to be.
    claimed: str
    requests: int
    refused: int
    networks: int
    examples: tuple[str, ...]
    first: float
    last: float


@dataclass(frozen=True, slots=True)
class UnknownAgent:
    user_agent: str
    category: str
    requests: int
    refused: int
    logged: int
    first: float
    last: float


@dataclass(frozen=True, slots=True)
class ServedVersion:
    version: str
    first_served: float
    last_served: float
    body: str
    #: False for the version last served before the period began (still in force then).
    served_in_period: bool


@dataclass(frozen=True, slots=True)
class Signals:
    robots_versions: tuple[ServedVersion, ...]
    #: X-Robots-Tag values on recorded responses, with how many carried each.
    x_robots_tags: tuple[tuple[str, int], ...]
    #: What the configuration says is sent (empty when the report was made without one).
    configured: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Report:
    format: str
    site: str
    generated: float
    period: Period
    headline: Headline
    agents: tuple[AgentRow, ...]
    operators: tuple[OperatorRow, ...]
    timeline: tuple[Day, ...]
    image_paths: tuple[PathRow, ...]
    other_paths: tuple[PathRow, ...]
    networks: tuple[NetworkRow, ...]
    #: How addresses are stored (store.ip_privacy), which decides what "network" means here.
    ip_privacy: str
    robots: RobotsCompliance
    spoofed: tuple[SpoofedRow, ...]
    new_agents: tuple[AgentRow, ...]
    unknown_agents: tuple[UnknownAgent, ...]
    signals: Signals
    notes: tuple[str, ...] = field(default=())

    @property
    def categories(self) -> list[str]:
        """The categories the timeline shows, most requests first."""
        return [share.category for share in self.headline.by_category]


def build_report(
    store: EventStore,
    period: Period,
    *,
    agents: AgentDB,
    config: Config | None = None,
    site: str = "",
    now: float,
) -> Report:
    """Everything the report says about ``period``, read from ``store``.

    The queries that do not depend on each other run side by side (each store serves them on
    connections of their own): on a big store each one scans the period, and a machine with
    several cores answers them in the time of the longest few.
    """
    since, until = period.since, period.until
    previous_period = Selection(period.previous_since, period.previous_until)
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="noaiguard-report") as pool:
        # The longest first. One pass gives the agents and the headers served.
        by_kind_ = pool.submit(
            store.group,
            Selection(since, until, kind=None),
            ("kind", "agent", "category", "x_robots_tag"),
        )
        violations_ = pool.submit(_violations, store, period, agents)
        networks_ = pool.submit(
            store.group, Selection(since, until), ("client_ip",), counts_only=True
        )
        image_paths_ = pool.submit(_top_paths, store, period, images=True)
        other_paths_ = pool.submit(_top_paths, store, period, images=False)
        spoofed_ = pool.submit(_spoofed, store, period)
        unknown_ = pool.submit(_unknown_agents, store, period)
        previous_ = pool.submit(
            store.group, previous_period, ("agent", "category"), counts_only=True
        )
        rollups_ = pool.submit(store.rollups, since, until)
        previous_rollups_ = pool.submit(store.rollups, period.previous_since, period.previous_until)
        by_kind = by_kind_.result()
        current = _fold((g for g in by_kind if g.key[0] == REQUEST), lambda k: k[1:3])
        first_seen = store.first_seen(sorted({str(g.key[0]) for g in current if g.key[0]}))
        agent_rows = _agents(current, previous_.result(), first_seen, agents, since)
        robots = _robots(store, period, agents, agent_rows, violations_.result())
        rollups = rollups_.result()
        timeline = _timeline(period, rollups, None if rollups else store)
        headline = _headline(rollups, previous_rollups_.result(), current, previous_.result())
        sections = (
            image_paths_.result(),
            other_paths_.result(),
            networks_.result(),
            spoofed_.result(),
            unknown_.result(),
        )
    notes = []
    unenforced = sum(g.unenforced for g in current)
    if unenforced:
        notes.append(
            f"{unenforced:,} refusals and logs were recorded in monitor mode: the policy would "
            "have refused those requests, but they were served."
        )
    privacy = config.store.ip_privacy if config is not None else "truncate"
    image_paths, other_paths, networks, spoofed, unknown = sections
    return Report(
        format=FORMAT,
        site=site,
        generated=now,
        period=period,
        headline=headline,
        agents=tuple(r for r in agent_rows if r.category != Category.SPOOFED_BOT),
        operators=_operators(agent_rows),
        timeline=timeline,
        image_paths=image_paths,
        other_paths=other_paths,
        networks=_networks(networks, privacy),
        ip_privacy=privacy,
        robots=robots,
        spoofed=spoofed,
        new_agents=tuple(r for r in agent_rows if r.new and r.category != Category.SPOOFED_BOT),
        unknown_agents=unknown,
        signals=_signals(store, period, config, _fold(by_kind, lambda k: k[3:])),
        notes=tuple(notes),
    )


# -- sections -------------------------------------------------------------------------------------


def _headline(
    rollups: Sequence[Rollup],
    previous_rollups: Sequence[Rollup],
    current: Sequence[Group],
    previous: Sequence[Group],
) -> Headline:
    if rollups or not current:
        now, source = _rollup_counts(rollups), "roll-ups"
        before = _rollup_counts(previous_rollups) if previous_rollups else _event_counts(previous)
    else:
        now, source = _event_counts(current), "events"
        before = _event_counts(previous)
    total = sum(n[0] for n in now.values())
    shares = sorted(
        (
            CategoryShare(
                category,
                counts[0],
                counts[1],
                counts[0] / total if total else 0.0,
                before.get(category, (0, 0, 0))[0],
            )
            for category, counts in now.items()
        ),
        key=lambda s: (-s.requests, s.category),
    )

    def change(index: int) -> Change:
        return Change(sum(n[index] for n in now.values()), sum(n[index] for n in before.values()))

    return Headline(change(0), change(1), change(2), tuple(shares), source)


def _rollup_counts(rollups: Iterable[Rollup]) -> dict[str, tuple[int, int, int]]:
    """(requests, refused, logged) per category."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rollups:
        c = counts[r.category]
        c[0] += r.count
        c[1] += r.count if r.action in REFUSING_ACTIONS else 0
        c[2] += r.count if r.action == "log" else 0
    return {category: (c[0], c[1], c[2]) for category, c in counts.items()}


def _event_counts(groups: Iterable[Group]) -> dict[str, tuple[int, int, int]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for g in groups:
        c = counts[str(g.key[1])]
        c[0] += g.events
        c[1] += g.refused
        c[2] += g.logged
    return {category: (c[0], c[1], c[2]) for category, c in counts.items()}


def _agents(
    current: Sequence[Group],
    previous: Sequence[Group],
    first_seen: dict[str, float],
    agents: AgentDB,
    since: float,
) -> list[AgentRow]:
    before: dict[tuple[str | None, ...], int] = {g.key: g.events for g in previous}
    rows = []
    for g in current:
        name, category = g.key
        if name is None:
            continue
        known = agents.get(name)
        first = first_seen.get(name, g.first)
        rows.append(
            AgentRow(
                agent=name,
                operator=known.operator if known is not None and known.operator else name,
                category=str(category),
                requests=g.events,
                refused=g.refused,
                logged=g.logged,
                bytes_withheld=g.bytes_withheld,
                first_seen=first,
                last_seen=g.last,
                previous_requests=before.get(g.key, 0),
                new=first >= since,
            )
        )
    return rows


def _operators(rows: Sequence[AgentRow]) -> tuple[OperatorRow, ...]:
    by_operator: dict[str, list[AgentRow]] = defaultdict(list)
    for row in rows:
        if row.category != Category.SPOOFED_BOT:
            by_operator[row.operator].append(row)
    operators = [
        OperatorRow(
            operator=operator,
            agents=tuple(sorted({r.agent for r in members})),
            requests=sum(r.requests for r in members),
            refused=sum(r.refused for r in members),
            bytes_withheld=sum(r.bytes_withheld for r in members),
            first_seen=min(r.first_seen for r in members),
            last_seen=max(r.last_seen for r in members),
            previous_requests=sum(r.previous_requests for r in members),
        )
        for operator, members in by_operator.items()
    ]
    operators.sort(key=lambda o: (-o.requests, o.operator))
    return tuple(operators)


def _timeline(
    period: Period, rollups: Sequence[Rollup], events: EventStore | None
) -> tuple[Day, ...]:
    """Requests per day and category; from the recorded ``events`` when there are no roll-ups."""
    allowed: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    refused: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if events is not None:
        for day in period.days:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
            selection = Selection(max(start, period.since), min(start + DAY, period.until))
            for g in events.group(selection, ("category",)):
                category = str(g.key[0])
                refused[day.isoformat()][category] += g.refused
                allowed[day.isoformat()][category] += g.events - g.refused
    for r in rollups:
        side = refused if r.action in REFUSING_ACTIONS else allowed
        side[datetime.fromtimestamp(r.hour, UTC).date().isoformat()][r.category] += r.count
    return tuple(
        Day(d.isoformat(), dict(allowed[d.isoformat()]), dict(refused[d.isoformat()]))
        for d in period.days
    )


def _fold(
    groups: Iterable[Group], key: Callable[[tuple[str | None, ...]], tuple[str | None, ...]]
) -> list[Group]:
    """``groups`` added up by a shorter ``key`` of their keys, most events first."""
    folded: dict[tuple[str | None, ...], list[float]] = {}
    for g in groups:
        k = key(g.key)
        counts = (g.events, g.refused, g.logged, g.unenforced, g.bytes_sent, g.bytes_withheld)
        f = folded.get(k)
        if f is None:
            folded[k] = [*counts, g.first, g.last]
            continue
        for i, n in enumerate(counts):
            f[i] += n
        f[6], f[7] = min(f[6], g.first), max(f[7], g.last)
    out = [Group.of(k, f[:6], f[6:]) for k, f in folded.items()]
    out.sort(key=group_order)
    return out


def _top_paths(store: EventStore, period: Period, *, images: bool) -> tuple[PathRow, ...]:
    selection = Selection(period.since, period.until, images=images)
    return tuple(
        PathRow(str(g.key[0]), g.events, g.refused, is_image(str(g.key[0])))
        for g in store.group(selection, ("path",), limit=TOP, counts_only=True)
    )


def _networks(groups: Iterable[Group], privacy: str) -> tuple[NetworkRow, ...]:
    """The networks refused and logged requests came from: stored values as they are, except
    full addresses, which are folded into their /24 or /48 here."""
    folded: dict[str, list[float]] = {}
    for g in groups:
        address = g.key[0]
        if address is None:
            continue
        network = _network_of(address) if privacy == "full" else address
        n = folded.setdefault(network, [0, 0, g.first, g.last])
        n[0] += g.events
        n[1] += g.refused
        n[2] = min(n[2], g.first)
        n[3] = max(n[3], g.last)
    rows = [NetworkRow(k, int(v[0]), int(v[1]), v[2], v[3]) for k, v in folded.items()]
    rows.sort(key=lambda r: (-r.requests, r.network))
    return tuple(rows[:TOP])


def _network_of(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # already a network, or a hash
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _robots(
    store: EventStore,
    period: Period,
    agents: AgentDB,
    agent_rows: Sequence[AgentRow],
    violations: tuple[RobotsViolation, ...],
) -> RobotsCompliance:
    since, until = period.since, period.until
    fetches = store.group(Selection(since, until, kind=ROBOTS_FETCH), ("agent", "robots_version"))
    fetched: dict[str, list[Group]] = defaultdict(list)
    for g in fetches:
        if g.key[0] is not None:
            fetched[g.key[0]].append(g)
    fetched_rows = sorted(
        (
            RobotsFetch(
                agent,
                sum(g.events for g in groups),
                min(g.first for g in groups),
                max(g.last for g in groups),
                tuple(sorted({str(g.key[1]) for g in groups if g.key[1]})),
            )
            for agent, groups in fetched.items()
        ),
        key=lambda f: (-f.fetches, f.agent),
    )
    ever_fetched = {
        g.key[0] for g in store.group(Selection(until=until, kind=ROBOTS_FETCH), ("agent",))
    }
    never: dict[str, NeverFetched] = {}
    for row in agent_rows:
        if row.agent in ever_fetched or row.category == Category.SPOOFED_BOT:
            continue
        known = agents.get(row.agent)
        seen = never.get(row.agent)
        never[row.agent] = NeverFetched(
            row.agent,
            row.category,
            row.requests + (seen.requests if seen is not None else 0),
            str(known.respects_robots) if known is not None else "unknown",
        )
    return RobotsCompliance(
        tuple(fetched_rows),
        violations,
        tuple(sorted(never.values(), key=lambda n: (-n.requests, n.agent))),
    )


def _violations(store: EventStore, period: Period, agents: AgentDB) -> tuple[RobotsViolation, ...]:
    violations = [
        RobotsViolation(name, *found, evidence=_evidence_command(name, period))
        for name, found in _disallowed_requests(store, period, agents).items()
    ]
    violations.sort(key=lambda v: (-v.requests, v.agent))
    return tuple(violations)


def _disallowed_requests(
    store: EventStore, period: Period, agents: AgentDB
) -> dict[str, tuple[int, int, tuple[str, ...], float, float]]:
    """Per agent: (requests, distinct paths, the most requested of them, first, last) of its
    requests for paths that the robots.txt it had fetched disallows for it.

    First per (agent, version) only: an agent its version disallows everywhere broke it with
    every request, and one it allows everywhere with none; only the agents in between need
    their paths checked one by one. On a big store that is most of the cost saved.
    """
    since, until = period.since, period.until
    parsed = {v.version: AppRobots.parse(v.body) for v in store.robots_versions()}
    rules_of: dict[tuple[str, str], Rules] = {}
    broken: dict[str, list[Group]] = defaultdict(list)
    for g in store.robots_followups(since, until, by_path=False):
        name, version = str(g.key[0]), str(g.key[1])
        body = parsed.get(version)
        if body is None:
            continue  # no robots.txt had been served yet, or its body is gone
        known = agents.get(name)
        rules = body.rules_for(known.robots[0] if known is not None and known.robots else name)
        if not any(kind.lower() == "disallow" and value for kind, value in rules):
            continue
        if allows(rules, "/") or any(kind.lower() == "allow" and value for kind, value in rules):
            rules_of[name, version] = rules
        else:
            broken[name].append(g)  # disallowed everywhere: every request counts
    found: dict[str, tuple[int, int, tuple[str, ...], float, float]] = {}
    for name, groups in broken.items():
        paths = store.group(Selection(since, until, agent=name), ("path",), counts_only=True)
        found[name] = (
            sum(g.events for g in groups),
            len(paths),
            tuple(str(p.key[0]) for p in paths[:3]),
            min(g.first for g in groups),
            max(g.last for g in groups),
        )
    partly = sorted({name for name, _ in rules_of})
    # Only a path under some Disallow value can be disallowed: let the store skip the rest
    # (unless a value has wildcards, which a prefix cannot stand for).
    values = {v for rules in rules_of.values() for k, v in rules if k.lower() == "disallow" and v}
    prefixes = None if any("*" in v or "$" in v for v in values) else sorted(values)
    by_path: dict[str, list[Group]] = defaultdict(list)
    followups = (
        store.robots_followups(since, until, agents=partly, path_prefixes=prefixes)
        if partly
        else ()
    )
    for g in followups:
        name, version, path = (str(k) for k in g.key)
        checked = rules_of.get((name, version))
        if checked is not None and not allows(checked, path):
            by_path[name].append(g)
    for name, hits in by_path.items():
        hits.sort(key=group_order)
        n_requests, n_paths, examples, first, last = found.get(name, (0, 0, (), math.inf, 0.0))
        found[name] = (
            n_requests + sum(g.events for g in hits),
            n_paths + len({g.key[2] for g in hits}),
            (*examples, *(str(g.key[2]) for g in hits))[:3],
            min(first, *(g.first for g in hits)),
            max(last, *(g.last for g in hits)),
        )
    return found


def _evidence_command(agent: str, period: Period) -> str:
    since = datetime.fromtimestamp(period.since, UTC).strftime("%Y-%m-%dT%H:%M")
    until = datetime.fromtimestamp(period.until, UTC).strftime("%Y-%m-%dT%H:%M")
    quoted = agent if agent.replace("-", "").replace("_", "").isalnum() else f"'{agent}'"
    return f"noaiguard evidence --agent {quoted} --since {since} --until {until}"


def _spoofed(store: EventStore, period: Period) -> tuple[SpoofedRow, ...]:
    selection = Selection(period.since, period.until, category=Category.SPOOFED_BOT)
    by_claim: dict[str, list[Group]] = defaultdict(list)
    for g in store.group(selection, ("agent", "client_ip")):
        by_claim[str(g.key[0])].append(g)
    rows = [
        SpoofedRow(
            claimed=claimed,
            requests=sum(g.events for g in groups),
            refused=sum(g.refused for g in groups),
            networks=len(groups),
            examples=tuple(
                str(g.key[1]) if g.key[1] is not None else "unknown" for g in groups[:3]
            ),
            first=min(g.first for g in groups),
            last=max(g.last for g in groups),
        )
        for claimed, groups in by_claim.items()
    ]
    rows.sort(key=lambda r: (-r.requests, r.claimed))
    return tuple(rows)


def _unknown_agents(store: EventStore, period: Period) -> tuple[UnknownAgent, ...]:
    """User-Agents of no known agent that were refused or logged (browsers that behaved like
    scrapers, self-declared bots not in the database, requests with no User-Agent at all)."""
    selection = Selection(period.since, period.until, known_agent=False)
    return tuple(
        UnknownAgent(str(g.key[0]), str(g.key[1]), g.events, g.refused, g.logged, g.first, g.last)
        for g in store.group(selection, ("user_agent", "category"), limit=TOP)
    )


def _signals(
    store: EventStore, period: Period, config: Config | None, tags: Sequence[Group]
) -> Signals:
    versions = store.robots_versions()
    served = [
        ServedVersion(v.version, v.first_served, v.last_served, v.body, True)
        for v in versions
        if v.first_served < period.until and v.last_served >= period.since
    ]
    earlier: list[RobotsVersion] = [v for v in versions if v.last_served < period.since]
    if earlier:
        last = max(earlier, key=lambda v: v.last_served)
        served.insert(
            0, ServedVersion(last.version, last.first_served, last.last_served, last.body, False)
        )
    configured: list[tuple[str, str]] = []
    if config is not None:
        configured = configured_signals(config)
    return Signals(
        tuple(served),
        tuple((str(g.key[0]), g.events) for g in tags if g.key[0]),
        tuple(configured),
    )


def configured_signals(config: Config) -> list[tuple[str, str]]:
    """The opt-out signals a configuration sends, in words, for the report's signals section."""
    signals = config.signals
    extra = signals.extras.directives()
    configured: list[tuple[str, str]] = []
    if signals.x_robots_tag.enabled:
        directives = with_directives(tuple(signals.x_robots_tag.directives), extra)
        configured.append(("X-Robots-Tag header", ", ".join(directives)))
        if signals.extras.agent_lines:
            tokens = ", ".join(signals.extras.agent_lines)
            configured.append(("X-Robots-Tag lines per crawler", tokens))
    if signals.html_meta.enabled:
        directives = signals.html_meta.directives or signals.x_robots_tag.directives
        meta = ", ".join(with_directives(tuple(directives), extra))
        configured.append(("robots meta tag in HTML", meta))
    if signals.robots_txt.enabled:
        configured.append(("robots.txt", "groups disallowing AI crawlers, merged with the site's"))
    usage = [
        name
        for name, on in (
            ("Content-Usage", signals.content_usage.enabled),
            ("Content-Signal", signals.content_signal.enabled),
        )
        if on
    ]
    if usage:
        configured.append(("AI preferences in robots.txt", ", ".join(usage)))
    if signals.content_usage.enabled and signals.content_usage.header:
        configured.append(("Content-Usage header", "as robots.txt says for each path"))
    if signals.tdmrep.enabled:
        forms = ["/.well-known/tdmrep.json"]
        forms += ["tdm-reservation header"] if signals.tdmrep.header else []
        forms += ["HTML meta"] if signals.tdmrep.html_meta else []
        configured.append(("TDMRep", ", ".join(forms)))
    if signals.ai_txt.enabled:
        configured.append(("ai.txt", "every file type disallowed"))
    if signals.extras.nopin:
        configured.append(("Pinterest", "nopin meta tag"))
    configured.append(("mode", str(config.mode)))
    return configured
