"""A store seeded with two weeks that a report can be checked against, number by number.

The reported week is Monday 2026-11-16 to Monday 2026-11-23 (UTC); the week before it is the
previous period. Every count below is written out so that the tests can state what the report
must say.
"""

from __future__ import annotations

from datetime import UTC, datetime

from noaiguard.backends.base import EventStore
from noaiguard.events import ROBOTS_FETCH, Batch, Event, RobotsVersion, Rollup
from noaiguard.reports import Period

WEEK = Period.last_full("week", datetime(2026, 11, 24, 9, tzinfo=UTC).timestamp())
MON = WEEK.since
DAY = 86400
H = 3600
BEFORE = WEEK.previous_since  # Monday of the week before

ROBOTS_OLD = "User-agent: *\nDisallow: /drafts/\n"
ROBOTS = (
    "User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /\n\n"
    "User-agent: ClaudeBot\nDisallow: /images/\n\n"
    "User-agent: *\nDisallow: /drafts/\n"
)
V_OLD = RobotsVersion.version_of(ROBOTS_OLD.encode())
V_NOW = RobotsVersion.version_of(ROBOTS.encode())

HOSTILE_UA = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">`|`\n**bold**'
HOSTILE_PATH = "/<svg onload=window.pwned=3>/a.png"


def at(day: float, hour: float = 12.0, base: float = MON) -> float:
    return base + day * DAY + hour * H


def _e(t: float, **fields: object) -> Event:
    values: dict[str, object] = {
        "time": t,
        "method": "GET",
        "path": "/images/dawn.png",
        "status": 403,
        "category": "ai-training",
        "action": "block",
        "agent": "GPTBot",
        "client_ip": "132.196.86.0/24",
        "user_agent": "GPTBot/1.2",
        "x_robots_tag": "noai, noimageai",
        "robots_version": V_NOW,
    }
    values.update(fields)
    return Event(**values)  # type: ignore[arg-type]


def events() -> list[Event]:
    e = []
    # The week before: GPTBot 4 blocked, CCBot 2, a robots.txt fetch by Googlebot.
    e += [_e(at(n, base=BEFORE), bytes_withheld=100) for n in range(4)]
    e += [_e(at(1, base=BEFORE), agent="CCBot", user_agent="CCBot/2.0") for _ in range(2)]
    e.append(
        _e(at(0, 1, base=BEFORE), agent="GPTBot", kind=ROBOTS_FETCH, path="/robots.txt",
           status=200, action="allow", robots_version=V_OLD)
    )  # fmt: skip
    # This week. GPTBot reads robots.txt on Tuesday, then asks for 6 images, 2 pages (blocked).
    e.append(_e(at(1, 9), kind=ROBOTS_FETCH, path="/robots.txt", status=200, action="allow"))
    e += [
        _e(at(1, 10 + n / 10), path=f"/images/{n % 3}.jpg", bytes_withheld=50_000) for n in range(6)
    ]
    e += [_e(at(2, 10), path="/about"), _e(at(2, 11), path="/")]
    # ChatGPT-User (same operator, OpenAI): logged, served.
    e += [
        _e(at(3, 15), agent="ChatGPT-User", category="ai-assistant", action="log", status=200,
           path="/work/dawn", bytes_sent=4000, user_agent="ChatGPT-User/1.0")
    ]  # fmt: skip
    # ClaudeBot reads robots.txt, then fetches one page it may (/about) and one image it may not.
    e.append(
        _e(at(2, 8), agent="ClaudeBot", kind=ROBOTS_FETCH, path="/robots.txt", status=200,
           action="allow", user_agent="ClaudeBot/1.0")
    )  # fmt: skip
    e += [
        _e(at(2, 9), agent="ClaudeBot", path="/about", user_agent="ClaudeBot/1.0"),
        _e(at(2, 9.5), agent="ClaudeBot", path="/images/1.jpg", user_agent="ClaudeBot/1.0"),
    ]
    # CCBot never reads robots.txt: 3 blocked this week (2 the week before).
    e += [_e(at(4, n), agent="CCBot", user_agent="CCBot/2.0", path="/") for n in range(3)]
    # A new agent this week: Bytespider, 5 image requests from two networks.
    e += [
        _e(at(5, n), agent="Bytespider", path="/images/1.jpg", user_agent="Bytespider",
           client_ip=f"47.128.{16 + n % 2}.0/24")
        for n in range(5)
    ]  # fmt: skip
    # A fake Googlebot, 3 requests from one network.
    e += [
        _e(at(6, n), agent="Googlebot", category="spoofed-bot", path="/images/2.jpg",
           client_ip="45.155.205.0/24", user_agent="Googlebot/2.1")
        for n in range(3)
    ]  # fmt: skip
    # Unknown clients: a browser User-Agent scraping images (blocked by behaviour), and a
    # hostile one (logged) whose User-Agent and path try to get into the page.
    e += [
        _e(at(3, 2 + n / 60), agent=None, category="browser", path="/images/0.jpg",
           client_ip="185.220.101.0/24", user_agent="Mozilla/5.0 Chrome/131", rule="behaviour")
        for n in range(4)
    ]  # fmt: skip
    e.append(
        _e(at(3, 5), agent=None, category="unknown-bot", action="log", status=200,
           path=HOSTILE_PATH, user_agent=HOSTILE_UA, client_ip="203.0.113.0/24",
           x_robots_tag="noai, noimageai")
    )  # fmt: skip
    return e


def rollups() -> list[Rollup]:
    """Hourly counts: every request, allowed ones included."""
    r = []
    for day in range(7):
        r.append(Rollup(int(at(day, 10)), "browser", "allow", 2, 100))
        r.append(Rollup(int(at(day, 10, base=BEFORE)), "browser", "allow", 2, 80))
    r += [
        Rollup(int(at(1, 10)), "ai-training", "block", 4, 8),
        Rollup(int(at(2, 9)), "ai-training", "block", 4, 2),
        Rollup(int(at(4, 0)), "ai-training", "block", 4, 3),
        Rollup(int(at(5, 0)), "ai-training", "block", 4, 5),
        Rollup(int(at(6, 0)), "spoofed-bot", "block", 4, 3),
        Rollup(int(at(3, 2)), "browser", "block", 4, 4),
        Rollup(int(at(3, 15)), "ai-assistant", "log", 2, 1),
        Rollup(int(at(3, 5)), "unknown-bot", "log", 2, 1),
        Rollup(int(at(0, 12, base=BEFORE)), "ai-training", "block", 4, 6),
    ]
    return r


def seed(store: EventStore) -> None:
    store.write(
        Batch.new(
            events(),
            [
                RobotsVersion(V_OLD, ROBOTS_OLD, at(-10), at(-3, 12)),
                RobotsVersion(V_NOW, ROBOTS, at(-3, 13), at(5)),
            ],
            rollups(),
        )
    )
