"""The decision endpoint as each web server asks it: nginx's headers (as deploy/ sets them),
Caddy's forward_auth and Traefik's forwardAuth conventions, over real HTTP on 127.0.0.1.

Caddy and Traefik are not installed here, so their requests are made the way their
documentation says they make them: a GET to the configured address, the visitor's headers
copied, and X-Forwarded-Method, -Uri, -For, -Proto and -Host added.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from noaiguard.auth import AUTH_PATH, HEALTH_PATH
from noaiguard.auth.endpoint import AuthEndpoint
from noaiguard.auth.http import HTTPServer
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.events import ROBOTS_FETCH, Event
from noaiguard.guard import Guard
from tests.conftest import BROWSER_UA, GPTBOT_UA

pytestmark = [pytest.mark.anyio, pytest.mark.server]

TRUSTED = "network: {trusted_proxies: [127.0.0.1]}\nagents: {verify_rdns: false}\n"
SIGNALS = {
    "x-robots-tag": "noai, noimageai",
    "content-usage": "train-ai=n, search=y",
    "tdm-reservation": "1",
}
CURL_UA = "curl/8.5.0"
#: CCBot publishes no addresses: its claim is taken as it is.
CCBOT_UA = "CCBot/2.0 (https://commoncrawl.org/faq/)"
GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


#: Where each web server puts the original method, URI and host (the client: X-Forwarded-For).
CONVENTIONS = {
    # deploy/nginx/noaiguard-auth.conf
    "nginx": ("x-original-method", "x-original-uri", "host"),
    # Caddy's forward_auth and Traefik's forwardAuth
    "caddy-traefik": ("x-forwarded-method", "x-forwarded-uri", "x-forwarded-host"),
}


def subrequest(
    convention: str, uri: str, client: str = "203.0.113.7", method: str = "GET"
) -> dict[str, str]:
    """The headers a web server's authorization subrequest carries for a visitor's request."""
    method_header, uri_header, host_header = CONVENTIONS[convention]
    return {
        method_header: method,
        uri_header: uri,
        host_header: "example.org",
        "x-forwarded-for": client,
        "x-forwarded-proto": "https",
    }


def nginx(uri: str, client: str = "203.0.113.7") -> dict[str, str]:
    return subrequest("nginx", uri, client)


class Auth:
    """A running endpoint: ``ask`` it as a web server would; its guard's events."""

    def __init__(self, url: str, guard: Guard, store: MemoryEventStore) -> None:
        self.url = url
        self.guard = guard
        self.store = store
        self.client = httpx.AsyncClient(base_url=url, timeout=10)

    async def ask(self, user_agent: str, headers: dict[str, str]) -> httpx.Response:
        return await self.client.get(AUTH_PATH, headers={"user-agent": user_agent, **headers})

    def events(self) -> list[Event]:
        assert self.guard.sink.flush(5)
        return [e for e in self.store.query() if isinstance(e, Event)]


@asynccontextmanager
async def running(
    guard: Guard, store: MemoryEventStore, site_robots: Path | None = None
) -> AsyncIterator[Auth]:
    server = HTTPServer(AuthEndpoint(guard, site_robots=site_robots))
    host, port = await server.start("127.0.0.1", 0)
    auth = Auth(f"http://{host}:{port}", guard, store)
    try:
        yield auth
    finally:
        await auth.client.aclose()
        await server.shutdown(1)


@pytest.fixture
async def auth(
    make_guard: Callable[..., Guard], memory_store: MemoryEventStore
) -> AsyncIterator[Auth]:
    async with running(make_guard(TRUSTED), memory_store) as endpoint:
        yield endpoint


def signals(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in SIGNALS if name in response.headers}


@pytest.mark.parametrize("convention", CONVENTIONS)
async def test_a_browser_is_allowed_with_the_signals_to_add(auth: Auth, convention: str) -> None:
    response = await auth.ask(BROWSER_UA, subrequest(convention, "/gallery/dawn.jpg?size=2"))
    assert response.status_code == 200
    assert response.content == b""
    assert signals(response) == SIGNALS
    assert auth.events() == []  # an allowed request is counted, not recorded


