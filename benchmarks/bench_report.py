"""How long ``noaiguard report`` takes on a large store, and how that grows with the events.

The store is filled in steps (by default 250,000, 500,000 and 1,000,000 events in the reported
week, plus a tenth as many in the week before, with the hourly roll-ups a live site would have
written) and after each step the whole report is built and rendered as HTML, as
``noaiguard report`` does. The events look like a site under steady crawling: 40 agents, 20,000
paths (most of them images), 30,000 client networks, 3,000 unknown User-Agents, robots.txt
fetched now and then, a few spoofed claims.

Goal: under 5 s for 1,000,000 events in SQLite and in PostgreSQL, and growing no faster than
the events (seconds per million events no higher at 1M than at 250k).

    python benchmarks/bench_report.py [--steps 250000,500000,1000000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_store import POSTGRES, postgres_schema

from noaiguard.agents import AgentDB
from noaiguard.backends import EventStore, open_event_store
from noaiguard.events import ROBOTS_FETCH, Batch, Event, RobotsVersion, Rollup
from noaiguard.reports import Period, build_report, render

NOW = 1_795_510_800.0  # Tuesday 2026-11-24 09:00 UTC
WEEK = Period.last_full("week", NOW)
BATCH = 20_000
ROBOTS = "User-agent: GPTBot\nUser-agent: CCBot\nUser-agent: Bytespider\nDisallow: /\n\nUser-agent: *\nDisallow: /drafts/\n"  # noqa: E501
VERSION = RobotsVersion.version_of(ROBOTS.encode())


class Traffic:
    """Events drawn from a seeded generator, so that every run fills the same store."""

    def __init__(self) -> None:
        self.rng = random.Random(7)
        agents = [a for a in AgentDB.load() if a.category.startswith("ai-")][:40]
        self.agents = [(a.name, str(a.category)) for a in agents]
        self.paths = [f"/images/{n}.jpg" for n in range(16_000)] + [
            f"/work/{n}" for n in range(4000)
        ]
        self.networks = [f"{n % 223 + 1}.{n // 223 % 256}.{n % 97}.0/24" for n in range(30_000)]
        self.unknown = [f"Mozilla/5.0 (compatible; Harvester{n}/1.0)" for n in range(3000)]

    def events(self, count: int, since: float, until: float) -> Sequence[Event]:
        rng, out = self.rng, []
        for _ in range(count):
            t = rng.uniform(since, until)
            roll = rng.random()
            if roll < 0.01:
                name, category = rng.choice(self.agents)
                out.append(self._event(t, name, category, "/robots.txt", ROBOTS_FETCH, "allow"))
            elif roll < 0.15:
                ua = rng.choice(self.unknown)
                out.append(self._event(t, None, "unknown-bot", rng.choice(self.paths), ua=ua))
            elif roll < 0.16:
                out.append(self._event(t, "Googlebot", "spoofed-bot", rng.choice(self.paths)))
            else:
                name, category = rng.choice(self.agents)
                out.append(self._event(t, name, category, rng.choice(self.paths)))
        return out

    def _event(  # noqa: PLR0917 - a private helper with one caller
        self,
        t: float,
        agent: str | None,
        category: str,
        path: str,
        kind: str = "request",
        action: str = "block",
        ua: str = "",
    ) -> Event:
        return Event(
            time=t,
            method="GET",
            path=path,
            status=403 if action == "block" else 200,
            category=category,
            action=action,
            client_ip=self.rng.choice(self.networks),
            host="example.org",
            user_agent=ua or f"{agent}/1.0",
            agent=agent,
            x_robots_tag="noai, noimageai",
            kind=kind,
            robots_version=VERSION,
            bytes_withheld=self.rng.choice((0, 48_000, 210_000)),
        )


def fill(store: EventStore, traffic: Traffic, count: int, since: float, until: float) -> None:
    """``count`` events spread over ``[since, until)``, written in time order as a live site
    writes them (each batch covers the next slice of time)."""
    batches = max(1, -(-count // BATCH))
    step = (until - since) / batches
    for n in range(batches):
        size = min(BATCH, count - n * BATCH)
        events = traffic.events(size, since + n * step, since + (n + 1) * step)
        store.write(Batch.new(sorted(events, key=lambda e: e.time)))


def rollups(since: float, until: float) -> list[Rollup]:
    hours = range(int(since), int(until), 3600)
    return [Rollup(h, "browser", "allow", 2, 900) for h in hours] + [
        Rollup(h, "ai-training", "block", 4, 300) for h in hours
    ]


def measure(store: EventStore) -> tuple[float, float]:
    """(seconds to build the report, seconds to render it as HTML)."""
    start = time.perf_counter()
    report = build_report(store, WEEK, agents=AgentDB.load(), now=NOW)
    built = time.perf_counter()
    html = render(report, "html")
    done = time.perf_counter()
    assert report.headline.requests.now > 0
    assert len(html) > 10_000
    return built - start, done - built


def run(name: str, url: str, steps: Sequence[int]) -> list[tuple[str, int, float, float]]:
    store = open_event_store(url)
    traffic = Traffic()
    store.write(
        Batch.new(
            robots=[RobotsVersion(VERSION, ROBOTS, WEEK.previous_since, NOW)],
            rollups=rollups(WEEK.previous_since, WEEK.until),
        )
    )
    rows, filled = [], 0
    for step in steps:
        # Each step adds a site with more traffic on top: the same week, more events in it.
        fill(store, traffic, (step - filled) // 10, WEEK.previous_since, WEEK.since)
        fill(store, traffic, step - filled, WEEK.since, WEEK.until)
        filled = step
        build, html = measure(store)
        rows.append((name, step, build, html))
        print(
            f"  {name:<10} {step:>9,} events: build {build:5.2f} s, render {html:5.2f} s",
            flush=True,
        )
    store.close()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="250000,500000,1000000", help="events after each step")
    parser.add_argument("--postgres", default=POSTGRES, help=f"PostgreSQL URL ({POSTGRES})")
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += run("sqlite", f"sqlite:///{Path(tmp) / 'report.db'}", steps)
    with postgres_schema(args.postgres) as url:
        if url is not None:
            rows += run("postgresql", url, steps)

    print("\nstore        events in week   build s  render s  total s  s per 1M events")
    verdicts = []
    for name in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == name]
        for _, events, build, html in mine:
            total = build + html
            per_million = total / events * 1e6
            print(
                f"{name:<12} {events:>14,}  {build:8.2f}  {html:8.2f}  {total:7.2f}  "
                f"{per_million:15.2f}"
            )
        _, largest, build, html = mine[-1]
        _, smallest, small_build, small_html = mine[0]
        per_event_growth = ((build + html) / largest) / ((small_build + small_html) / smallest)
        fast = build + html < 5.0
        linear = per_event_growth <= 1.1
        verdicts.append(fast and linear)
        print(
            f"{name}: {largest:,} events in {build + html:.2f} s (goal < 5 s) "
            f"{'PASS' if fast else 'MISS'}; time per event at {largest:,} / at {smallest:,} = "
            f"{per_event_growth:.2f} (goal <= 1.1: no worse than linear) "
            f"{'PASS' if linear else 'MISS'}"
        )
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
