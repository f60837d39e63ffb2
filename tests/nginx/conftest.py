"""Fixtures: Debian's nginx serving a small static site from the deploy/nginx files, with
``noaiguard serve-auth`` (or ``noaiguard proxy``) as real processes and a real SQLite store.

Without nginx these tests are skipped with the reason, except under ``CI=true``, where .ci/run
installs it and a missing nginx is a failure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from noaiguard.backends import open_event_store
from noaiguard.events import Event
from tests.nginx.servers import auth_site, find_nginx, nginx_command, serve_auth_command
from tests.proxy.test_memory import free_port, process

#: The page and image the site serves, byte for byte.
PAGE = (
    b"<!doctype html>\n<html><head><title>Atelier</title></head>"
    b'<body><h1>Works</h1><img src="/gallery/dawn.jpg"></body></html>\n'
)
IMAGE = bytes(range(256)) * 64 + b"\xff\xd9"
#: The site's own robots.txt, which noaiguard's must keep.
SITE_ROBOTS = b"User-agent: *\nDisallow: /drafts/\n"
#: CCBot is held in the tarpit this long, then refused (GPTBot and img2dataset are refused).
TARPIT_SECONDS = 0.6


def config_text(store: Path) -> str:
    """serve-auth's config: nginx on 127.0.0.1 trusted, CCBot tarpitted, events in ``store``."""
    return f"""
network:
  trusted_proxies: [127.0.0.1]
agents:
  verify_rdns: false
policy:
  agents: {{CCBot: tarpit}}
  tarpit: {{seconds: {TARPIT_SECONDS}}}
store:
  url: sqlite:///{store}
  flush_seconds: 0.1
"""


def nginx_or_skip() -> str:
    nginx = find_nginx()
    if nginx is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is not installed, and CI must test deploy/nginx: see .ci/run")
        pytest.skip("nginx is not installed (apt-get install nginx): deploy/nginx is untested")
    return nginx


def write_site(root: Path) -> Path:
    (root / "gallery").mkdir(parents=True)
    (root / "index.html").write_bytes(PAGE)
    (root / "gallery" / "dawn.jpg").write_bytes(IMAGE)
    (root / "robots.txt").write_bytes(SITE_ROBOTS)
    return root


@dataclass
class Stack:
    """nginx on ``url`` asking serve-auth; events in the SQLite store at ``store``."""

    url: str
    auth_url: str
    store: str

    def events(self, until: Callable[[list[Event]], bool], timeout: float = 10) -> list[Event]:
        """The stored events, once ``until`` holds for them (they are written every 0.1 s)."""
        deadline = time.monotonic() + timeout
        while True:
            store = open_event_store(self.store)
            try:
                events = list(store.query())
            finally:
                store.close()
            if until(events) or time.monotonic() > deadline:
                return events
            time.sleep(0.1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    nginx = nginx_or_skip()
    tmp = tmp_path_factory.mktemp("nginx-auth")
    site = write_site(tmp / "site")
    store = f"sqlite:///{tmp / 'events.db'}"
    config = tmp / "noaiguard.yaml"
    config.write_text(config_text(tmp / "events.db"))
    port, auth_port = free_port(), free_port()
    auth = serve_auth_command(config, auth_port, "--site-robots", str(site / "robots.txt"))
    with ExitStack() as running:
        running.enter_context(process(auth, auth_port, tmp / "serve-auth.log"))
        sites = {"site.conf": auth_site(port, site, auth_port)}
        running.enter_context(
            process(nginx_command(tmp / "nginx", sites, nginx=nginx), port, tmp / "nginx.log")
        )
        yield Stack(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{auth_port}", store)
