"""Shared fixtures: guards with an in-memory store, and real uvicorn servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn

from noaiguard import Config, Guard, parse_config
from noaiguard._types import ASGIApp
from noaiguard.backends.memory import MemoryEventStore

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))

#: The preference lines the default policy puts last in every robots.txt group.
PREFERENCE_LINES = "Content-Usage: train-ai=n, search=y\nContent-Signal: search=yes, ai-train=no"

BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
GPTBOT_UA = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def memory_store() -> MemoryEventStore:
    return MemoryEventStore()


@pytest.fixture
def make_guard(memory_store: MemoryEventStore) -> Iterator[Callable[..., Guard]]:
    """Build guards from YAML text (or a Config) that write to ``memory_store``."""
    guards: list[Guard] = []

    def build(config: str | Config = "") -> Guard:
        parsed = parse_config(config) if isinstance(config, str) else config
        guard = Guard(parsed, store=memory_store)
        guards.append(guard)
        return guard

    yield build
    for guard in guards:
        guard.close()


@asynccontextmanager
async def live_server(app: ASGIApp, port: int = 0, **options: object) -> AsyncIterator[str]:
    """Run ``app`` under a real uvicorn server on 127.0.0.1 (a free port unless given)."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="auto", **options
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # surfaces bind and startup errors
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
