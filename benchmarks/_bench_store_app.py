"""The app served by ``bench_store.py``: one small page behind the guard, whose events go to a
healthy SQLite store or to a store that has stalled (every write hangs, as a database that stopped
answering would). ``NOAIGUARD_BENCH_STORE`` is ``sqlite:PATH`` or ``stalled``.
"""

from __future__ import annotations

import os
import threading

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from noaiguard.backends.base import EventStore
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.backends.sqlite import SQLiteEventStore
from noaiguard.config import BehaviourConfig, BurstRule, Config, NetworkBurstRule
from noaiguard.events import Batch
from noaiguard.guard import Guard
from noaiguard.middleware import NoAIGuardMiddleware


class StalledStore(MemoryEventStore):
    """A store whose writes never return."""

    def __init__(self) -> None:
        super().__init__()
        self._never = threading.Event()

    def write(self, batch: Batch) -> None:
        self._never.wait()


async def page(request: Request) -> PlainTextResponse:
    return PlainTextResponse("A small page.\n" * 20)


def _store() -> EventStore:
    choice = os.environ["NOAIGUARD_BENCH_STORE"]
    if choice == "stalled":
        return StalledStore()
    return SQLiteEventStore(choice.removeprefix("sqlite:"))


app = NoAIGuardMiddleware(
    Starlette(routes=[Route("/", page), Route("/img/{name}", page)]),
    # The burst limit out of reach: wrk is one client at thousands of requests a second, which
    # behaviour detection would rightly hold in the tarpit.
    # The rate limits out of reach: wrk is one client at thousands of requests a second, which
    # behaviour detection would rightly hold in the tarpit.
    guard=Guard(
        Config(
            behaviour=BehaviourConfig(
                burst=BurstRule(requests=10**9), network_burst=NetworkBurstRule(requests=10**9)
            )
        ),
        store=_store(),
    ),
)
