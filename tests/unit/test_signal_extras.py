"""The TDMRep meta form, the opt-in extras (noml, noarchive, per-crawler lines, nopin) and the
per-path switches: each read back from what is emitted, and checked against the other signals
for the same path so that no two of them disagree."""

from __future__ import annotations

import json
import logging
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import http_sf
import httpx
import pytest
from protego import Protego
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from werkzeug.test import Client

from noaiguard import (
    ConfigError,
    Guard,
    NoAIGuardMiddleware,
    NoAIGuardWSGI,
    load_config,
    parse_config,
)
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.cli import main
from noaiguard.config import config_warnings
from noaiguard.signals.html import HeadInjector, HeadTags, usual_head_end

from ..conftest import BROWSER_UA

pytestmark = pytest.mark.anyio

PAGE = "<!doctype html><html><head><title>Work</title></head><body><p>hi</p></body></html>"
OWN_META = (
    '<!doctype html><html><head><meta name="robots" content="noindex">'
    '<meta name="tdm-reservation" content="0"><meta name="pinterest" content="nopin">'
    "<title>Own</title></head><body></body></html>"
)
ARTIST = """
signals:
  tdmrep:
    html_meta: true
    policy_url: https://example.org/tdm.json
    rules:
      - location: /press/
        reservation: false
  extras:
    noml: true
    noarchive: true
    agent_lines: [img2dataset, GPTBot]
    nopin: true
"""


