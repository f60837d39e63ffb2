"""tdm-reservation, tdm-policy and Content-Usage on responses: what /.well-known/tdmrep.json and
robots.txt say for the path, on pages, refusals and noaiguard's own files; an app's own kept."""

from __future__ import annotations

import http_sf
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from noaiguard import Guard, NoAIGuardMiddleware, parse_config
from noaiguard.backends.memory import MemoryEventStore

from ..conftest import BROWSER_UA, GPTBOT_UA

pytestmark = pytest.mark.anyio


def app() -> Starlette:
    async def page(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def own(request: Request) -> Response:
        return PlainTextResponse("ok", headers={"content-usage": "train-ai=y"})

    return Starlette(routes=[Route("/own/usage", own), Route("/{path:path}", page)])


async def get(middleware: NoAIGuardMiddleware, path: str, ua: str = BROWSER_UA) -> httpx.Response:
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://site.example") as http:
        return await http.get(path, headers={"user-agent": ua})


def guarded(yaml: str = "") -> NoAIGuardMiddleware:
    return NoAIGuardMiddleware(app(), guard=Guard(parse_config(yaml), store=MemoryEventStore()))


async def test_every_response_says_what_the_files_say() -> None:
    middleware = guarded()
    for path, ua in (("/gallery/a.png", BROWSER_UA), ("/a.png", GPTBOT_UA), ("/robots.txt", "x")):
        response = await get(middleware, path, ua)
        assert response.headers["tdm-reservation"] == "1", path
        usage = http_sf.parse(response.headers["content-usage"].encode(), tltype="dictionary")
        assert {k: str(v) for k, (v, _) in usage.items()} == {"train-ai": "n", "search": "y"}
    tdm = await get(middleware, "/.well-known/tdmrep.json")
    assert tdm.headers["tdm-reservation"] == "1"


async def test_per_path_rules_follow_the_file_first_match_wins() -> None:
    middleware = guarded(
        "signals:\n  tdmrep:\n    policy_url: https://example.org/tdm.json\n    rules:\n"
        "      - location: /press/\n        reservation: false\n"
    )
    press = await get(middleware, "/press/kit.zip")
    other = await get(middleware, "/gallery/a.png")
    assert press.headers["tdm-reservation"] == "0"
    assert "tdm-policy" not in press.headers  # never with reservation 0
    assert other.headers["tdm-reservation"] == "1"
    assert other.headers["tdm-policy"] == "https://example.org/tdm.json"


async def test_the_apps_own_usage_header_is_kept_not_doubled() -> None:
    response = await get(guarded(), "/own/usage")
    assert response.headers.get_list("content-usage") == ["train-ai=y"]
    assert response.headers["tdm-reservation"] == "1"


async def test_each_header_can_be_switched_off() -> None:
    middleware = guarded(
        "signals:\n  tdmrep:\n    header: false\n  content_usage:\n    header: false\n"
    )
    response = await get(middleware, "/a.png")
    assert "tdm-reservation" not in response.headers
    assert "content-usage" not in response.headers
    robots = (await get(middleware, "/robots.txt")).text
    assert "Content-Usage: train-ai=n, search=y" in robots  # the robots.txt line stays


async def test_nothing_is_said_when_training_is_allowed() -> None:
    response = await get(guarded("policy:\n  categories:\n    ai-training: allow\n"), "/a.png")
    assert "tdm-reservation" not in response.headers
    assert response.headers["content-usage"] == "search=y"
