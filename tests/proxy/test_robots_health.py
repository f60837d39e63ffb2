"""robots.txt from the upstream, merged and cached; the health endpoint for load balancers."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.conftest import GPTBOT_UA
from tests.proxy.conftest import ProxyFactory, Site
from tests.proxy.test_failures import free_port

from ..conftest import PREFERENCE_LINES

pytestmark = [pytest.mark.anyio, pytest.mark.server]


async def robots(url: str) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/robots.txt", headers={"user-agent": GPTBOT_UA})
    assert response.status_code == 200
    return response.text


async def test_the_upstream_robots_txt_is_merged_and_cached(
    site: Site, start_proxy: ProxyFactory
) -> None:
    async with start_proxy(
        site.url, "signals:\n  robots_txt:\n    app_cache_seconds: 0.5\n"
    ) as proxy:
        first = await robots(proxy.url)
        assert "User-agent: GPTBot\n" in first
        assert (
            "Disallow: /drafts/" in first and "Sitemap: https://site.example/sitemap.xml" in first
        )

        # 5xx: the last good copy is kept.
        site.state.robots_status = 503
        await asyncio.sleep(0.6)
        assert await robots(proxy.url) == first

        # 4xx: the site has no robots.txt any more, noaiguard's groups stand alone.
        site.state.robots_status = 404
        await asyncio.sleep(0.6)
        alone = await robots(proxy.url)
        assert "Disallow: /drafts/" not in alone
        assert alone.rstrip().endswith(
            "User-agent: *\nAllow: /\nDisallow: /all-originals/\n" + PREFERENCE_LINES
        )

        # Back: merged again after the time to live.
        site.state.robots_status = 200
        assert await robots(proxy.url) == alone  # still cached
        await asyncio.sleep(0.6)
        assert await robots(proxy.url) == first


async def test_robots_txt_is_served_when_the_upstream_is_down(start_proxy: ProxyFactory) -> None:
    async with start_proxy(f"http://127.0.0.1:{free_port()}") as proxy:
        text = await robots(proxy.url)
    assert "User-agent: GPTBot\n" in text


async def test_health_says_whether_the_upstream_answers(
    site: Site, start_proxy: ProxyFactory
) -> None:
    strict = "policy:\n  categories:\n    unknown: block\n"  # even a strict policy lets it through
    async with start_proxy(site.url, strict) as proxy, httpx.AsyncClient() as http:
        up = await http.get(f"{proxy.url}/.noaiguard/health", headers={"user-agent": ""})
    assert up.status_code == 200
    assert json.loads(up.content) == {"status": "ok", "upstream": site.url, "detail": "HTTP 200"}

    async with start_proxy(f"http://127.0.0.1:{free_port()}") as proxy, httpx.AsyncClient() as http:
        down = await http.get(f"{proxy.url}/.noaiguard/health")
    assert down.status_code == 503
    assert json.loads(down.content)["status"] == "upstream-down"


async def test_the_health_path_is_configurable(site: Site, start_proxy: ProxyFactory) -> None:
    config = "proxy:\n  health_path: /healthz\n"
    async with start_proxy(site.url, config) as proxy, httpx.AsyncClient() as http:
        moved = await http.get(f"{proxy.url}/healthz")
        old = await http.get(f"{proxy.url}/.noaiguard/health", headers={"user-agent": "x"})
    assert moved.status_code == 200
    assert old.status_code == 404  # now forwarded to the site, which has no such page