@pytest.mark.parametrize("convention", CONVENTIONS)
async def test_an_ai_crawler_is_refused_and_recorded_as_the_visitor_did_it(
    auth: Auth, convention: str
) -> None:
    uri = "/gallery/d%C3%A4mmerung.jpg?w=1"
    response = await auth.ask(GPTBOT_UA, subrequest(convention, uri, method="HEAD"))
    assert response.status_code == 403
    assert response.content == b""  # the visitor asked for HEAD
    assert signals(response) == SIGNALS
    (event,) = auth.events()
    assert (event.agent, event.status, event.action) == ("GPTBot", 403, "block")
    assert event.method == "HEAD"
    assert event.path == "/gallery/dämmerung.jpg"
    assert event.host == "example.org"
    assert event.client_ip == "203.0.113.0/24"  # the visitor's address, truncated for privacy


async def test_a_refusal_has_the_block_body_for_caddy_and_traefik_to_pass_on(auth: Auth) -> None:
    response = await auth.ask(GPTBOT_UA, subrequest("caddy-traefik", "/"))
    assert response.status_code == 403
    assert response.text.startswith("This site does not permit automated collection")
    assert response.headers["cache-control"] == "private, no-store"


async def test_x_real_ip_and_an_absolute_uri_are_understood(auth: Auth) -> None:
    headers = {"x-original-uri": "http://example.org/a/b.png?x=1", "x-real-ip": "198.51.100.4"}
    assert (await auth.ask(GPTBOT_UA, headers)).status_code == 403
    (event,) = auth.events()
    assert (event.path, event.client_ip) == ("/a/b.png", "198.51.100.0/24")


async def test_a_spoofed_googlebot_is_refused_and_a_logged_client_is_allowed(auth: Auth) -> None:
    assert (await auth.ask(GOOGLEBOT_UA, nginx("/"))).status_code == 403
    logged = await auth.ask(CURL_UA, nginx("/feed.xml"))
    assert logged.status_code == 200
    assert signals(logged) == SIGNALS
    spoof, curl = auth.events()
    assert (spoof.agent, spoof.category) == ("Googlebot", "spoofed-bot")
    assert (curl.category, curl.action, curl.status) == ("scraper-library", "log", 200)


async def test_monitor_mode_lets_crawlers_through_and_records_them(
    make_guard: Callable[..., Guard], memory_store: MemoryEventStore
) -> None:
    async with running(make_guard(TRUSTED + "mode: monitor\n"), memory_store) as auth:
        response = await auth.ask(GPTBOT_UA, nginx("/"))
        assert response.status_code == 200
        assert signals(response) == SIGNALS
        (event,) = auth.events()
        assert (event.action, event.enforced) == ("block", False)


async def test_a_tarpit_answers_late_and_a_dropped_subrequest_is_recorded(
    make_guard: Callable[..., Guard], memory_store: MemoryEventStore
) -> None:
    config = TRUSTED + "policy: {agents: {CCBot: tarpit}, tarpit: {seconds: 0.3}}\n"
    async with running(make_guard(config), memory_store) as auth:
        started = time.monotonic()
        assert (await auth.ask(CCBOT_UA, nginx("/a.jpg"))).status_code == 403
        assert time.monotonic() - started >= 0.25
        with pytest.raises(httpx.ReadTimeout):  # the web server gives up and closes
            await auth.client.get(
                AUTH_PATH, headers={"user-agent": CCBOT_UA, **nginx("/b.jpg")}, timeout=0.05
            )
        await asyncio.sleep(0.1)
        held, dropped = auth.events()
        assert (held.path, held.action, held.status) == ("/a.jpg", "tarpit", 403)
        assert (dropped.path, dropped.status) == ("/b.jpg", 499)


