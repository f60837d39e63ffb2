"""The proxy puts the response signals in itself (ProxyApp with ``signals``), and its server
writes the constant ones as checked header lines (HEADER_LINES): every response gets each signal
once, whichever way it went (a whole page tagged before its head, a streamed page through the
injector, a page with its own X-Robots-Tag, an error), and the middleware still records and counts
what each response was."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import BROWSER_UA
from tests.proxy.conftest import Proxy, Site
from tests.proxy.site import PAGE
from tests.proxy.test_http import SIGNALS, SIGNED_PAGE, TAG, TRAP, client

pytestmark = [pytest.mark.anyio, pytest.mark.server]

CHATGPT_UA = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
    "+https://openai.com/bot"
)


def signal_lines(response: httpx.Response) -> dict[str, list[str]]:
    """Each signal header's lines, as they came (not joined)."""
    names = ("x-robots-tag", "tdm-reservation", "content-usage", "content-signal")
    return {name: response.headers.get_list(name) for name in names}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("HEAD", "/", 200),
        ("GET", "/streamed-page", 200),
        ("GET", "/streamed-page?length", 200),
        ("GET", "/img/dawn.png", 200),
        ("GET", "/img/nothing.png", 404),
        ("GET", "/chunked", 200),
        ("GET", "/redirect", 302),
        ("GET", "/compressed/gzip", 200),
    ],
)
async def test_every_response_gets_each_signal_once(
    proxy: Proxy, method: str, path: str, status: int
) -> None:
    async with client(proxy.url) as http:
        response = await http.request(method, path)
        again = await http.request(method, path)  # the next head on the connection: no leftovers
    assert response.status_code == status
    for got in (response, again):
        lines = signal_lines(got)
        assert lines["x-robots-tag"] == [SIGNALS]
        assert all(len(values) <= 1 for values in lines.values()), lines
    assert signal_lines(again) == signal_lines(response)


async def test_a_streamed_page_is_tagged_by_the_injector(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        response = await http.get("/streamed-page")
    assert "content-length" not in response.headers  # it stays a stream
    assert response.content.count(TAG) == 1
    assert response.content.replace(TAG, b"").replace(TRAP, b"") == PAGE


async def test_a_page_that_changes_is_tagged_afresh(proxy: Proxy, site: Site) -> None:
    async with client(proxy.url) as http:
        first = await http.get("/news")
        same = await http.get("/news")
        site.state.edition = 2
        changed = await http.get("/news")
    assert b"News 1" in first.content and first.content == same.content
    assert b"News 2" in changed.content and b"News 1" not in changed.content
    for response in (first, changed):
        assert response.content.count(TAG) == 1
        assert response.headers["content-length"] == str(len(response.content))


async def test_the_pages_own_x_robots_tag_is_merged_with_not_doubled(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        response = await http.get("/own-tag")
    assert response.headers.get_list("x-robots-tag") == ["noarchive, " + SIGNALS]
    assert response.content == SIGNED_PAGE


async def test_a_logged_agent_is_recorded_with_what_it_got(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        response = await http.get("/", headers={"user-agent": CHATGPT_UA})
        missing = await http.get("/img/nothing.png", headers={"user-agent": CHATGPT_UA})
    assert response.status_code == 200 and missing.status_code == 404
    page, image = proxy.events()
    assert page.action == "log" and page.agent == "ChatGPT-User"
    assert page.status == 200 and page.bytes_sent == len(response.content)
    assert page.x_robots_tag == SIGNALS  # the signals the server wrote as header lines
    assert image.status == 404 and image.x_robots_tag == SIGNALS


async def test_every_response_is_counted_with_its_status(proxy: Proxy) -> None:
    async with client(proxy.url) as http:
        for path in ("/", "/img/dawn.png", "/img/nothing.png"):
            await http.get(path, headers={"user-agent": BROWSER_UA})
    proxy.guard().tally.flush()
    proxy.events()  # (flushes the sink)
    counted = {
        rollup.status_class: rollup.count
        for rollup in proxy.store.rollups()
        if rollup.action == "allow"
    }
    assert counted == {2: 2, 4: 1}
