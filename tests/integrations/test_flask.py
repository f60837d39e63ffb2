"""Flask (WSGI): ``app.wsgi_app = NoAIGuardWSGI(app.wsgi_app, config=...)`` under Flask's test
client and a real threaded HTTP server, with Flask's own static files and a streamed page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flask import Flask, Response, jsonify, request

from noaiguard import Guard, NoAIGuardWSGI, get_decision
from noaiguard.events import Event

from ..conftest import BROWSER_UA, GPTBOT_UA
from .contract import (
    IMAGES,
    PAGE,
    ROBOTS,
    STREAMED_PARTS,
    Reply,
    check_site,
    recorded,
    tagged,
    untrapped,
)
from .servers import http_fetch, wsgi_thread


def create_app(files: Path) -> Flask:
    for name, data in IMAGES.items():
        (files / f"{name}.png").write_bytes(data)
    app = Flask(__name__, static_folder=str(files), static_url_path="/img")

    @app.get("/")
    def page() -> Response:
        return Response(PAGE, mimetype="text/html")

    @app.get("/stream")
    def stream() -> Response:
        def parts() -> Iterator[bytes]:
            yield from STREAMED_PARTS

        return Response(parts(), mimetype="text/html")

    @app.get("/verdict")
    def verdict() -> Response:
        decision = get_decision(request)
        assert decision is not None
        return jsonify(category=str(decision.verdict.category), action=str(decision.action))

    @app.get("/robots.txt")
    def robots() -> Response:
        return Response(ROBOTS, mimetype="text/plain")

    @app.get("/own-tag")
    def own_tag() -> Response:
        return Response("x", headers={"X-Robots-Tag": "noindex"})

    return app


class Site:
    def __init__(self, tmp_path: Path) -> None:
        config = tmp_path / "noaiguard.yaml"
        self.url = f"sqlite:///{tmp_path}/events.db"
        config.write_text(f"store:\n  url: {self.url}\nagents:\n  verify: false\n")
        files = tmp_path / "files"
        files.mkdir()
        self.app = create_app(files)
        self.app.wsgi_app = NoAIGuardWSGI(self.app.wsgi_app, config=config)  # type: ignore[method-assign]
        self.guard: Guard = self.app.wsgi_app.guard  # type: ignore[attr-defined]

    def events(self) -> list[Event]:
        return recorded(self.url, self.guard)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    site = Site(tmp_path)
    yield site
    site.guard.close()


def test_flask_test_client_meets_the_contract(site: Site) -> None:
    client = site.app.test_client()

    def fetch(path: str, user_agent: str) -> Reply:
        with client.get(path, headers={"user-agent": user_agent}) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return Reply(response.status_code, headers, response.get_data())

    check_site(fetch, site.events)


def test_real_wsgi_server_meets_the_contract(site: Site) -> None:
    with wsgi_thread(site.app) as base, httpx.Client(base_url=base) as http:
        check_site(http_fetch(http), site.events)


def test_static_file_keeps_flask_conditional_answers(site: Site) -> None:
    client = site.app.test_client()
    name = next(iter(IMAGES))
    with client.get(f"/img/{name}.png", headers={"user-agent": BROWSER_UA}) as first:
        etag = first.headers["ETag"]
    with client.get(
        f"/img/{name}.png", headers={"user-agent": BROWSER_UA, "if-none-match": etag}
    ) as again:
        assert again.status_code == 304
        assert again.headers["X-Robots-Tag"] == "noai, noimageai"


def test_the_apps_own_tag_is_merged(site: Site) -> None:
    response = site.app.test_client().get("/own-tag", headers={"user-agent": BROWSER_UA})
    assert response.headers.getlist("X-Robots-Tag") == ["noindex, noai, noimageai"]


def test_page_from_a_real_server_is_whole(site: Site) -> None:
    with wsgi_thread(site.app) as base:
        response = httpx.get(base + "/", headers={"user-agent": BROWSER_UA})
    assert untrapped(response.content) == tagged(PAGE)
    assert int(response.headers["content-length"]) == len(response.content)


def test_head_of_a_refused_request_has_no_body(site: Site) -> None:
    response = site.app.test_client().head("/", headers={"user-agent": GPTBOT_UA})
    assert response.status_code == 403
    assert response.get_data() == b""
