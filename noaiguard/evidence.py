"""``noaiguard evidence``: one agent's timeline, as proof of what it was told and what it did.

When a crawler's operator says it never saw the opt-out, this is the answer: each time the agent
fetched robots.txt (and which version: the stored body and its SHA-256), what it requested
afterwards, what it was served (status, X-Robots-Tag) and what noaiguard did.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass

from .backends.base import EventStore
from .events import ROBOTS_FETCH, Event, RobotsVersion
from .periods import format_time, iso_time
from .reports.formatting import printable

FORMAT = "noaiguard-evidence/1"


@dataclass(frozen=True, slots=True)
class Timeline:
    agent: str
    since: float | None
    until: float | None
    events: tuple[Event, ...]
    #: The robots.txt versions the events refer to, by version.
    versions: dict[str, RobotsVersion]

    @property
    def robots_fetches(self) -> int:
        return sum(1 for e in self.events if e.kind == ROBOTS_FETCH)

    @property
    def actions(self) -> Counter[str]:
        return Counter(e.action for e in self.events if e.kind != ROBOTS_FETCH)


def timeline(
    store: EventStore, agent: str, since: float | None = None, until: float | None = None
) -> Timeline:
    events = tuple(store.query(since, until, agent=agent))
    wanted = {e.robots_version for e in events if e.robots_version}
    versions = {v.version: v for v in store.robots_versions() if v.version in wanted}
    name = next((e.agent for e in events if e.agent), agent)
    return Timeline(name, since, until, events, versions)


def render_text(t: Timeline) -> str:
    span = (
        f"{format_time(t.since, seconds=False) if t.since is not None else 'the beginning'} to "
        f"{format_time(t.until, seconds=False) if t.until is not None else 'now'} (UTC)"
    )
    if not t.events:
        return f"No events for {t.agent} from {span}.\n"
    actions = ", ".join(f"{n} {a}" for a, n in sorted(t.actions.items()))
    lines = [
        f"Evidence for {t.agent}, {span}: {t.robots_fetches} robots.txt fetch(es), "
        f"{sum(t.actions.values())} other request(s){f' ({actions})' if actions else ''}",
        "",
    ]
    for e in t.events:
        version = e.robots_version[:12] if e.robots_version else "none served yet"
        if e.kind == ROBOTS_FETCH:
            what = f"fetched robots.txt -> {e.status}, version {version}"
        else:
            what = f"{e.method} {e.path} -> {e.status} {e.action}"
            if not e.enforced:
                what += " (monitor mode: not enforced)"
            if e.rule:
                what += f" [{e.rule}]"
            what += f"; robots.txt in force: {version}"
        lines.append(f"{format_time(e.time)}  {what}")
        details = [f"X-Robots-Tag: {e.x_robots_tag}" if e.x_robots_tag else "no X-Robots-Tag"]
        if e.client_ip:
            details.append(f"from {e.client_ip}")
        lines.append(f"{'':21}{', '.join(details)}")
        lines.append(f"{'':21}User-Agent: {printable(e.user_agent)}")
    if t.versions:
        lines += ["", "robots.txt versions referenced (SHA-256 of the body as served):"]
        for v in sorted(t.versions.values(), key=lambda v: v.first_served):
            lines.append(
                f"{v.version}  first served {format_time(v.first_served)}, "
                f"last served {format_time(v.last_served)}"
            )
            lines += [f"    | {printable(line)}" for line in v.body.splitlines()]
    return "\n".join(lines) + "\n"


def render_json(t: Timeline) -> str:
    document = {
        "format": FORMAT,
        "agent": t.agent,
        "since": iso_time(t.since) if t.since is not None else None,
        "until": iso_time(t.until) if t.until is not None else None,
        "events": [{**asdict(e), "time": iso_time(e.time)} for e in t.events],
        "robots_versions": [
            {
                **asdict(v),
                "first_served": iso_time(v.first_served),
                "last_served": iso_time(v.last_served),
            }
            for v in t.versions.values()
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
