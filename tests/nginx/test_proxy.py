"""deploy/nginx/noaiguard-proxy.conf for real: nginx -> noaiguard proxy -> the site.

The site behind is a plain nginx server block serving the same static files, so the whole chain
is the one a site owner runs, with HTML pages getting the meta tag the auth mode cannot add.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.conftest import BROWSER_UA, GPTBOT_UA
from tests.nginx.conftest import IMAGE, Stack, config_text, nginx_or_skip, write_site
from tests.nginx.servers import nginx_command, proxy_site
from tests.proxy.test_memory import free_port, process

pytestmark = pytest.mark.server

SITE_BLOCK = """
server {{
    listen 127.0.0.1:{port};
    root {root};
}}
"""


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    nginx = nginx_or_skip()
    tmp = tmp_path_factory.mktemp("nginx-proxy")
    site = write_site(tmp / "site")
    config = tmp / "noaiguard.yaml"
    config.write_text(config_text(tmp / "events.db"))
    port, proxy_port, site_port = free_port(), free_port(), free_port()
    proxy = [
        *(sys.executable, "-m", "noaiguard", "proxy", "--config", str(config)),
        *("--port", str(proxy_port), "--upstream", f"http://127.0.0.1:{site_port}"),
    ]
    sites = {
        "site.conf": SITE_BLOCK.format(port=site_port, root=site),
        "front.conf": proxy_site(port, proxy_port),
    }
    with ExitStack() as running:
        running.enter_context(
            process(nginx_command(tmp / "nginx", sites, nginx=nginx), port, tmp / "nginx.log")
        )
        running.enter_context(process(proxy, proxy_port, tmp / "proxy.log"))
        yield Stack(f"http://127.0.0.1:{port}", "", f"sqlite:///{tmp / 'events.db'}")


def test_a_browser_gets_the_page_with_the_meta_tag_and_the_image_with_the_header(
    chain: Stack,
) -> None:
    page = httpx.get(chain.url + "/", headers={"user-agent": BROWSER_UA})
    assert page.status_code == 200
    assert b'<meta name="robots" content="noai, noimageai">' in page.content
    assert page.headers["x-robots-tag"] == "noai, noimageai"
    image = httpx.get(chain.url + "/gallery/dawn.jpg", headers={"user-agent": BROWSER_UA})
    assert image.content == IMAGE
    assert image.headers["x-robots-tag"] == "noai, noimageai"


def test_an_ai_crawler_is_refused_and_recorded_with_the_address_nginx_saw(chain: Stack) -> None:
    response = httpx.get(chain.url + "/gallery/dawn.jpg", headers={"user-agent": GPTBOT_UA})
    assert response.status_code == 403
    events = chain.events(lambda events: any(e.agent == "GPTBot" for e in events))
    (event,) = [e for e in events if e.agent == "GPTBot"]
    assert event.client_ip == "127.0.0.0/24"
