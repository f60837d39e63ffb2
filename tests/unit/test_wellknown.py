"""/.well-known/tdmrep.json and /ai.txt: made from the policy, read back the way their readers
read them, and served by the ASGI middleware before any policy applies."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from protego import Protego
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from noaiguard import ConfigError, Guard, NoAIGuardMiddleware, parse_config

from ..conftest import GPTBOT_UA

TDMREP = "/.well-known/tdmrep.json"


def tdm_reservation(rules: list[dict[str, object]], path: str) -> object:
    """A TDMRep reader: the first rule whose robots.txt-style pattern matches wins."""
    for rule in rules:
        location = str(rule["location"])
        pattern = re.escape(location).replace(r"\*", ".*").replace(r"\$", "$")
        if re.match(pattern, path):
            return rule["tdm-reservation"]
    return None


def test_the_default_reserves_everything() -> None:
    files = Guard().own_files
    rules = json.loads(files[TDMREP].body)
    assert rules == [{"location": "/", "tdm-reservation": 1}]
    assert files[TDMREP].content_type == "application/json"


def test_owner_rules_come_first_and_the_policy_is_named_only_where_reserved() -> None:
    guard = Guard(
        parse_config(
            "signals:\n  tdmrep:\n    policy_url: https://example.org/tdm.json\n    rules:\n"
            "      - location: /press/\n        reservation: false\n"
            "      - location: /gallery/*.png$\n"
        )
    )
    rules = json.loads(guard.own_files[TDMREP].body)
    assert [r["location"] for r in rules] == ["/press/", "/gallery/*.png$", "/"]
    assert "tdm-policy" not in rules[0]  # never with reservation 0
    assert rules[1]["tdm-policy"] == rules[2]["tdm-policy"] == "https://example.org/tdm.json"
    assert tdm_reservation(rules, "/press/kit.zip") == 0
    assert tdm_reservation(rules, "/gallery/a.png") == 1
    assert tdm_reservation(rules, "/about") == 1


def test_ai_txt_disallows_every_file_type() -> None:
    body = Guard().own_files["/ai.txt"].body.decode()
    parser = Protego.parse(body)
    for path in ("/a.jpg", "/art/b.png", "/c.mp4", "/", "/anything"):
        assert not parser.can_fetch(f"https://example.org{path}", "SomeDatasetBot")


def test_nothing_is_said_when_training_is_allowed() -> None:
    guard = Guard(parse_config("policy:\n  categories:\n    ai-training: allow\n"))
    assert guard.own_files == {}


@pytest.mark.parametrize(
    ("yaml", "key"),
    [
        ("signals:\n  tdmrep:\n    policy_url: /relative\n", "signals.tdmrep.policy_url"),
        (
            "signals:\n  tdmrep:\n    rules:\n      - location: press/\n",
            "signals.tdmrep.rules[0].location",
        ),
    ],
)
def test_bad_tdmrep_config_names_the_key(yaml: str, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(yaml)
    assert key in str(raised.value)


@pytest.mark.anyio
async def test_served_before_any_policy_with_the_signals() -> None:
    async def app_page(request: object) -> PlainTextResponse:
        return PlainTextResponse("the app")

    app = Starlette(routes=[Route("/ai.txt", app_page, methods=["GET", "POST"])])
    middleware = NoAIGuardMiddleware(app)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://site.example") as http:
        tdm = await http.get(TDMREP, headers={"user-agent": GPTBOT_UA})  # refused crawlers too
        ai = await http.get("/ai.txt")
        head = await http.head("/ai.txt")
        post = await http.post("/ai.txt")
    assert tdm.status_code == 200
    assert tdm.headers["content-type"] == "application/json"
    assert tdm.headers["x-robots-tag"] == "noai, noimageai"
    assert json.loads(tdm.content)[-1] == {"location": "/", "tdm-reservation": 1}
    assert ai.text.endswith("Disallow: /\n")
    assert int(head.headers["content-length"]) == len(ai.content)
    assert head.content == b""
    assert post.text == "the app"  # only GET and HEAD are noaiguard's
    middleware.guard.close()
