"""Failures are clean: 502 and 504 pages with events, recovery, disconnects, pool limits."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from tests.conftest import BROWSER_UA, live_server
from tests.proxy.conftest import ProxyFactory, Site
from tests.proxy.site import PAGE, SiteState, create_site

pytestmark = [pytest.mark.anyio, pytest.mark.server]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, headers={"user-agent": BROWSER_UA}, timeout=20)


async def test_a_down_upstream_gives_502_and_an_event(start_proxy: ProxyFactory) -> None:
    async with start_proxy(f"http://127.0.0.1:{free_port()}") as proxy, client(proxy.url) as http:
        response = await http.get("/gallery")
    assert response.status_code == 502
    assert "Bad Gateway" in response.text
    assert response.headers["x-robots-tag"] == "noai, noimageai"
    (event,) = proxy.events()
    assert event.status == 502 and event.action == "error" and event.category == "browser"
    assert "cannot connect" in event.reasons[0]


async def test_a_slow_upstream_gives_504(site: Site, start_proxy: ProxyFactory) -> None:
    config = "proxy:\n  timeouts:\n    read: 0.3\n"
    async with start_proxy(site.url, config) as proxy, client(proxy.url) as http:
        response = await http.get("/slow?seconds=3")
        fast = await http.get("/")
    assert response.status_code == 504
    assert "Gateway Timeout" in response.text
    assert fast.status_code == 200  # the next request is fine
    (event,) = proxy.events()
    assert event.status == 504 and "did not answer in time" in event.reasons[0]


async def test_the_proxy_recovers_when_the_upstream_comes_back(
    start_proxy: ProxyFactory, tmp_path: object
) -> None:
    from pathlib import Path

    files = Path(str(tmp_path))
    (files / "download.bin").write_bytes(b"x")
    port = free_port()
    async with start_proxy(f"http://127.0.0.1:{port}") as proxy, client(proxy.url) as http:
        assert (await http.get("/")).status_code == 502
        site = create_site(SiteState(), files)
        async with live_server(site, port=port):
            assert (await http.get("/")).status_code == 200
        # Down again, then back again: kept-alive connections to the old one are not trusted.
        assert (await http.get("/")).status_code == 502
        async with live_server(site, port=port):
            response = await http.get("/")
    assert response.status_code == 200
    assert response.content.endswith(b"</body></html>") and PAGE[:15] in response.content


async def test_a_client_that_leaves_mid_download_stops_the_upstream(
    site: Site, start_proxy: ProxyFactory
) -> None:
    async with start_proxy(site.url) as proxy:
        async with client(proxy.url) as http, http.stream("GET", "/forever") as response:
            received = 0
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if received > 2_000_000:
                    break
        # The client closed its connection: the proxy must drop the upstream stream.
        await asyncio.wait_for(site.state.stream_stopped.wait(), timeout=10)
        streamed = site.state.streamed
        await asyncio.sleep(0.3)
    assert site.state.streamed == streamed  # nothing more was produced


async def test_pool_limits_are_configurable(site: Site, start_proxy: ProxyFactory) -> None:
    config = "proxy:\n  limits:\n    max_connections: 1\n  timeouts:\n    pool: 0.3\n"
    async with start_proxy(site.url, config) as proxy, client(proxy.url) as http:
        slow = asyncio.ensure_future(http.get("/slow?seconds=1.5"))
        await asyncio.sleep(0.3)
        waiting = await http.get("/")
        assert (await slow).status_code == 200
        after = await http.get("/")
    assert waiting.status_code == 503  # the only connection was busy for longer than 0.3 s
    assert after.status_code == 200
