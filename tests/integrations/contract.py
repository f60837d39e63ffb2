"""What every framework integration must do, checked the same way for each.

Each framework's test app serves the same small site (:data:`PAGE`, :data:`IMAGES`, its own
:data:`ROBOTS`, a ``/verdict`` endpoint that shows the decision the view was given and a
streamed page at ``/stream``); each test adapts its framework's client to :data:`Fetch` and calls
:func:`check_site`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from noaiguard.backends import open_event_store
from noaiguard.demo.images import ARTWORKS, render
from noaiguard.events import Event
from noaiguard.guard import Guard

from ..conftest import BROWSER_UA, GPTBOT_UA

PAGE = (
    b"<!doctype html><html><head><title>Gallery</title></head><body>"
    + b"".join(f'<img src="/img/{name}.png">'.encode() for name in ARTWORKS)
    + b"</body></html>"
)
STREAMED_PARTS = (
    b"<!doctype html><html><head>",
    b"<title>Streamed</title></head>",
    b"<body>ok</body></html>",
)
IMAGES = {name: render(name, 60, 40) for name in ARTWORKS}
IMAGE = next(iter(IMAGES))
ROBOTS = b"User-agent: *\nDisallow: /drafts/\n"
META = b'<meta name="robots" content="noai, noimageai">'
#: The hidden trap link the default config puts before ``</body>`` of a whole page.
TRAP_LINK = re.compile(rb'<a href="[^"]+" rel="nofollow" style="display:none"[^>]*>originals</a>')


def tagged(page: bytes) -> bytes:
    """``page`` as noaiguard serves it (without the trap link: see :func:`untrapped`)."""
    return page.replace(b"<head>", b"<head>" + META, 1)


def untrapped(body: bytes) -> bytes:
    """``body`` without the trap link, which is there when a page came in one piece."""
    return TRAP_LINK.sub(b"", body)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


Fetch = Callable[[str, str], Reply]  # (path, User-Agent) -> reply


def recorded(url: str, guard: Guard | None = None) -> list[Event]:
    """The events in the store at ``url``, once ``guard`` (if given) has written its queue."""
    if guard is not None:
        assert guard.sink.flush()
    store = open_event_store(url)
    try:
        return list(store.query())
    finally:
        store.close()


def check_site(fetch: Fetch, events: Callable[[], list[Event]]) -> None:
    """Signals on every response, the AI crawler refused, the browser served, robots.txt merged,
    the refusal recorded."""
    page = fetch("/", BROWSER_UA)
    assert page.status == 200
    assert "noai" in page.headers["x-robots-tag"]
    assert untrapped(page.body) == tagged(PAGE)
    if "content-length" in page.headers:
        assert int(page.headers["content-length"]) == len(page.body)

    streamed = fetch("/stream", BROWSER_UA)
    assert streamed.status == 200
    assert untrapped(streamed.body) == tagged(b"".join(STREAMED_PARTS))

    image = fetch(f"/img/{IMAGE}.png", BROWSER_UA)
    assert image.status == 200
    assert image.body == IMAGES[IMAGE]
    assert image.headers["x-robots-tag"] == "noai, noimageai"
    assert image.headers["tdm-reservation"] == "1"
    assert image.headers["content-usage"] == "train-ai=n, search=y"

    verdict = fetch("/verdict", BROWSER_UA)
    assert "noai" in verdict.headers["x-robots-tag"]
    assert json.loads(verdict.body) == {"category": "browser", "action": "allow"}

    refused = fetch(f"/img/{IMAGE}.png", GPTBOT_UA)
    assert refused.status == 403
    assert IMAGES[IMAGE] not in refused.body
    assert "noai" in refused.headers["x-robots-tag"]
    assert refused.headers["tdm-reservation"] == "1"

    robots = fetch("/robots.txt", BROWSER_UA)
    assert robots.status == 200
    assert robots.headers["content-type"].startswith("text/plain")
    text = robots.body.decode()
    assert "User-agent: GPTBot" in text
    assert "Disallow: /drafts/" in text  # the site's own rule, kept

    tdm = fetch("/.well-known/tdmrep.json", GPTBOT_UA)  # the opt-out is readable by everyone
    assert tdm.status == 200
    assert tdm.headers["content-type"] == "application/json"
    assert json.loads(tdm.body)[-1] == {"location": "/", "tdm-reservation": 1}
    ai_txt = fetch("/ai.txt", BROWSER_UA)
    assert ai_txt.status == 200
    assert ai_txt.body.decode().endswith("Disallow: /\n")

    blocked = [e for e in events() if e.agent == "GPTBot" and e.action == "block"]
    assert [(e.path, e.status) for e in blocked] == [(f"/img/{IMAGE}.png", 403)]
