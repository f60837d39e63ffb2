"""The audit makes the report the live middleware makes: a week of the demo's traffic is played
through NoAIGuardMiddleware (as ``noaiguard demo --simulate`` does) and, written as an access
log, through ``noaiguard audit``; the two reports tell the same story.

What a log cannot hold is left out of the comparison: the robots.txt bodies served (and so the
violations read from them, and the signals), the headers each response carried, and the sizes
the live guard remembered from other clients. robots.txt violations are off in both guards, as
they change decisions only where the robots.txt body is known.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

from noaiguard import parse_config
from noaiguard.agents import AgentDB
from noaiguard.audit.engine import Audit
from noaiguard.audit.logformats import parser
from noaiguard.audit.reader import LogFile
from noaiguard.audit.report import audit_period, audit_report
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.demo import create_app
from noaiguard.demo.traffic import SimulatedClock, Visit, plan, play
from noaiguard.guard import Guard
from noaiguard.middleware import NoAIGuardMiddleware
from noaiguard.reports import Report, build_report

from .logs import line, write

END = 1_792_540_800.0  # 2026-10-21 00:00 UTC


def compared(report: Report) -> dict[str, Any]:
    h = report.headline
    return {
        "headline": (h.requests.now, h.refused.now, h.logged.now, h.source),
        "by_category": [(s.category, s.requests, s.refused) for s in h.by_category],
        "agents": [(a.agent, a.category, a.requests, a.refused, a.logged) for a in report.agents],
        "operators": [(o.operator, o.agents, o.requests, o.refused) for o in report.operators],
        "timeline": [(d.day, d.allowed, d.refused) for d in report.timeline],
        "paths": [(p.path, p.requests, p.refused) for p in report.image_paths + report.other_paths],
        "networks": [(n.network, n.requests, n.refused) for n in report.networks],
        "spoofed": [(s.claimed, s.requests, s.refused, s.networks) for s in report.spoofed],
        "new": [a.agent for a in report.new_agents],
        "unknown": [
            (u.user_agent, u.category, u.requests, u.refused) for u in report.unknown_agents
        ],
        "fetched": [(f.agent, f.fetches) for f in report.robots.fetched],
        "never_fetched": [(n.agent, n.requests) for n in report.robots.never_fetched],
    }


def live(config_text: str, visits: list[Visit]) -> MemoryEventStore:
    """The store the middleware fills, as ``noaiguard demo --simulate`` fills it."""
    config = parse_config(config_text)
    config = dataclasses.replace(
        config,
        policy=dataclasses.replace(
            config.policy, tarpit=dataclasses.replace(config.policy.tarpit, seconds=0.001)
        ),
    )
    store = MemoryEventStore()
    clock = SimulatedClock(visits[0].time)
    guard = Guard(config, store=store, clock=clock)
    asyncio.run(play(NoAIGuardMiddleware(create_app(), guard=guard), clock, visits, "demo"))
    guard.close()
    return store


def test_a_week_of_the_demos_traffic_live_and_audited(tmp_path: Path) -> None:
    config_text = (
        f"agents:\n  ip_ranges_dir: {tmp_path}\n  verify_rdns: false\n"
        "behaviour:\n  robots_violation:\n    enabled: false\n"
        "  header_anomalies:\n    enabled: false\n"
    )
    visits = plan(7, END)
    log = write(
        tmp_path / "access.log", [line(v.client_ip, v.time, v.path, v.user_agent) for v in visits]
    )

    store = MemoryEventStore()
    audit = Audit(parse_config(config_text), store)
    source = LogFile.open(str(log))
    audit.feed(source.name, source.lines(), parser("combined"))
    source.close()
    reading = audit.finish()
    assert reading.requests == len(visits)
    audited = audit_report(
        store, reading, [str(log)], [], audit.config, audit.guard.agents, site="", now=END
    )

    period = audit_period(reading)
    agents = AgentDB.load()
    played = build_report(live(config_text, visits), period, agents=agents, now=END)

    expected, found = compared(played), compared(audited)
    assert found == expected
    # The story is there: the crawlers, the spoof, the disguised scraper, the dataset tool.
    assert {"GPTBot", "CCBot", "Bytespider", "img2dataset"} <= {a[0] for a in found["agents"]}
    assert found["spoofed"][0][0] == "Googlebot"
    assert any(u[1] == "browser" and u[3] for u in found["unknown"])


def test_an_audit_split_by_network_decides_as_one_audit(tmp_path: Path) -> None:
    visits = plan(7, END)
    lines = [line(v.client_ip, v.time, v.path, v.user_agent) for v in visits]
    for n in range(0, len(lines), 400):  # bad lines of several kinds, and JSON lines
        lines[n] = "garbage " + lines[n][:40] if n % 800 else lines[n][:-20]
        lines[n + 1] = json.dumps(
            {"remote_addr": visits[n + 1].client_ip, "msec": visits[n + 1].time,
             "request": f"GET {visits[n + 1].path} HTTP/1.1", "status": 200,
             "http_user_agent": visits[n + 1].user_agent}
        )  # fmt: skip
    log = write(tmp_path / "access.log", lines)
    config = parse_config(f"agents:\n  ip_ranges_dir: {tmp_path}\n")
    reports = []
    for shards in (1, 2, 3):
        store = MemoryEventStore()
        audits = [Audit(config, store, shard=n, shards=shards) for n in range(shards)]
        for audit in audits:
            source = LogFile.open(str(log))
            audit.feed(source.name, source.lines(), parser("auto"))
            source.close()
        first, *others = audits
        for other in others:
            first.add(other.share())
        reading = first.finish()
        assert reading.lines == len(visits)
        assert reading.bad_lines == len(range(0, len(lines), 400))
        assert len(reading.examples) == 6  # 3 of each kind, the first ones
        report = audit_report(
            store, reading, ["access.log"], [], config, first.guard.agents, site="", now=END
        )
        reports.append(report)
    assert reports[1] == reports[0]
    assert reports[2] == reports[0]
