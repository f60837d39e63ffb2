"""The proxy is an httpx client at the transport layer: over httpx's own transport instead of
noaiguard's fast one, it forwards the same bytes. This keeps the boundary honest: ProxyApp uses
nothing but ``httpx.Request``, ``httpx.Response`` and the ``target`` extension httpcore reads."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from noaiguard.config import ProxyConfig
from noaiguard.origin import Origin
from noaiguard.proxy import ProxyApp
from tests.conftest import live_server
from tests.proxy.conftest import DOWNLOAD, Site, proxy_server_options
from tests.proxy.site import GZIP_PAGE, IMAGES, PAGE
from tests.proxy.test_http import client

pytestmark = pytest.mark.anyio


@pytest.fixture
async def httpx_proxy(site: Site) -> AsyncIterator[str]:
    app = ProxyApp(httpx.AsyncHTTPTransport(), Origin.parse(site.url), ProxyConfig())
    async with live_server(app, **proxy_server_options()) as url:
        yield url


async def test_httpx_transport_forwards_the_same_bytes(httpx_proxy: str) -> None:
    async with client(httpx_proxy) as http:
        page = await http.get("/")
        image = await http.get("/img/dawn.png")
        download = await http.get("/download", headers={"range": "bytes=10-19"})
        async with http.stream("GET", "/compressed/gzip") as gz:
            raw = b"".join([chunk async for chunk in gz.aiter_raw()])
        chunked = await http.get("/chunked")
    assert page.content == PAGE  # no guard in this stack: the page as the site sent it
    assert image.content == IMAGES["dawn"]
    assert (download.status_code, download.content) == (206, DOWNLOAD[10:20])
    assert raw == GZIP_PAGE and gz.headers["content-encoding"] == "gzip"
    assert chunked.text == "".join(f"part {n}\n" for n in range(5))


async def test_httpx_transport_sends_the_exact_target_and_bodies(httpx_proxy: str) -> None:
    target = "/echo/a%2Fb/c%20d/caf%C3%A9?x=1&y=%2F&z=a+b"
    payload = bytes(range(256)) * 1000

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 10_000):
            yield payload[start : start + 10_000]

    async with client(httpx_proxy) as http:
        echoed = json.loads((await http.send(http.build_request("GET", target))).content)
        fixed = json.loads((await http.post("/upload", content=payload)).content)
        streamed = json.loads((await http.post("/upload", content=pieces())).content)
    assert (echoed["raw_path"], echoed["query"]) == tuple(target.split("?"))
    expected = hashlib.sha256(payload).hexdigest()
    assert fixed["sha256"] == streamed["sha256"] == expected
    assert streamed["chunked"] is True
