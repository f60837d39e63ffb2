"""The proxy is never an open proxy, believes X-Forwarded-For only from trusted proxies, and
answers oversized or malformed requests with a 4xx instead of crashing."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.conftest import BROWSER_UA
from tests.proxy.conftest import Proxy, ProxyFactory, Site

pytestmark = [pytest.mark.anyio, pytest.mark.server]


async def raw_request(url: str, data: bytes, *, timeout: float = 10) -> bytes:
    """Send bytes as they are and read until the server closes or answers a whole response."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        chunks = []
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), timeout)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"connection: close" not in b"".join(chunks):
                head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                length = [
                    line
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length and len(body) >= int(length[0].split(b":")[1]):
                    break
        return b"".join(chunks)
    finally:
        writer.close()


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


async def still_serving(proxy: Proxy) -> None:
    async with httpx.AsyncClient(headers={"user-agent": BROWSER_UA}) as http:
        assert (await http.get(f"{proxy.url}/")).status_code == 200


async def test_absolute_form_for_another_host_is_refused(proxy: Proxy, site: Site) -> None:
    answer = await raw_request(
        proxy.url,
        b"GET http://evil.example/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    assert status_of(answer) == 421
    assert site.state.uploads == []
    await still_serving(proxy)


async def test_absolute_form_for_the_sites_own_host_is_served(
    site: Site, start_proxy: ProxyFactory
) -> None:
    async with start_proxy(site.url, "proxy:\n  hosts: [art.example]\n") as proxy:
        answer = await raw_request(
            proxy.url,
            b"GET http://art.example/echo/x HTTP/1.1\r\nHost: art.example\r\n"
            b"User-Agent: " + BROWSER_UA.encode() + b"\r\nConnection: close\r\n\r\n",
        )
    assert status_of(answer) == 200
    assert b'"raw_path":"/echo/x"' in answer


async def test_connect_is_refused(proxy: Proxy) -> None:
    answer = await raw_request(
        proxy.url, b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n"
    )
    assert 400 <= status_of(answer) < 500
    await still_serving(proxy)


async def test_forwarded_for_from_an_untrusted_peer_does_not_change_the_client(
    proxy: Proxy,
) -> None:
    async with httpx.AsyncClient() as http:
        await http.get(
            f"{proxy.url}/", headers={"user-agent": "curl/8.5.0", "x-forwarded-for": "66.249.66.1"}
        )
    (event,) = proxy.events()
    assert event.client_ip == "127.0.0.0/24"  # the socket's address (stored truncated, the default)


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    site: Site, start_proxy: ProxyFactory
) -> None:
    async with start_proxy(site.url, "network:\n  trusted_proxies: [127.0.0.0/8]\n") as proxy:
        async with httpx.AsyncClient() as http:
            await http.get(
                f"{proxy.url}/",
                headers={"user-agent": "curl/8.5.0", "x-forwarded-for": "203.0.113.50"},
            )
        (event,) = proxy.events()
    assert event.client_ip == "203.0.113.0/24"


async def test_oversized_bodies_get_413(site: Site, start_proxy: ProxyFactory) -> None:
    async def endless() -> object:
        for _ in range(10):
            yield b"y" * 500

    config = "proxy:\n  max_request_bytes: 1000\n"
    async with (
        start_proxy(site.url, config) as proxy,
        httpx.AsyncClient(headers={"user-agent": BROWSER_UA}) as http,
    ):
        declared = await http.post(f"{proxy.url}/upload", content=b"x" * 5000)
        streamed = await http.post(f"{proxy.url}/upload", content=endless())  # type: ignore[arg-type]
        small = await http.post(f"{proxy.url}/upload", content=b"z" * 100)
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert json.loads(small.content)["size"] == 100
    assert [u["size"] for u in site.state.uploads] == [100]


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"THIS IS NOT HTTP\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"a" * 70_000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n",
    ],
    ids=["garbage", "bad-header", "non-ascii-target", "64k-header", "cl-and-te"],
)
async def test_malformed_requests_get_a_4xx_and_the_proxy_stays_up(
    proxy: Proxy, request_bytes: bytes
) -> None:
    answer = await raw_request(proxy.url, request_bytes, timeout=5)
    assert answer == b"" or 400 <= status_of(answer) < 500
    await still_serving(proxy)


def test_the_request_target_extension_name_is_shared() -> None:
    from noaiguard import _httpprotocol, proxy

    assert proxy.TARGET_EXTENSION == _httpprotocol.TARGET_EXTENSION
    assert proxy.CLIENT_TIMEOUTS == _httpprotocol.CLIENT_TIMEOUTS
