"""Live metrics over real sockets on 127.0.0.1: a listener of their own, and the site's own port."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from noaiguard import Guard, NoAIGuardMiddleware
from noaiguard.errors import NoAIGuardError
from tests.conftest import BROWSER_UA, live_server
from tests.unit.test_metrics import (
    AUTH,
    PATH,
    PATH_MODE,
    free_port,
    nothing_listens,
    samples,
    send_traffic,
    series,
    value,
)

pytestmark = [pytest.mark.anyio, pytest.mark.server]


def site() -> Starlette:
    async def page(request: Request) -> Response:
        return PlainTextResponse("a page")

    return Starlette(routes=[Route("/", page)])


def port_mode(port: int, extra: str = "") -> str:
    return f"agents: {{verify: false}}\nmetrics: {{enabled: true, port: {port}{extra}}}\n"


async def test_a_listener_of_its_own_counts_the_site_traffic(
    make_guard: Callable[..., Guard],
) -> None:
    port = free_port()
    guard = make_guard(port_mode(port))
    app = NoAIGuardMiddleware(site(), guard=guard)
    metrics = guard.metrics
    assert metrics is not None and metrics.address == ("127.0.0.1", port)
    async with live_server(app) as url, httpx.AsyncClient(base_url=url) as http:
        await send_traffic(http, browsers=3, gptbots=2)
        # The site's own port has no metrics path: that goes to the app like any page.
        browser = {"user-agent": BROWSER_UA}
        assert (await http.get(PATH, headers={**AUTH, **browser})).status_code == 404
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as scraper:
            response = await scraper.get("/metrics")
            head = await scraper.head("/metrics")
            elsewhere = await scraper.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(response.text)
    assert series(found, "noaiguard_requests_total") == {
        # The site's 404 for the metrics path is a judged browser request like any other.
        frozenset({("category", "browser"), ("action", "allow")}): 4.0,
        frozenset({("category", "ai-training"), ("action", "block")}): 2.0,
    }
    assert value(
        found, "noaiguard_agent_requests_total", agent="GPTBot", category="ai-training",
        action="block",
    ) == 2.0  # fmt: skip
    assert value(found, "noaiguard_guard_latency_seconds_count") == 6.0
    assert head.status_code == 200 and head.content == b""
    assert elsewhere.status_code == 404
    # The server's shutdown (lifespan) closed the guard, and with it the listener.
    assert metrics.address is None
    assert nothing_listens(port)


async def test_a_listener_with_a_token_asks_for_it(make_guard: Callable[..., Guard]) -> None:
    port = free_port()
    guard = make_guard(port_mode(port, ", token: t0ken"))
    NoAIGuardMiddleware(site(), guard=guard)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as scraper:
        refused = await scraper.get("/metrics")
        allowed = await scraper.get("/metrics", headers={"authorization": "Bearer t0ken"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer ")
    assert allowed.status_code == 200
    guard.close()
    assert nothing_listens(port)


def test_a_busy_port_is_an_error_at_startup(make_guard: Callable[..., Guard]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        guard = make_guard(port_mode(port))
        busy_port = rf"metrics\.port: cannot listen on 127\.0\.0\.1:{port}"
        with pytest.raises(NoAIGuardError, match=busy_port):
            NoAIGuardMiddleware(site(), guard=guard)


def test_two_front_doors_share_one_listener(make_guard: Callable[..., Guard]) -> None:
    port = free_port()
    guard = make_guard(port_mode(port))
    NoAIGuardMiddleware(site(), guard=guard)
    NoAIGuardMiddleware(site(), guard=guard)  # the same guard: the listener runs already
    assert guard.metrics is not None and guard.metrics.address == ("127.0.0.1", port)


async def test_the_path_over_a_real_socket(make_guard: Callable[..., Guard]) -> None:
    app = NoAIGuardMiddleware(site(), guard=make_guard(PATH_MODE))
    async with live_server(app) as url, httpx.AsyncClient(base_url=url) as http:
        await send_traffic(http, browsers=3, gptbots=2)
        refused = await http.get(PATH)
        response = await http.get(PATH, headers=AUTH)
    assert refused.status_code == 401
    found = samples(response.text)
    assert value(found, "noaiguard_requests_total", category="browser", action="allow") == 3.0
    assert value(found, "noaiguard_requests_total", category="ai-training", action="block") == 2.0
    assert value(found, "noaiguard_guard_latency_seconds_count") == 5.0
