"""deploy/nginx/noaiguard-auth.conf for real: nginx serves the files, serve-auth decides."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from noaiguard.events import ROBOTS_FETCH, Event
from tests.conftest import BROWSER_UA, GPTBOT_UA
from tests.nginx.conftest import IMAGE, PAGE, TARPIT_SECONDS, Stack, nginx_or_skip, write_site
from tests.nginx.servers import auth_site, nginx_command
from tests.proxy.test_memory import free_port, process

pytestmark = pytest.mark.server

CCBOT_UA = "CCBot/2.0 (https://commoncrawl.org/faq/)"
IMG2DATASET_UA = "Mozilla/5.0 (compatible; img2dataset; +https://github.com/rom1504/img2dataset)"
GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SIGNALS = {
    "x-robots-tag": "noai, noimageai",
    "content-usage": "train-ai=n, search=y",
    "tdm-reservation": "1",
}


def get(stack: Stack, path: str, user_agent: str, **headers: str) -> httpx.Response:
    return httpx.get(stack.url + path, headers={"user-agent": user_agent, **headers}, timeout=10)


def signals(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in SIGNALS if name in response.headers}


@pytest.mark.parametrize("path", ["/", "/gallery/dawn.jpg"])
@pytest.mark.parametrize("user_agent", [GPTBOT_UA, IMG2DATASET_UA])
def test_ai_crawlers_are_refused_with_the_signals(stack: Stack, path: str, user_agent: str) -> None:
    response = get(stack, path, user_agent)
    assert response.status_code == 403
    assert IMAGE not in response.content
    assert signals(response) == SIGNALS  # nginx adds them to its refusal too ("always")


def test_a_tarpitted_crawler_is_held_then_refused(stack: Stack) -> None:
    started_at = time.monotonic()
    response = get(stack, "/gallery/dawn.jpg", CCBOT_UA)
    assert response.status_code == 403
    assert time.monotonic() - started_at >= TARPIT_SECONDS * 0.9


@pytest.mark.parametrize(("path", "body"), [("/", PAGE), ("/gallery/dawn.jpg", IMAGE)])
def test_a_browser_gets_the_files_byte_for_byte_with_the_signals(
    stack: Stack, path: str, body: bytes
) -> None:
    response = get(stack, path, BROWSER_UA)
    assert response.status_code == 200
    assert response.content == body  # nginx served it: no meta tag in this mode
    assert signals(response) == SIGNALS
    assert response.headers["content-type"] == (
        "image/jpeg" if path.endswith("jpg") else "text/html"
    )


def test_head_queries_and_missing_files_keep_the_signals(stack: Stack) -> None:
    head = httpx.head(
        stack.url + "/gallery/dawn.jpg?size=large", headers={"user-agent": BROWSER_UA}
    )
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(IMAGE))
    assert signals(head) == SIGNALS
    missing = get(stack, "/gallery/missing%20file.jpg", BROWSER_UA)
    assert missing.status_code == 404
    assert signals(missing) == SIGNALS


def test_robots_txt_has_the_ai_groups_and_the_sites_own_rules(stack: Stack) -> None:
    response = get(stack, "/robots.txt", GPTBOT_UA)  # served to every client, crawlers first
    assert response.status_code == 200
    text = response.text
    assert "User-agent: GPTBot\n" in text
    assert "Disallow: /drafts/" in text
    assert response.headers["x-robots-tag"] == "noai, noimageai"
    for path in ("/.well-known/tdmrep.json", "/ai.txt"):
        assert get(stack, path, BROWSER_UA).status_code == 200


def test_a_spoofed_googlebot_is_refused_whatever_forwarded_header_it_sends(stack: Stack) -> None:
    # 127.0.0.1 is not Google's: the default policy blocks the spoofed-bot category. The client's
    # own X-Forwarded-For (one of Google's addresses) is not passed on: nginx sends $remote_addr.
    assert get(stack, "/", GOOGLEBOT_UA).status_code == 403
    assert get(stack, "/", GOOGLEBOT_UA, **{"x-forwarded-for": "66.249.66.1"}).status_code == 403


def test_refusals_and_robots_fetches_are_recorded(stack: Stack) -> None:
    assert get(stack, "/gallery/dawn.jpg?w=2", IMG2DATASET_UA).status_code == 403
    assert get(stack, "/robots.txt", GPTBOT_UA).status_code == 200
    assert get(stack, "/gallery/dawn.jpg", GOOGLEBOT_UA).status_code == 403
    # GPTBot and Googlebot from 127.0.0.1 are spoofs: OpenAI and Google publish their addresses.
    wanted = {
        ("img2dataset", "request", "ai-dataset-tool"),
        ("GPTBot", ROBOTS_FETCH, "ai-training"),
        ("Googlebot", "request", "spoofed-bot"),
    }

    def complete(events: list[Event]) -> bool:
        return wanted <= {(e.agent, e.kind, e.category) for e in events}

    events = stack.events(complete)
    assert complete(events), events
    refusal = next(e for e in events if e.agent == "img2dataset" and e.path == "/gallery/dawn.jpg")
    assert refusal.status == 403
    assert refusal.action == "block"
    assert refusal.client_ip == "127.0.0.0/24"  # nginx's $remote_addr, stored truncated
    assert refusal.x_robots_tag == "noai, noimageai"
    assert refusal.user_agent == IMG2DATASET_UA


def test_without_serve_auth_nginx_serves_the_site_anyway(tmp_path: Path) -> None:
    """serve-auth down: the site stays up (without signals), rather than every request a 500."""
    nginx = nginx_or_skip()
    site = write_site(tmp_path / "site")
    port, nobody = free_port(), free_port()
    command = nginx_command(
        tmp_path / "nginx", {"site.conf": auth_site(port, site, nobody)}, nginx=nginx
    )
    with process(command, port, tmp_path / "nginx.log"):
        response = httpx.get(
            f"http://127.0.0.1:{port}/gallery/dawn.jpg", headers={"user-agent": BROWSER_UA}
        )
        assert response.status_code == 200
        assert response.content == IMAGE
        assert "x-robots-tag" not in response.headers
        robots = httpx.get(f"http://127.0.0.1:{port}/robots.txt")
        assert robots.status_code == 502  # crawlers read a 5xx robots.txt as "disallow all"