class Metas(HTMLParser):
    """Every ``<meta name content>`` of a page, in order (a real HTML parser reads them)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.metas: list[tuple[str, str]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "meta" and values.get("name"):
            self.metas.append((str(values["name"]).lower(), values.get("content") or ""))

    def named(self, name: str) -> list[str]:
        return [content for meta, content in self.metas if meta == name]


def site() -> Starlette:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def own(request: Request) -> Response:
        return HTMLResponse(OWN_META, headers={"x-robots-tag": "gptbot: noindex"})

    return Starlette(routes=[Route("/own", own), Route("/{path:path}", page)])


def guarded(yaml: str) -> NoAIGuardMiddleware:
    return NoAIGuardMiddleware(site(), guard=Guard(parse_config(yaml), store=MemoryEventStore()))


async def get(middleware: NoAIGuardMiddleware, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://site.example") as http:
        return await http.get(path, headers={"user-agent": BROWSER_UA})


def tdmrep_for(rules: list[dict[str, object]], path: str) -> dict[str, object]:
    """The first tdmrep.json rule whose location is a prefix of ``path`` (no wildcards here)."""
    return next(rule for rule in rules if path.startswith(str(rule["location"])))


def robots_usage_for(robots: str, path: str) -> str:
    """The ``*`` group's Content-Usage for ``path``: the longest matching path wins, a line
    without a path covers the whole group (draft-ietf-aipref-attach)."""
    best, best_length = "", -1
    in_star = False
    for line in robots.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            in_star = value == "*"
        elif key == "content-usage" and in_star:
            location, _, rest = value.partition(" ")
            if not location.startswith("/"):
                location, rest = "", value
            if path.startswith(location) and len(location) > best_length:
                best, best_length = rest.strip(), len(location)
    return best


def usage(value: str) -> dict[str, str]:
    parsed = http_sf.parse(value.encode(), tltype="dictionary")
    return {key: str(item) for key, (item, _) in parsed.items()}


# -- TDMRep in HTML ----------------------------------------------------------------------------


async def test_tdm_meta_says_what_the_header_and_the_file_say_for_each_path() -> None:
    middleware = guarded(ARTIST)
    rules = json.loads((await get(middleware, "/.well-known/tdmrep.json")).text)
    for path in ("/gallery/", "/press/kit", "/"):
        response = await get(middleware, path)
        metas = Metas(response.text)
        rule = tdmrep_for(rules, path)
        assert metas.named("tdm-reservation") == [str(rule["tdm-reservation"])], path
        assert response.headers["tdm-reservation"] == str(rule["tdm-reservation"]), path
        if "tdm-policy" in rule:
            assert metas.named("tdm-policy") == [rule["tdm-policy"]]
            assert response.headers["tdm-policy"] == rule["tdm-policy"]
        else:
            assert metas.named("tdm-policy") == [] and "tdm-policy" not in response.headers
        assert int(response.headers["content-length"]) == len(response.content)


async def test_tdm_meta_is_off_by_default() -> None:
    response = await get(guarded(""), "/gallery/")
    assert Metas(response.text).named("tdm-reservation") == []
    assert response.headers["tdm-reservation"] == "1"  # the header is on


async def test_a_pages_own_metas_are_never_doubled() -> None:
    response = await get(guarded(ARTIST), "/own")
    metas = Metas(response.text)
    assert metas.named("tdm-reservation") == ["0"]  # the page's own, not a second one
    assert metas.named("pinterest") == ["nopin"]
    assert metas.named("robots") == ["noindex, noai, noimageai, noml, noarchive"]
    assert int(response.headers["content-length"]) == len(response.content)


def test_the_fast_path_leaves_pages_with_those_metas_to_the_scan() -> None:
    tags = HeadTags(("noai",), (("tdm-reservation", "1"),))
    page = b'<html><head><meta name="tdm-reservation" content="0"></head><body></body></html>'
    assert usual_head_end(page, 16384, True) is not None  # robots alone: nothing to merge with
    assert usual_head_end(page, 16384, True, tags.names) is None
    injector = HeadInjector(tags)
    out = injector.feed(page) + injector.finish()
    assert Metas(out.decode()).named("tdm-reservation") == ["0"]
    assert injector.delta == len(out) - len(page)


def test_injected_tags_are_the_same_whatever_the_chunking() -> None:
    tags = HeadTags(("noai", "noimageai"), (("tdm-reservation", "1"), ("pinterest", "nopin")))
    for page in (PAGE.encode(), OWN_META.encode()):
        whole = HeadInjector(tags)
        expected = whole.feed(page) + whole.finish()
        for size in (1, 3, 17):
            injector = HeadInjector(tags)
            out = b"".join(injector.feed(page[i : i + size]) for i in range(0, len(page), size))
            assert out + injector.finish() == expected


# -- the extras ----------------------------------------------------------------------------------


async def test_extras_are_off_by_default() -> None:
    response = await get(guarded(""), "/gallery/")
    assert response.headers.get_list("x-robots-tag") == ["noai, noimageai"]
    metas = Metas(response.text)
    assert metas.named("robots") == ["noai, noimageai"]
    assert metas.named("pinterest") == []


async def test_each_extra_is_one_line_and_reaches_header_and_meta() -> None:
    response = await get(guarded(ARTIST), "/gallery/")
    lines = response.headers.get_list("x-robots-tag")
    assert lines == [
        "noai, noimageai, noml, noarchive",
        "img2dataset: noai, noimageai, noml, noarchive",
        "GPTBot: noai, noimageai, noml, noarchive",
    ]
    metas = Metas(response.text)
    assert metas.named("robots") == ["noai, noimageai, noml, noarchive"]
    assert metas.named("pinterest") == ["nopin"]


async def test_an_apps_own_line_for_a_crawler_is_kept_not_doubled() -> None:
    response = await get(guarded(ARTIST), "/own")
    lines = response.headers.get_list("x-robots-tag")
    assert "gptbot: noindex" in lines
    assert not any(line.lower().startswith("gptbot: noai") for line in lines)
    assert "img2dataset: noai, noimageai, noml, noarchive" in lines


async def test_per_crawler_lines_follow_the_paths_directives() -> None:
    middleware = guarded(
        "signals:\n  x_robots_tag:\n    rules:\n      - paths: ['/open/**']\n"
        "        directives: [noimageai]\n  extras:\n    agent_lines: [img2dataset]\n"
    )
    response = await get(middleware, "/open/a")
    assert response.headers.get_list("x-robots-tag") == ["noimageai", "img2dataset: noimageai"]


def test_noarchive_warns_of_its_cost(caplog: pytest.LogCaptureFixture) -> None:
    config = parse_config("signals:\n  extras:\n    noarchive: true\n", "site.yaml")
    (warning,) = config_warnings(config)
    assert warning.startswith("site.yaml: signals.extras.noarchive") and "Bing" in warning
    with caplog.at_level(logging.WARNING, "noaiguard"):
        Guard(config, store=MemoryEventStore())
    assert "signals.extras.noarchive" in caplog.text
    assert config_warnings(parse_config("")) == []


def test_check_config_prints_the_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("signals:\n  extras:\n    noarchive: true\n")
    assert main(["check-config", str(path)]) == 0
    assert "warning: " in capsys.readouterr().err


def test_a_bad_crawler_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"signals\.extras\.agent_lines"):
        parse_config("signals:\n  extras:\n    agent_lines: ['GPT Bot']\n")


# -- per path ------------------------------------------------------------------------------------


async def test_content_usage_header_can_be_switched_off_for_paths() -> None:
    middleware = guarded("signals:\n  content_usage:\n    exclude_paths: ['/api/**']\n")
    assert "content-usage" not in (await get(middleware, "/api/items")).headers
    assert usage((await get(middleware, "/gallery/")).headers["content-usage"]) == {
        "train-ai": "n",
        "search": "y",
    }


async def test_a_path_opened_in_tdmrep_gets_no_train_ai_anywhere() -> None:
    middleware = guarded(ARTIST)
    robots = (await get(middleware, "/robots.txt")).text
    assert "Content-Usage: /press/ search=y" in robots
    rules = json.loads((await get(middleware, "/.well-known/tdmrep.json")).text)
    for path in ("/press/kit", "/gallery/a"):
        response = await get(middleware, path)
        header = usage(response.headers["content-usage"])
        assert header == usage(robots_usage_for(robots, path)), path
        reserved = tdmrep_for(rules, path)["tdm-reservation"] == 1
        assert ("train-ai" in header) == reserved, path
        if reserved:
            assert header["train-ai"] == "n"
    ai_txt = (await get(middleware, "/ai.txt")).text
    assert "Allow: /press/" in ai_txt.splitlines() and "Disallow: /" in ai_txt.splitlines()
    # Every group carries both lines (a crawler's own group replaces `*` entirely).
    groups = robots.count("Content-Usage: train-ai=n, search=y")
    assert groups > 1 and robots.count("Content-Usage: /press/ search=y") == groups


async def test_the_meta_is_switched_off_for_excluded_paths() -> None:
    middleware = guarded(ARTIST + "  html_meta:\n    exclude_paths: ['/embed/**']\n")
    response = await get(middleware, "/embed/x")
    assert Metas(response.text).metas == []
    assert response.text == PAGE


def test_wsgi_sends_each_crawler_line_on_its_own_and_tags_the_page() -> None:
    def app(environ: dict[str, object], start_response: Any) -> list[bytes]:
        body = PAGE.encode()
        start_response(
            "200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))]
        )
        return [body]

    wrapped = NoAIGuardWSGI(app, guard=Guard(parse_config(ARTIST), store=MemoryEventStore()))
    response = Client(wrapped).get("/press/kit", headers={"User-Agent": BROWSER_UA})
    assert response.headers.getlist("X-Robots-Tag") == [
        "noai, noimageai, noml, noarchive",
        "img2dataset: noai, noimageai, noml, noarchive",
        "GPTBot: noai, noimageai, noml, noarchive",
    ]
    metas = Metas(response.get_data(as_text=True))
    assert metas.named("tdm-reservation") == ["0"] == [response.headers["tdm-reservation"]]
    assert metas.named("pinterest") == ["nopin"]
    assert int(response.headers["Content-Length"]) == len(response.get_data())


async def test_portfolio_config_every_signal_agrees_on_each_path() -> None:
    config = load_config(Path(__file__).parents[2] / "configs" / "portfolio.yaml")
    middleware = NoAIGuardMiddleware(site(), guard=Guard(config, store=MemoryEventStore()))
    robots = (await get(middleware, "/robots.txt")).text
    parser = Protego.parse(robots)
    rules = json.loads((await get(middleware, "/.well-known/tdmrep.json")).text)

    press = await get(middleware, "/press/kit")
    assert "x-robots-tag" not in press.headers
    assert Metas(press.text).metas == []
    assert (
        press.headers["tdm-reservation"]
        == "0"
        == str(tdmrep_for(rules, "/press/kit")["tdm-reservation"])
    )
    assert "train-ai" not in usage(press.headers["content-usage"])
    assert parser.can_fetch("https://site.example/press/kit", "GPTBot")

    gallery = await get(middleware, "/gallery/")
    lines = gallery.headers.get_list("x-robots-tag")
    assert lines == ["noai, noimageai, noml", "img2dataset: noai, noimageai, noml"]
    metas = Metas(gallery.text)
    assert metas.named("robots") == ["noai, noimageai, noml"]
    assert metas.named("tdm-reservation") == ["1"] == [gallery.headers["tdm-reservation"]]
    assert metas.named("pinterest") == ["nopin"]
    assert usage(gallery.headers["content-usage"])["train-ai"] == "n"
    assert not parser.can_fetch("https://site.example/gallery/", "GPTBot")
    assert "Content-Signal: search=yes, ai-train=no" in robots  # assistants are only logged
