"""NoAIGuardMiddleware on a real Starlette app: signals, blocking, robots.txt, HTML, events."""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from noaiguard import Guard, NoAIGuardMiddleware
from noaiguard._types import Message, Receive, Scope, Send
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.policy import Decision
from tests.conftest import BROWSER_UA, GPTBOT_UA

from ..conftest import PREFERENCE_LINES

pytestmark = pytest.mark.anyio

PAGE = (
    "<!doctype html><html><head><title>Gallery</title></head>"
    "<body><img src='/img/a.png'></body></html>"
)
# The hidden trap link, before </body> (behaviour.trap): no person sees or follows it.
TRAP = (
    '<a href="/all-originals/" rel="nofollow" style="display:none" aria-hidden="true" '
    'tabindex="-1">originals</a>'
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
CHATGPT_UA = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
    "+https://openai.com/bot"
)
SIGNALS = "noai, noimageai"
TAG = '<meta name="robots" content="noai, noimageai">'


def site(tmp_path: Path | None = None, robots: Response | None = None) -> Starlette:
    seen: dict[str, object] = {}

    async def page(request: Request) -> Response:
        decision = request.state.noaiguard
        seen["decision"] = decision
        return HTMLResponse(PAGE)

    async def image(request: Request) -> Response:
        if request.headers.get("if-none-match") == '"v1"':
            return Response(status_code=304, headers={"etag": '"v1"'})
        return Response(PNG, media_type="image/png", headers={"etag": '"v1"'})

    async def own_tag(request: Request) -> Response:
        return HTMLResponse(PAGE, headers={"x-robots-tag": "noindex"})

    async def compressed(request: Request) -> Response:
        return Response(
            gzip.compress(PAGE.encode()),
            media_type="text/html",
            headers={"content-encoding": "gzip"},
        )

    async def missing(request: Request) -> Response:
        return HTMLResponse(PAGE, status_code=404)

    async def api(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def robots_txt(request: Request) -> Response:
        seen["robots_calls"] = int(seen.get("robots_calls", 0)) + 1  # type: ignore[call-overload]
        assert robots is not None
        return robots

    async def download(request: Request) -> Response:
        assert tmp_path is not None
        return FileResponse(tmp_path / "big.bin")

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    routes = [
        Route("/", page),
        Route("/img/a.png", image),
        Route("/own-tag", own_tag),
        Route("/compressed", compressed),
        Route("/missing", missing),
        Route("/api", api, methods=["GET", "POST"]),
        Route("/download", download),
        WebSocketRoute("/ws", ws),
    ]
    if robots is not None:
        routes.append(Route("/robots.txt", robots_txt))
    app = Starlette(routes=routes)
    app.state.seen = seen
    return app


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
        headers={"user-agent": BROWSER_UA},
    )


@pytest.fixture
def guarded(make_guard: Callable[..., Guard]) -> Callable[..., NoAIGuardMiddleware]:
    def build(app: Starlette | None = None, config: str = "") -> NoAIGuardMiddleware:
        return NoAIGuardMiddleware(app if app is not None else site(), guard=make_guard(config))

    return build


def recorded(middleware: NoAIGuardMiddleware, store: MemoryEventStore) -> list[object]:
    assert middleware.guard.sink.flush(5)
    return list(store.query())


# -- signals on every response ----------------------------------------------------------------


async def test_a_browser_gets_the_page_with_both_signals(
    guarded: Callable[..., NoAIGuardMiddleware],
) -> None:
    async with client(guarded()) as http:
        response = await http.get("/")
    assert response.status_code == 200
    assert response.headers["x-robots-tag"] == SIGNALS
    assert response.text == PAGE.replace("<head>", "<head>" + TAG).replace(
        "</body>", TRAP + "</body>"
    )
    assert int(response.headers["content-length"]) == len(response.content)


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/img/a.png", {}, 200),
        ("/img/a.png", {"if-none-match": '"v1"'}, 304),
        ("/missing", {}, 404),
        ("/nowhere", {}, 404),
        ("/api", {}, 200),
    ],
)
async def test_every_response_carries_the_header(
    guarded: Callable[..., NoAIGuardMiddleware], path: str, headers: dict[str, str], status: int
) -> None:
    async with client(guarded()) as http:
        response = await http.get(path, headers=headers)
    assert response.status_code == status
    assert response.headers.get_list("x-robots-tag") == [SIGNALS]


