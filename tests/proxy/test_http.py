"""Correct HTTP proxying, each point against the real upstream through the real proxy."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from tests.conftest import BROWSER_UA, GPTBOT_UA
from tests.proxy.conftest import DOWNLOAD, Proxy, ProxyFactory, Site
from tests.proxy.site import BR_PAGE, FEED, GZIP_PAGE, IMAGES, PAGE

pytestmark = [pytest.mark.anyio, pytest.mark.server]

TAG = b'<meta name="robots" content="noai, noimageai">'
# The hidden trap link before </body> (behaviour.trap).
TRAP = (
    b'<a href="/all-originals/" rel="nofollow" style="display:none" aria-hidden="true" '
    b'tabindex="-1">originals</a>'
)
SIGNED_PAGE = PAGE.replace(b"<head>", b"<head>" + TAG).replace(b"</body>", TRAP + b"</body>")
SIGNALS = "noai, noimageai"


def client(base: str, **kwargs: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, headers={"user-agent": BROWSER_UA}, **kwargs)  # type: ignore[arg-type]


async def echo(proxy: Proxy, path: str, **kwargs: object) -> dict[str, object]:
    async with client(proxy.url) as http:
        response = await http.request("GET", path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200
    return json.loads(response.content)  # type: ignore[no-any-return]


def header_values(data: dict[str, object], name: str) -> list[str]:
    return [v for k, v in data["headers"] if k == name]  # type: ignore[attr-defined, misc]


async def test_pages_images_and_feeds_pass_with_the_signals(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        page = await http.get("/")
        image = await http.get("/img/dawn.png")
        feed = await http.get("/feed.xml")
    assert page.content == SIGNED_PAGE
    assert page.headers["content-length"] == str(len(page.content))
    assert image.content == IMAGES["dawn"]
    assert feed.content == FEED
    for response in (page, image, feed):
        assert response.headers["x-robots-tag"] == SIGNALS


async def test_ai_crawlers_are_refused_by_the_same_engine(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        refused = await http.get("/img/dawn.png", headers={"user-agent": GPTBOT_UA})
    assert refused.status_code == 403
    (event,) = proxy.events()
    assert event.agent == "GPTBot" and event.action == "block"


async def test_hop_by_hop_request_headers_are_removed(proxy: Proxy) -> None:
    data = await echo(
        proxy,
        "/echo/x",
        headers={
            "connection": "keep-alive, x-secret-hop",
            "x-secret-hop": "1",
            "keep-alive": "timeout=5",
            "te": "trailers",
            "proxy-authorization": "Basic c2VjcmV0",
            "x-end-to-end": "kept",
        },
    )
    names = {k for k, _ in data["headers"]}  # type: ignore[attr-defined]
    assert not names & {"x-secret-hop", "keep-alive", "te", "proxy-authorization"}
    assert header_values(data, "x-end-to-end") == ["kept"]
    assert header_values(data, "connection") == []  # HTTP/1.1 keeps alive without one


async def test_forwarded_headers_are_appended(proxy: Proxy) -> None:
    data = await echo(proxy, "/echo/x", headers={"x-forwarded-for": "198.51.100.7"})
    assert header_values(data, "x-forwarded-for") == ["198.51.100.7, 127.0.0.1"]
    assert header_values(data, "x-forwarded-proto") == ["http"]
    host = proxy.url.removeprefix("http://")
    assert header_values(data, "x-forwarded-host") == [host]
    assert header_values(data, "host") == [host]  # passed through by default


async def test_forwarded_proto_from_an_untrusted_peer_is_replaced(proxy: Proxy) -> None:
    data = await echo(proxy, "/echo/x", headers={"x-forwarded-proto": "https"})
    assert header_values(data, "x-forwarded-proto") == ["http"]


async def test_a_trusted_proxy_keeps_its_forwarded_headers(
    site: Site, start_proxy: ProxyFactory
) -> None:
    async with start_proxy(site.url, "network:\n  trusted_proxies: [127.0.0.1]\n") as proxy:
        data = await echo(
            proxy,
            "/echo/x",
            headers={"x-forwarded-proto": "https", "x-forwarded-host": "a.example"},
        )
    assert header_values(data, "x-forwarded-proto") == ["https"]
    assert header_values(data, "x-forwarded-host") == ["a.example"]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("upstream", None), ("art.example", "art.example")],
    ids=["upstream", "fixed"],
)
async def test_the_host_header_can_be_rewritten(
    site: Site, start_proxy: ProxyFactory, setting: str, expected: str | None
) -> None:
    async with start_proxy(site.url, f"proxy:\n  host_header: {setting}\n") as proxy:
        data = await echo(proxy, "/echo/x")
    assert header_values(data, "host") == [expected or site.url.removeprefix("http://")]


async def test_redirects_are_passed_on_not_followed(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        response = await http.get("/redirect")
    assert response.status_code == 302
    assert response.headers["location"] == "/landing"


async def test_every_set_cookie_line_survives(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        response = await http.get("/cookies")
    cookies = response.headers.get_list("set-cookie")
    assert [c.split(";")[0] for c in cookies] == ["a=1", "b=2", "c=3"]


async def test_head_gets_the_headers_without_a_body(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        response = await http.head("/img/dawn.png")
        after = await http.get("/img/dawn.png")  # the connection is still usable afterwards
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(IMAGES["dawn"]))
    assert response.headers["x-robots-tag"] == SIGNALS
    assert after.content == IMAGES["dawn"]


async def test_conditional_requests_get_304_with_the_signals(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        first = await http.get("/img/tide.png")
        again = await http.get("/img/tide.png", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["x-robots-tag"] == SIGNALS


async def test_ranges_get_206_and_exactly_those_bytes(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        response = await http.get("/download", headers={"range": "bytes=1000-1999"})
    assert response.status_code == 206
    assert response.content == DOWNLOAD[1000:2000]
    assert response.headers["content-range"] == f"bytes 1000-1999/{len(DOWNLOAD)}"
    assert response.headers["x-robots-tag"] == SIGNALS


async def test_chunked_responses_stream_through(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        response = await http.get("/chunked")
    assert response.text == "".join(f"part {n}\n" for n in range(5))
    assert "content-length" not in response.headers


@pytest.mark.parametrize(
    "target",
    [
        "/echo/a%2Fb/c%20d/caf%C3%A9?x=1&y=%2F&z=a+b",
        "/echo/%7Euser/%25/semi;colon?q=%E2%9C%93",
        "/echo/plain",
    ],
)
async def test_paths_and_query_strings_pass_exactly(proxy: Proxy, target: str) -> None:
    async with client(proxy.url) as http:
        request = http.build_request("GET", target)
        response = await http.send(request)
    data = json.loads(response.content)
    sent_path, _, sent_query = target.partition("?")
    assert data["raw_path"] == sent_path
    assert data["query"] == sent_query


@pytest.mark.parametrize(("kind", "body"), [("gzip", GZIP_PAGE), ("br", BR_PAGE)])
async def test_compressed_bodies_arrive_byte_for_byte(proxy: Proxy, kind: str, body: bytes) -> None:
    async with client(proxy.url) as http, http.stream("GET", f"/compressed/{kind}") as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert raw == body
    assert response.headers["content-encoding"] == kind
    assert response.headers["x-robots-tag"] == SIGNALS  # the header still applies


async def test_compressed_html_is_re_encoded_when_asked(
    site: Site, start_proxy: ProxyFactory
) -> None:
    config = "proxy:\n  reencode_html: true\n"
    async with start_proxy(site.url, config) as proxy, client(proxy.url) as http:
        gz = await http.get("/compressed/gzip")
        br = await http.get("/compressed/br")
    for response in (gz, br):
        assert response.headers["content-encoding"] == "gzip"
        assert response.content == SIGNED_PAGE
        assert "content-length" not in response.headers or int(
            response.headers["content-length"]
        ) == len(response.read())


async def test_request_bodies_stream_to_the_upstream(proxy: Proxy, site: Site) -> None:
    payload = bytes(range(256)) * 4000

    async def pieces() -> object:
        for start in range(0, len(payload), 10_000):
            yield payload[start : start + 10_000]

    async with client(proxy.url) as http:
        fixed = await http.post("/upload", content=payload)
        streamed = await http.post("/upload", content=pieces())  # type: ignore[arg-type]
    expected = hashlib.sha256(payload).hexdigest()
    assert json.loads(fixed.content)["sha256"] == expected
    assert json.loads(fixed.content)["content_length"] == str(len(payload))
    assert json.loads(streamed.content)["sha256"] == expected
    assert json.loads(streamed.content)["chunked"] is True


async def test_the_connection_pool_is_reused(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        for _ in range(20):
            assert (await http.get("/img/dawn.png")).status_code == 200
    layer = proxy.app
    while not hasattr(layer, "transport"):
        layer = layer.app  # type: ignore[attr-defined]
    upstream = layer.transport.upstream  # type: ignore[attr-defined]
    assert upstream.idle_count == 1  # one kept-alive connection served them all
