"""Each section of the report, built from a seeded store (in memory, SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from noaiguard import Config
from noaiguard.agents import AgentDB
from noaiguard.backends import EventStore
from noaiguard.events import Batch
from noaiguard.reports import Period, Report, build_report
from tests.store.services import event_store

from .seed import BEFORE, MON, ROBOTS, V_NOW, V_OLD, WEEK, at, seed

AGENTS = AgentDB.load()
NOW = MON + 8 * 86400 + 9 * 3600


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    with event_store(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
def report(store: EventStore) -> Report:
    seed(store)
    return build_report(store, WEEK, agents=AGENTS, config=Config(), site="mara.example", now=NOW)


def test_the_default_period_is_the_last_full_iso_week_in_utc() -> None:
    tuesday = datetime(2026, 11, 24, 9, tzinfo=UTC).timestamp()
    week = Period.last_full("week", tuesday)
    assert (week.since, week.until) == (MON, MON + 7 * 86400)
    assert (week.previous_since, week.previous_until) == (BEFORE, MON)
    assert week.label == "week 47 of 2026"
    assert [d.isoformat() for d in week.days][0::6] == ["2026-11-16", "2026-11-22"]
    monday_midnight = Period.last_full("week", MON + 7 * 86400)
    assert monday_midnight.since == MON  # the week that just ended is complete


def test_day_and_month_periods_and_explicit_spans() -> None:
    now = datetime(2026, 3, 1, 0, 30, tzinfo=UTC).timestamp()
    day = Period.last_full("day", now)
    assert day.label == "2026-02-28" and day.until - day.since == 86400
    month = Period.last_full("month", now)
    assert month.label == "February 2026"
    assert datetime.fromtimestamp(month.previous_since, UTC).date().isoformat() == "2026-01-01"
    assert len(month.days) == 28
    span = Period.between(MON, MON + 3 * 86400)
    assert (span.previous_since, span.previous_until) == (MON - 3 * 86400, MON)
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        Period.between(MON, MON)
    with pytest.raises(ValueError, match="unknown period"):
        Period.last_full("fortnight", now)


def test_headline_counts_every_request_and_compares_with_the_week_before(report: Report) -> None:
    h = report.headline
    assert h.source == "roll-ups"
    assert (h.requests.now, h.requests.before) == (727, 566)
    assert (h.refused.now, h.refused.before) == (25, 6)
    assert (h.logged.now, h.logged.before) == (2, 0)
    shares = {s.category: s for s in h.by_category}
    assert shares["browser"].requests == 704 and shares["browser"].refused == 4
    assert shares["browser"].share == pytest.approx(704 / 727)
    assert shares["ai-training"].previous == 6
    assert [s.category for s in h.by_category][:2] == ["browser", "ai-training"]


def test_agents_and_operators_with_bytes_withheld_and_change(report: Report) -> None:
    rows = {a.agent: a for a in report.agents}
    assert set(rows) == {"GPTBot", "ChatGPT-User", "ClaudeBot", "CCBot", "Bytespider"}
    gpt = rows["GPTBot"]
    assert (gpt.requests, gpt.refused, gpt.logged, gpt.previous_requests) == (8, 8, 0, 4)
    assert gpt.bytes_withheld == 6 * 50_000
    assert gpt.first_seen == at(0, 1, base=BEFORE)  # its robots.txt fetch the week before
    assert gpt.last_seen == at(2, 11) and not gpt.new
    assert rows["ChatGPT-User"].logged == 1 and rows["ChatGPT-User"].operator == "OpenAI"
    assert rows["Bytespider"].new and rows["Bytespider"].previous_requests == 0
    operators = {o.operator: o for o in report.operators}
    openai = operators["OpenAI"]
    assert openai.agents == ("ChatGPT-User", "GPTBot")
    assert (openai.requests, openai.refused, openai.previous_requests) == (9, 8, 4)
    assert report.agents[0].agent == "GPTBot"  # most requests first
    assert "Googlebot" not in rows  # the fake one is in the spoofed section


def test_timeline_has_every_day_split_by_category(report: Report) -> None:
    days = report.timeline
    assert [d.day for d in days] == [f"2026-11-{n}" for n in range(16, 23)]
    assert days[0].allowed == {"browser": 100} and days[0].refused == {}
    assert days[1].refused == {"ai-training": 8}
    assert days[3].refused == {"browser": 4}
    assert days[3].allowed == {"browser": 100, "ai-assistant": 1, "unknown-bot": 1}
    assert sum(sum(d.refused.values()) for d in days) == report.headline.refused.now


def test_paths_images_first_and_networks_as_stored(report: Report) -> None:
    assert report.image_paths[0].path == "/images/1.jpg"
    assert all(p.image for p in report.image_paths)
    assert {p.path for p in report.other_paths} == {"/", "/about", "/work/dawn"}
    assert not any(p.image for p in report.other_paths)
    networks = {n.network: n for n in report.networks}
    assert (networks["132.196.86.0/24"].requests, networks["132.196.86.0/24"].refused) == (14, 13)
    assert networks["185.220.101.0/24"].refused == 4
    assert report.ip_privacy == "truncate"


def test_full_addresses_are_folded_into_networks(store: EventStore) -> None:
    from .seed import _e

    store.write(Batch.new([_e(at(1), client_ip=f"198.51.100.{n}") for n in range(1, 4)]))
    config = replace(Config(), store=replace(Config().store, ip_privacy="full"))
    folded = build_report(store, WEEK, agents=AGENTS, config=config, now=NOW)
    assert [(n.network, n.requests) for n in folded.networks] == [("198.51.100.0/24", 3)]


def test_robots_compliance_fetched_violated_and_never_fetched(report: Report) -> None:
    robots = report.robots
    assert [(f.agent, f.fetches, f.versions) for f in robots.fetched] == [
        ("ClaudeBot", 1, (V_NOW,)),
        ("GPTBot", 1, (V_NOW,)),
    ]
    violations = {v.agent: v for v in robots.violations}
    assert (violations["GPTBot"].requests, violations["GPTBot"].paths) == (8, 5)
    # ClaudeBot may fetch /about (its group only disallows /images/), not /images/1.jpg.
    assert (violations["ClaudeBot"].requests, violations["ClaudeBot"].examples) == (
        1,
        ("/images/1.jpg",),
    )
    assert violations["GPTBot"].evidence == (
        "noaiguard evidence --agent GPTBot --since 2026-11-16T00:00 --until 2026-11-23T00:00"
    )
    never = {n.agent: n for n in robots.never_fetched}
    assert set(never) == {"CCBot", "Bytespider", "ChatGPT-User"}
    assert never["CCBot"].requests == 3 and never["CCBot"].claims_to_respect == "yes"


def test_spoofed_new_and_unknown_agents(report: Report) -> None:
    (spoofed,) = report.spoofed
    assert (spoofed.claimed, spoofed.requests, spoofed.networks) == ("Googlebot", 3, 1)
    assert spoofed.examples == ("45.155.205.0/24",)
    assert {a.agent for a in report.new_agents} == {"Bytespider", "ClaudeBot", "ChatGPT-User"}
    unknown = {u.user_agent: u for u in report.unknown_agents}
    assert unknown["Mozilla/5.0 Chrome/131"].refused == 4
    assert any(u.category == "unknown-bot" and u.logged == 1 for u in unknown.values())


def test_signals_in_force_with_robots_versions_and_headers(report: Report) -> None:
    versions = report.signals.robots_versions
    assert [(v.version, v.served_in_period) for v in versions] == [(V_OLD, False), (V_NOW, True)]
    assert versions[1].body == ROBOTS
    assert dict(report.signals.x_robots_tags)["noai, noimageai"] > 0
    configured = dict(report.signals.configured)
    assert configured["X-Robots-Tag header"] == "noai, noimageai"
    assert configured["mode"] == "enforce"


def test_an_empty_store_gives_a_report_that_says_so(store: EventStore) -> None:
    empty = build_report(store, WEEK, agents=AGENTS, now=NOW)
    assert empty.headline.requests.now == 0 and empty.agents == ()
    assert len(empty.timeline) == 7 and empty.signals.robots_versions == ()


def test_without_rollups_the_headline_counts_the_events(store: EventStore) -> None:
    from .seed import events

    store.append(events())
    report = build_report(store, WEEK, agents=AGENTS, now=NOW)
    assert report.headline.source == "events"
    assert report.headline.refused.now == 25
    assert sum(sum(d.refused.values()) for d in report.timeline) == 25


def test_monitor_mode_events_are_noted(store: EventStore) -> None:
    from .seed import _e

    store.append([_e(at(1), enforced=False, status=200)])
    report = build_report(store, WEEK, agents=AGENTS, now=NOW)
    assert report.notes and "monitor mode" in report.notes[0]
