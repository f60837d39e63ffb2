"""Django: the MIDDLEWARE entry under the sync test client (WSGI handler), the async client (ASGI
handler) and a real uvicorn server; the system checks by id; ``manage.py noaiguard_report``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import AsyncClient, Client

from noaiguard.errors import ConfigError
from noaiguard.events import Event
from noaiguard.guard import Guard
from noaiguard.integrations.django.conf import get_guard

from ..conftest import BROWSER_UA, GPTBOT_UA
from .contract import (
    IMAGE,
    IMAGES,
    META,
    PAGE,
    STREAMED_PARTS,
    Reply,
    check_site,
    recorded,
    tagged,
    untrapped,
)
from .djangoproject import views
from .servers import http_fetch, uvicorn_thread

MIDDLEWARE = "noaiguard.integrations.django.NoAIGuardMiddleware"


class Site:
    """The Django project with a store of its own: its guard and what it recorded."""

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def guard(self) -> Guard:
        return get_guard()

    def events(self) -> list[Event]:
        return recorded(self.url, self.guard)


@pytest.fixture
def site(settings: object, tmp_path: Path) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path}/events.db"
    settings.NOAIGUARD = {"store": {"url": url}, "agents": {"verify": False}}  # type: ignore[attr-defined]
    yield Site(url)
    get_guard().close()


def sync_fetch(client: Client) -> Callable[[str, str], Reply]:
    def fetch(path: str, user_agent: str) -> Reply:
        response = client.get(path, headers={"user-agent": user_agent})
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return Reply(response.status_code, _headers(response), body)

    return fetch


def async_fetch(client: AsyncClient) -> Callable[[str, str], Reply]:
    async def get(path: str, user_agent: str) -> Reply:
        response = await client.get(path, headers={"user-agent": user_agent})
        if response.streaming and response.is_async:
            body = b"".join([chunk async for chunk in response.streaming_content])
        elif response.streaming:
            body = b"".join(response.streaming_content)
        else:
            body = response.content
        return Reply(response.status_code, _headers(response), body)

    return async_to_sync(get)


def _headers(response: object) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}  # type: ignore[attr-defined]


# -- the contract, three ways -------------------------------------------------------------


def test_sync_client_meets_the_contract(site: Site) -> None:
    check_site(sync_fetch(Client()), site.events)


def test_async_client_meets_the_contract(site: Site) -> None:
    check_site(async_fetch(AsyncClient()), site.events)


# Django's own warning for a FileResponse under ASGI (it reads files with a sync iterator).
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_asgi_application_under_uvicorn_meets_the_contract(site: Site) -> None:
    from .djangoproject.asgi import application

    with uvicorn_thread(application, lifespan="off") as base, httpx.Client(base_url=base) as http:
        check_site(http_fetch(http), site.events)


# -- Django specifics ---------------------------------------------------------------------


@pytest.mark.parametrize("fetch_with", [sync_fetch, async_fetch], ids=["sync", "async"])
def test_refused_request_never_reaches_the_view(site: Site, fetch_with: Callable) -> None:
    fetch = fetch_with(Client() if fetch_with is sync_fetch else AsyncClient())
    before = views.calls.get("image", 0)
    assert fetch(f"/img/{IMAGE}.png", GPTBOT_UA).status == 403
    assert views.calls.get("image", 0) == before
    assert fetch(f"/img/{IMAGE}.png", BROWSER_UA).body == IMAGES[IMAGE]
    assert views.calls["image"] == before + 1


@pytest.mark.parametrize("fetch_with", [sync_fetch, async_fetch], ids=["sync", "async"])
def test_exempt_views_are_left_alone(site: Site, fetch_with: Callable) -> None:
    fetch = fetch_with(Client() if fetch_with is sync_fetch else AsyncClient())
    health = fetch("/health", GPTBOT_UA)  # a function view
    assert (health.status, health.body) == (200, b"ok")
    assert "x-robots-tag" not in health.headers
    hook = fetch("/hook", GPTBOT_UA)  # a class-based view, the class decorated
    assert hook.status == 200
    assert hook.body == b"<html><head></head></html>"  # no tag either
    assert "x-robots-tag" not in hook.headers
    assert [e for e in site.events() if e.path in ("/health", "/hook")] == []


def test_file_response_page_is_tagged_with_the_right_length(site: Site) -> None:
    for fetch in (sync_fetch(Client()), async_fetch(AsyncClient())):
        reply = fetch("/file.html", BROWSER_UA)
        assert untrapped(reply.body) == tagged(PAGE)
        assert int(reply.headers["content-length"]) == len(reply.body)


def test_async_stream_is_tagged_under_asgi(site: Site) -> None:
    reply = async_fetch(AsyncClient())("/astream", BROWSER_UA)
    assert untrapped(reply.body) == tagged(b"".join(STREAMED_PARTS))


def test_async_view_sees_the_verdict(site: Site) -> None:
    reply = async_fetch(AsyncClient())("/async-verdict", GPTBOT_UA.replace("GPTBot", "Bytespider"))
    assert reply.status == 403  # refused before the view
    reply = async_fetch(AsyncClient())("/async-verdict", BROWSER_UA)
    assert json.loads(reply.body) == {"category": "browser", "action": "allow"}


def test_compression_above_noaiguard_still_gets_the_tag(site: Site) -> None:
    response = Client().get("/", headers={"user-agent": BROWSER_UA, "accept-encoding": "gzip"})
    assert response["Content-Encoding"] == "gzip"
    import gzip

    assert META in gzip.decompress(response.content)


def test_robots_txt_merges_the_view_and_caches_it(site: Site) -> None:
    client = Client()
    before = views.calls.get("robots", 0)
    first = client.get("/robots.txt", headers={"if-none-match": '"x"'}).content.decode()
    second = client.get("/robots.txt").content.decode()
    assert first == second
    assert "Disallow: /drafts/" in first
    assert "User-agent: GPTBot" in first
    assert views.calls["robots"] == before + 1  # read once, then from the cache


def test_tarpit_is_a_block_under_wsgi_and_a_hold_under_asgi(
    settings: object, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/events.db"
    settings.NOAIGUARD = {  # type: ignore[attr-defined]
        "store": {"url": url},
        "agents": {"verify": False},
        "policy": {"agents": {"GPTBot": "tarpit"}, "tarpit": {"seconds": 0.3}},
    }
    sync, asynchronous = sync_fetch(Client()), async_fetch(AsyncClient())
    sync("/", BROWSER_UA)  # the guard is made on the first request
    asynchronous("/", BROWSER_UA)
    started = time.monotonic()
    assert sync("/", GPTBOT_UA).status == 403
    assert time.monotonic() - started < 0.3  # a WSGI thread is never held
    started = time.monotonic()
    assert asynchronous("/", GPTBOT_UA).status == 403
    held_for = time.monotonic() - started
    guard = get_guard()
    events = recorded(url, guard)
    guard.close()
    assert [e.action for e in events if e.agent == "GPTBot"] == ["block", "tarpit"], events
    assert held_for >= 0.3
    assert "tarpit answered at once" in events[0].reasons[-1]


# -- configuration and system checks ------------------------------------------------------


def _check_ids() -> list[str]:
    return [message.id for message in run_checks(tags=["noaiguard"])]


def test_a_valid_project_passes_the_checks(site: Site) -> None:
    assert _check_ids() == []


def test_config_file_setting(settings: object, tmp_path: Path) -> None:
    config = tmp_path / "noaiguard.yaml"
    config.write_text(f"store:\n  url: sqlite:///{tmp_path}/e.db\nmode: monitor\n")
    settings.NOAIGUARD = {"config": config}  # type: ignore[attr-defined]
    assert _check_ids() == []
    assert Client().get("/", headers={"user-agent": GPTBOT_UA}).status_code == 200  # monitor
    get_guard().close()


@pytest.mark.parametrize(
    ("value", "ids", "words"),
    [
        ("noaiguard.yaml", ["noaiguard.E001"], "must be a mapping"),
        ({"config": "x.yaml", "mode": "monitor"}, ["noaiguard.E001"], "belong in that file"),
        ({"config": "/nonexistent/noaiguard.yaml"}, ["noaiguard.E002"], "no such file"),
        (
            {"mode": "loud", "policy": {"agents": {"GPTBott": "block"}}},
            ["noaiguard.E003", "noaiguard.E003"],
            "did you mean 'GPTBot'",
        ),
    ],
)
def test_broken_settings_are_reported_by_id(
    settings: object, value: object, ids: list[str], words: str
) -> None:
    settings.NOAIGUARD = value  # type: ignore[attr-defined]
    messages = run_checks(tags=["noaiguard"])
    assert [m.id for m in messages] == ids
    assert words in " ".join(m.msg for m in messages)
    with pytest.raises(ConfigError):
        Client().get("/")  # the middleware refuses to start rather than guard with a bad config


def test_invalid_file_names_file_line_and_key(settings: object, tmp_path: Path) -> None:
    config = tmp_path / "noaiguard.yaml"
    config.write_text("mode: enforce\npolicy:\n  categories:\n    ai-training: explode\n")
    settings.NOAIGUARD = {"config": config}  # type: ignore[attr-defined]
    (message,) = run_checks(tags=["noaiguard"])
    assert message.id == "noaiguard.E003"
    assert f"{config}:4:" in message.msg
    assert "policy.categories.ai-training" in message.msg


def test_manage_py_check_fails_on_a_broken_config(settings: object) -> None:
    settings.NOAIGUARD = {"mode": "loud"}  # type: ignore[attr-defined]
    from django.core.management.base import SystemCheckError

    with pytest.raises(SystemCheckError, match=r"noaiguard\.E003"):
        call_command("check")


def test_middleware_checks(settings: object, site: Site) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]  # type: ignore[attr-defined]
    assert _check_ids() == ["noaiguard.W001"]
    settings.MIDDLEWARE = [MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]  # type: ignore[attr-defined]
    assert _check_ids() == ["noaiguard.W002"]


# -- the management command ---------------------------------------------------------------


def test_noaiguard_report_command(site: Site, tmp_path: Path) -> None:
    client = Client()
    client.get(f"/img/{IMAGE}.png", headers={"user-agent": GPTBOT_UA})
    client.get("/", headers={"user-agent": BROWSER_UA})
    site.events()  # flushed
    out = tmp_path / "report.json"
    call_command("noaiguard_report", "--since", "1d", "--format", "json", "-o", str(out))
    report = json.loads(out.read_text())
    assert report["format"] == "noaiguard-report/1"
    agents = {row["agent"]: row for row in report["agents"]}
    assert agents["GPTBot"]["refused"] == 1


def test_noaiguard_report_command_errors_are_command_errors(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(CommandError, match="not made") as raised:
        call_command("noaiguard_report", "--until", "now")
    assert raised.value.returncode == 2
    assert "--until needs --since" in capsys.readouterr().err


def test_metrics_path_under_sync_and_async(settings: object) -> None:
    settings.NOAIGUARD = {  # type: ignore[attr-defined]
        "store": {"url": "memory:"},
        "agents": {"verify": False},
        "metrics": {"enabled": True, "path": "/metrics", "token": "s3cret-token"},
    }
    assert Client().get("/metrics").status_code == 401
    reply = async_fetch(AsyncClient())("/", GPTBOT_UA)
    assert reply.status == 403
    scrape = Client().get("/metrics", headers={"authorization": "Bearer s3cret-token"})
    assert scrape.status_code == 200
    assert b'noaiguard_requests_total{action="block",category="ai-training"} 1.0' in scrape.content
    get_guard().close()


@pytest.mark.parametrize("client_class", [Client, AsyncClient], ids=["sync", "async"])
def test_robots_txt_served_alone_without_a_view(
    site: Site, settings: object, client_class: type
) -> None:
    settings.ROOT_URLCONF = "tests.integrations.djangoproject.urls_without_robots"  # type: ignore[attr-defined]
    client = client_class()
    get = client.get if client_class is Client else async_to_sync(client.get)
    response = get("/robots.txt")
    text = response.content.decode()
    assert response.status_code == 200
    assert "User-agent: GPTBot" in text
    assert "User-agent: *\nAllow: /" in text  # no site rules: everyone else may crawl
    assert "drafts" not in text