async def test_images_pass_byte_for_byte(guarded: Callable[..., NoAIGuardMiddleware]) -> None:
    async with client(guarded()) as http:
        response = await http.get("/img/a.png")
    assert response.content == PNG
    assert response.headers["content-length"] == str(len(PNG))


async def test_range_requests_get_206_with_the_header(
    guarded: Callable[..., NoAIGuardMiddleware], tmp_path: Path
) -> None:
    (tmp_path / "big.bin").write_bytes(bytes(range(256)) * 64)
    async with client(guarded(site(tmp_path))) as http:
        response = await http.get("/download", headers={"range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == bytes(range(10, 20))
    assert response.headers["x-robots-tag"] == SIGNALS


async def test_the_apps_own_header_is_merged(guarded: Callable[..., NoAIGuardMiddleware]) -> None:
    async with client(guarded()) as http:
        response = await http.get("/own-tag")
    assert response.headers.get_list("x-robots-tag") == ["noindex, noai, noimageai"]


async def test_html_is_left_alone_when_compressed_missing_or_head(
    guarded: Callable[..., NoAIGuardMiddleware],
) -> None:
    async with client(guarded()) as http:
        compressed = await http.get("/compressed")
        missing = await http.get("/missing")
        head = await http.head("/")
    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.text == PAGE  # httpx decompressed the untouched gzip body
    assert missing.text == PAGE
    assert head.content == b"" and head.headers["x-robots-tag"] == SIGNALS
    for response in (compressed, missing):
        assert response.headers["x-robots-tag"] == SIGNALS


async def test_meta_injection_can_be_excluded_per_path(
    guarded: Callable[..., NoAIGuardMiddleware],
) -> None:
    app = guarded(config="signals:\n  html_meta:\n    exclude_paths: ['/']\n")
    async with client(app) as http:
        response = await http.get("/")
    assert response.text == PAGE
    assert response.headers["x-robots-tag"] == SIGNALS


# -- decisions ----------------------------------------------------------------------------------


async def test_gptbot_is_refused_and_recorded(
    guarded: Callable[..., NoAIGuardMiddleware], memory_store: MemoryEventStore
) -> None:
    middleware = guarded()
    async with client(middleware) as http:
        response = await http.get("/img/a.png", headers={"user-agent": GPTBOT_UA})
        head = await http.head("/img/a.png", headers={"user-agent": GPTBOT_UA})
    assert response.status_code == 403
    assert response.text.startswith("This site does not permit")
    assert response.headers["x-robots-tag"] == SIGNALS
    assert response.headers["cache-control"] == "private, no-store"
    assert head.status_code == 403 and head.content == b""
    events = recorded(middleware, memory_store)
    assert len(events) == 2
    first = events[0]
    assert first.agent == "GPTBot" and first.action == "block" and first.status == 403  # type: ignore[attr-defined]
    assert first.bytes_sent == len(response.content) and first.x_robots_tag == SIGNALS  # type: ignore[attr-defined]
    assert first.path == "/img/a.png" and first.user_agent == GPTBOT_UA  # type: ignore[attr-defined]


async def test_a_refusal_records_the_size_it_kept_from_the_crawler(
    guarded: Callable[..., NoAIGuardMiddleware], memory_store: MemoryEventStore
) -> None:
    middleware = guarded()
    async with client(middleware) as http:
        before = await http.get("/img/a.png", headers={"user-agent": GPTBOT_UA})
        served = await http.get("/img/a.png")  # a browser: 200 with its Content-Length
        after = await http.get("/img/a.png", headers={"user-agent": GPTBOT_UA})
        missing = await http.get("/img/none.png", headers={"user-agent": GPTBOT_UA})
    assert (before.status_code, served.status_code, after.status_code) == (403, 200, 403)
    assert missing.status_code == 403
    withheld = [e.bytes_withheld for e in recorded(middleware, memory_store)]  # type: ignore[attr-defined]
    assert withheld == [0, len(PNG), 0]


async def test_browsers_are_not_recorded(
    guarded: Callable[..., NoAIGuardMiddleware], memory_store: MemoryEventStore
) -> None:
    middleware = guarded()
    async with client(middleware) as http:
        await http.get("/")
    assert recorded(middleware, memory_store) == []


async def test_logged_agents_are_served_and_recorded_with_what_they_got(
    guarded: Callable[..., NoAIGuardMiddleware], memory_store: MemoryEventStore
) -> None:
    middleware = guarded()
    async with client(middleware) as http:
        response = await http.get("/", headers={"user-agent": CHATGPT_UA})
    assert response.status_code == 200
    (event,) = recorded(middleware, memory_store)
    assert event.action == "log" and event.agent == "ChatGPT-User"  # type: ignore[attr-defined]
    assert event.status == 200 and event.bytes_sent == len(response.content)  # type: ignore[attr-defined]


async def test_monitor_mode_serves_and_records_a_would_be_block(
    guarded: Callable[..., NoAIGuardMiddleware], memory_store: MemoryEventStore
) -> None:
    middleware = guarded(config="mode: monitor\n")
    async with client(middleware) as http:
        response = await http.get("/", headers={"user-agent": GPTBOT_UA})
    assert response.status_code == 200
    assert response.headers["x-robots-tag"] == SIGNALS
    (event,) = recorded(middleware, memory_store)
    assert event.action == "block" and event.enforced is False and event.status == 200  # type: ignore[attr-defined]


async def test_block_response_is_configurable(guarded: Callable[..., NoAIGuardMiddleware]) -> None:
    config = (
        "policy:\n  block:\n    status: 451\n    body: 'No AI training here.'\n"
        "    content_type: text/html; charset=utf-8\n"
    )
    async with client(guarded(config=config)) as http:
        response = await http.get("/", headers={"user-agent": GPTBOT_UA})
    assert response.status_code == 451
    assert response.text == "No AI training here."
    assert response.headers["content-type"] == "text/html; charset=utf-8"


async def test_path_rules_apply(guarded: Callable[..., NoAIGuardMiddleware]) -> None:
    config = "policy:\n  rules:\n    - paths: ['/api']\n      action: allow\n"
    async with client(guarded(config=config)) as http:
        assert (await http.get("/api", headers={"user-agent": GPTBOT_UA})).status_code == 200
        assert (await http.get("/", headers={"user-agent": GPTBOT_UA})).status_code == 403


async def test_the_decision_is_available_to_endpoints(
    guarded: Callable[..., NoAIGuardMiddleware],
) -> None:
    app = site()
    async with client(guarded(app)) as http:
        await http.get("/", headers={"user-agent": CHATGPT_UA})
    decision = app.state.seen["decision"]
    assert isinstance(decision, Decision)
    assert decision.verdict.agent_name == "ChatGPT-User"


async def test_two_guards_with_different_configs_live_side_by_side(
    guarded: Callable[..., NoAIGuardMiddleware],
) -> None:
    strict = guarded(config="policy:\n  categories:\n    ai-assistant: block\n")
    lenient = guarded()
    async with client(strict) as a, client(lenient) as b:
        assert (await a.get("/", headers={"user-agent": CHATGPT_UA})).status_code == 403
        assert (await b.get("/", headers={"user-agent": CHATGPT_UA})).status_code == 200


# -- robots.txt ---------------------------------------------------------------------------------


async def test_robots_txt_merges_the_apps_own(guarded: Callable[..., NoAIGuardMiddleware]) -> None:
    app = site(robots=PlainTextResponse("User-agent: *\nDisallow: /drafts/\n\nSitemap: /s.xml\n"))
    middleware = guarded(app)
    async with client(middleware) as http:
        response = await http.get("/robots.txt", headers={"user-agent": GPTBOT_UA})
        again = await http.get("/robots.txt", headers={"if-none-match": "x"})
        head = await http.head("/robots.txt")
    assert response.status_code == 200  # a blocked crawler can always read the opt-out
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-robots-tag"] == SIGNALS
    body = response.text
    assert "User-agent: GPTBot\n" in body
    assert body.rstrip().endswith(
        "User-agent: *\nDisallow: /drafts/\nDisallow: /all-originals/\n"
        + PREFERENCE_LINES
        + "\n\nSitemap: /s.xml"
    )
    assert again.text == body
    assert head.content == b"" and head.headers["content-length"] == str(len(response.content))
    assert app.state.seen["robots_calls"] == 1  # cached


async def test_robots_txt_without_an_app_file(guarded: Callable[..., NoAIGuardMiddleware]) -> None:
    async with client(guarded()) as http:
        response = await http.get("/robots.txt")
    assert response.status_code == 200
    assert response.text.rstrip().endswith(
        "User-agent: *\nAllow: /\nDisallow: /all-originals/\n" + PREFERENCE_LINES
    )


async def test_an_html_answer_for_robots_txt_is_not_merged(
    guarded: Callable[..., NoAIGuardMiddleware],
) -> None:
    app = site(robots=HTMLResponse("<!doctype html><p>single page app</p>"))
    async with client(guarded(app)) as http:
        response = await http.get("/robots.txt")
    assert "single page app" not in response.text
    assert response.text.rstrip().endswith(
        "User-agent: *\nAllow: /\nDisallow: /all-originals/\n" + PREFERENCE_LINES
    )


async def test_a_failing_robots_view_does_not_break_robots_txt(
    guarded: Callable[..., NoAIGuardMiddleware], caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/robots.txt":
            raise RuntimeError("template missing")
        await PlainTextResponse("ok")(scope, receive, send)

    async with client(guarded(broken)) as http:  # type: ignore[arg-type]
        response = await http.get("/robots.txt")
    assert response.status_code == 200 and "User-agent: GPTBot" in response.text
    assert "failed to serve its own robots.txt" in caplog.text


# -- robustness ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [(b"user-agent", b"\xff\xfe\x00binary\x80")],
        [(b"user-agent", b"A" * 10_000)],
        [(b"user-agent", b"")],
        [],
        [(b"user-agent", BROWSER_UA.encode()), (b"x-forwarded-for", b"\x00\xff, nonsense")],
    ],
    ids=["binary", "10KB", "empty", "none", "bad-xff"],
)
async def test_odd_requests_never_become_a_500(
    guarded: Callable[..., NoAIGuardMiddleware], headers: list[tuple[bytes, bytes]]
) -> None:
    middleware = guarded()
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/img/a\x00\udcff.png",
        "raw_path": b"/img/a%00%FF.png",
        "query_string": b"\xff=\x00",
        "headers": headers,
        "client": ("203.0.113.5", 1234),
        "server": ("testserver", 80),
    }
    await middleware(scope, receive, send)
    assert sent[0]["status"] == 404
    assert (b"x-robots-tag", SIGNALS.encode()) in sent[0]["headers"]


