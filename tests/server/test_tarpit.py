"""The tarpit under a real server: it holds refused requests for a while, a bounded number at a
time, frees a place when a client hangs up, and never slows anyone else."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from noaiguard import Guard, NoAIGuardMiddleware
from noaiguard.backends.memory import MemoryEventStore
from tests.conftest import BROWSER_UA, GPTBOT_UA, live_server

pytestmark = [pytest.mark.anyio, pytest.mark.server]

TARPIT = """
agents: {verify: false}
policy:
  categories: {ai-training: tarpit}
  tarpit: {seconds: 0.6, max_concurrent: 2}
"""


async def hello(request: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


def app_with(guard: Guard) -> NoAIGuardMiddleware:
    return NoAIGuardMiddleware(Starlette(routes=[Route("/{path:path}", hello)]), guard=guard)


async def timed_get(http: httpx.AsyncClient, url: str, ua: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await http.get(url, headers={"user-agent": ua})
    return time.perf_counter() - started, response


async def test_a_tarpit_holds_then_refuses_a_bounded_number_at_a_time(
    make_guard: Callable[..., Guard], memory_store: MemoryEventStore
) -> None:
    guard = make_guard(TARPIT)
    async with live_server(app_with(guard)) as url, httpx.AsyncClient(timeout=10) as http:
        results = await asyncio.gather(
            *(timed_get(http, f"{url}/img/{n}.jpg", GPTBOT_UA) for n in range(5)),
            timed_get(http, f"{url}/", BROWSER_UA),
        )
    *crawlers, (browser_time, browser) = results
    assert browser.status_code == 200 and browser_time < 0.3  # visitors are not slowed down
    held = [t for t, r in crawlers if t >= 0.6]
    refused_at_once = [t for t, r in crawlers if t < 0.3]
    assert len(held) == 2 and len(refused_at_once) == 3
    assert all(
        r.status_code == 403 and r.text.startswith("This site does not") for _, r in crawlers
    )
    guard.sink.flush(5)
    events = list(memory_store.query())
    assert len(events) == 5 and {(e.action, e.status) for e in events} == {("tarpit", 403)}


async def test_a_client_that_hangs_up_frees_its_place(
    make_guard: Callable[..., Guard], memory_store: MemoryEventStore
) -> None:
    guard = make_guard(TARPIT.replace("seconds: 0.6", "seconds: 30"))
    app = app_with(guard)
    async with live_server(app) as url:
        async with httpx.AsyncClient(timeout=0.3) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(f"{url}/img/a.jpg", headers={"user-agent": GPTBOT_UA})
        for _ in range(250):  # the server notices the hang-up within a moment
            if not app.tarpit.holding:
                break
            await asyncio.sleep(0.02)
        assert app.tarpit.holding == 0
    guard.sink.flush(5)
    (event,) = memory_store.query()
    assert (event.action, event.status, event.bytes_sent) == ("tarpit", 499, 0)


async def test_monitor_mode_serves_what_the_tarpit_would_hold(
    make_guard: Callable[..., Guard], memory_store: MemoryEventStore
) -> None:
    guard = make_guard("mode: monitor\n" + TARPIT)
    async with live_server(app_with(guard)) as url, httpx.AsyncClient(timeout=10) as http:
        elapsed, response = await timed_get(http, f"{url}/img/a.jpg", GPTBOT_UA)
    assert response.status_code == 200 and elapsed < 0.3
    guard.sink.flush(5)
    (event,) = memory_store.query()
    assert event.action == "tarpit" and not event.enforced
