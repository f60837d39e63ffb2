"""Events as the tests write them."""

from __future__ import annotations

from noaiguard.events import Event

T0 = 1_700_000_000.0


def event(n: int = 0, **changes: object) -> Event:
    fields: dict[str, object] = {
        "time": T0 + n,
        "method": "GET",
        "path": f"/img/{n}.png",
        "status": 403,
        "category": "ai-training",
        "action": "block",
        "agent": "GPTBot",
        "client_ip": "198.51.100.0/24",
        "user_agent": "Mozilla/5.0 (compatible; GPTBot/1.2)",
        "reasons": ("User-Agent names GPTBot (ai-training)", "päth «ünïcode»"),
        "x_robots_tag": "noai, noimageai",
        "robots_version": "ab" * 32,
    }
    fields.update(changes)
    return Event(**fields)  # type: ignore[arg-type]