async def test_a_failure_inside_noaiguard_lets_the_request_through(
    guarded: Callable[..., NoAIGuardMiddleware],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    middleware = guarded()

    def broken(facts: object) -> Decision:
        raise RuntimeError("bug")

    monkeypatch.setattr(middleware.guard, "inspect", broken)
    monkeypatch.setattr(middleware, "_fast_decisions", broken)
    with caplog.at_level(logging.ERROR):
        async with client(middleware) as http:
            response = await http.get("/")
    assert response.status_code == 200
    assert "letting it through" in caplog.text


async def test_other_scopes_pass_through_untouched(
    guarded: Callable[..., NoAIGuardMiddleware],
) -> None:
    calls: list[tuple[Scope, Receive, Send]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append((scope, receive, send))

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent")

    scope = {"type": "websocket", "path": "/ws", "headers": [(b"user-agent", GPTBOT_UA.encode())]}
    await guarded(app)(scope, receive, send)  # type: ignore[arg-type]
    assert calls == [(scope, receive, send)]


async def test_lifespan_shutdown_writes_queued_events(
    guarded: Callable[..., NoAIGuardMiddleware], memory_store: MemoryEventStore
) -> None:
    middleware = guarded()
    async with client(middleware) as http:
        assert (await http.get("/", headers={"user-agent": GPTBOT_UA})).status_code == 403
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    # Shutdown closed the sink after writing everything queued.
    assert memory_store.count() == 1
    assert middleware.guard.sink.written == 1


async def test_built_in_defaults_need_no_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = Starlette(routes=[Route("/", lambda request: HTMLResponse(PAGE))])
    app.add_middleware(NoAIGuardMiddleware)
    async with client(app) as http:
        assert (await http.get("/")).headers["x-robots-tag"] == SIGNALS
        assert (await http.get("/", headers={"user-agent": GPTBOT_UA})).status_code == 403
    layer: object = app.middleware_stack
    while not isinstance(layer, NoAIGuardMiddleware):
        layer = layer.app  # type: ignore[attr-defined]
    layer.guard.close()
    assert (tmp_path / "noaiguard.db").exists()  # the default store: SQLite in the current folder


async def test_add_middleware_with_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("mode: monitor\nstore:\n  url: memory://\n")
    app = Starlette(routes=[Route("/", lambda request: HTMLResponse(PAGE))])
    app.add_middleware(NoAIGuardMiddleware, config=str(config))
    async with client(app) as http:
        response = await http.get("/", headers={"user-agent": GPTBOT_UA})
    assert response.status_code == 200  # monitor mode


# -- records: roll-ups and robots.txt evidence ------------------------------------------------


async def test_every_request_is_counted_in_the_hourly_rollups(
    guarded: Callable[..., NoAIGuardMiddleware], memory_store: MemoryEventStore
) -> None:
    middleware = guarded()
    async with client(middleware) as http:
        for _ in range(3):
            await http.get("/")
        await http.get("/missing")
        await http.get("/img/a.png", headers={"user-agent": GPTBOT_UA})
    middleware.guard.close()
    counts = {(r.category, r.action, r.status_class): r.count for r in memory_store.rollups()}
    # GPTBot's User-Agent from the test client's address is not OpenAI's: a spoofed bot.
    assert counts == {
        ("browser", "allow", 2): 3,
        ("browser", "allow", 4): 1,
        ("spoofed-bot", "block", 4): 1,
    }
    (hour,) = {r.hour for r in memory_store.rollups()}
    assert hour % 3600 == 0


async def test_a_known_agent_fetching_robots_txt_is_evidence_linked_to_the_version(
    guarded: Callable[..., NoAIGuardMiddleware], memory_store: MemoryEventStore
) -> None:
    middleware = guarded()
    async with client(middleware) as http:
        robots = await http.get("/robots.txt", headers={"user-agent": GPTBOT_UA})
        await http.get("/robots.txt")  # a browser: counted, no event
        await http.get("/img/a.png", headers={"user-agent": GPTBOT_UA})
    middleware.guard.close()
    fetch, block = memory_store.query()
    (version,) = memory_store.robots_versions()
    assert version.body.encode() == robots.content
    assert version.version == hashlib.sha256(robots.content).hexdigest()
    assert (fetch.kind, fetch.agent, fetch.status, fetch.robots_version) == (
        "robots.txt",
        "GPTBot",
        200,
        version.version,
    )
    assert fetch.x_robots_tag == SIGNALS
    # What the agent did after reading the rules carries the same version: the evidence chain.
    assert (block.kind, block.action, block.robots_version) == ("request", "block", version.version)


async def test_a_scraper_that_follows_every_link_walks_into_the_trap(
    guarded: Callable[..., NoAIGuardMiddleware], memory_store: MemoryEventStore
) -> None:
    middleware = guarded()
    async with client(middleware) as http:
        page = (await http.get("/")).text
        robots = (await http.get("/robots.txt")).text
        links = re.findall(r"(?:href|src)=[\"']([^\"']+)", page)
        statuses = {link: (await http.get(link)).status_code for link in links}
        after = await http.get("/")
    assert "Disallow: /all-originals/" in robots  # crawlers that read robots.txt stay out
    assert statuses == {"/img/a.png": 200, "/all-originals/": 403}
    assert after.status_code == 403  # the penalty box: the rest of the site is closed to it
    (event, *_) = recorded(middleware, memory_store)
    assert event.path == "/all-originals/" and event.rule == "behaviour.trap"


async def test_behind_a_trusted_proxy_each_forwarded_client_is_judged_on_its_own(
    guarded: Callable[..., NoAIGuardMiddleware],
) -> None:
    middleware = guarded(config="network:\n  trusted_proxies: [127.0.0.1]\n")
    downloader = {"user-agent": BROWSER_UA, "x-forwarded-for": "203.0.113.9"}
    visitor = {"user-agent": BROWSER_UA, "x-forwarded-for": "203.0.113.10"}
    async with client(middleware) as http:
        statuses = [
            (await http.get("/img/a.png", headers=downloader)).status_code for _ in range(70)
        ]
        other = await http.get("/img/a.png", headers=visitor)
    assert statuses[:59] == [200] * 59 and statuses[-1] == 403  # images, no pages: blocked
    assert other.status_code == 200  # the proxy's address is not the one judged