async def test_signals_follow_the_path_and_the_type_a_web_server_sends(
    make_guard: Callable[..., Guard], memory_store: MemoryEventStore
) -> None:
    config = TRUSTED + (
        "signals:\n"
        "  x_robots_tag:\n"
        "    rules:\n"
        "      - {content_types: ['image/*'], directives: [noai, noimageai, noml]}\n"
        "      - {paths: ['/press/**'], directives: []}\n"
        "  tdmrep:\n"
        "    rules: [{location: /press/, reservation: false}]\n"
    )
    async with running(make_guard(config), memory_store) as auth:
        image = await auth.ask(BROWSER_UA, nginx("/art/dawn.webp"))
        page = await auth.ask(BROWSER_UA, nginx("/art/"))
        press = await auth.ask(BROWSER_UA, nginx("/press/kit.html"))
    assert image.headers["x-robots-tag"] == "noai, noimageai, noml"
    assert page.headers["x-robots-tag"] == "noai, noimageai"
    assert "x-robots-tag" not in press.headers
    assert press.headers["tdm-reservation"] == "0"
    assert page.headers["tdm-reservation"] == "1"


async def test_robots_txt_merges_the_sites_own_file(
    make_guard: Callable[..., Guard], memory_store: MemoryEventStore, tmp_path: Path
) -> None:
    site_robots = tmp_path / "robots.txt"
    site_robots.write_text("User-agent: *\nDisallow: /drafts/\n")
    async with running(make_guard(TRUSTED), memory_store, site_robots=site_robots) as auth:
        headers = {"user-agent": GPTBOT_UA, "x-forwarded-for": "203.0.113.7"}
        response = await auth.client.get("/robots.txt", headers=headers)
        head = await auth.client.head("/robots.txt", headers=headers)
        events = auth.events()
    assert response.status_code == 200
    assert "User-agent: GPTBot\n" in response.text
    assert "Disallow: /drafts/" in response.text
    assert response.headers["x-robots-tag"] == "noai, noimageai"
    assert head.headers["content-length"] == str(len(response.content))
    assert [(e.agent, e.kind) for e in events] == [("GPTBot", ROBOTS_FETCH)] * 2


async def test_noaiguards_own_files_health_and_nothing_else(auth: Auth) -> None:
    tdmrep = await auth.client.get("/.well-known/tdmrep.json")
    assert tdmrep.json()[-1]["location"] == "/"
    assert (await auth.client.get("/ai.txt")).status_code == 200
    health = await auth.client.get(HEALTH_PATH)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (await auth.client.get("/index.html")).status_code == 404


async def test_a_web_server_that_is_not_trusted_is_not_believed(
    make_guard: Callable[..., Guard],
    memory_store: MemoryEventStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its visitors are judged by User-Agent alone: a claimed Googlebot cannot be checked."""
    config = "network: {trusted_proxies: [10.0.0.0/8]}\nagents: {verify_rdns: false}\n"
    async with running(make_guard(config), memory_store) as auth:
        for _ in range(2):
            assert (
                await auth.ask(GOOGLEBOT_UA, nginx("/", client="66.249.66.1"))
            ).status_code == 200
        assert (await auth.ask(GPTBOT_UA, nginx("/"))).status_code == 403
        (event,) = auth.events()
    assert event.client_ip is None
    assert caplog.text.count("127.0.0.1 is not in network.trusted_proxies") == 1


async def test_a_subrequest_without_the_original_uri_is_judged_for_the_root(
    auth: Auth, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await auth.ask(GPTBOT_UA, {"x-forwarded-for": "203.0.113.7"})).status_code == 403
    (event,) = auth.events()
    assert event.path == "/"
    assert "sends no X-Original-URI or X-Forwarded-Uri" in caplog.text


async def test_if_noaiguard_fails_the_request_is_let_through(
    auth: Auth, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def read(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("boom")

    endpoint = AuthEndpoint(auth.guard)
    endpoint._originals = Broken()  # type: ignore[assignment]
    server = HTTPServer(endpoint)
    host, port = await server.start("127.0.0.1", 0)
    async with httpx.AsyncClient() as client:
        response = await client.get(
            f"http://{host}:{port}{AUTH_PATH}", headers={"user-agent": GPTBOT_UA}
        )
    await server.shutdown(1)
    assert (response.status_code, response.headers.get("x-robots-tag")) == (200, None)
    assert "letting it through" in caplog.text
