"""Fixtures: the real upstream site under uvicorn, and the real proxy in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from noaiguard import Guard, parse_config
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.events import Event
from noaiguard.middleware import NoAIGuardMiddleware
from noaiguard.proxy import create_proxy_app
from noaiguard.serve import server_options
from tests.conftest import live_server
from tests.proxy.site import SiteState, create_site

DOWNLOAD = bytes(range(256)) * 4096  # 1 MiB, for ranges


@dataclass
class Site:
    url: str
    state: SiteState


@dataclass
class Proxy:
    url: str
    store: MemoryEventStore
    app: object

    def guard(self) -> Guard:
        layer = self.app
        while not isinstance(layer, NoAIGuardMiddleware):
            layer = layer.app  # type: ignore[attr-defined]
        return layer.guard

    def events(self) -> list[Event]:
        assert self.guard().sink.flush(5)
        return list(self.store.query())


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    (tmp_path / "download.bin").write_bytes(DOWNLOAD)
    state = SiteState()
    async with live_server(create_site(state, tmp_path)) as url:
        yield Site(url, state)


def proxy_server_options() -> dict[str, object]:
    options = server_options(proxy=True)
    options.pop("log_level")
    options.pop("loop")
    return options


ProxyFactory = Callable[..., AbstractAsyncContextManager[Proxy]]


@pytest.fixture
def start_proxy() -> ProxyFactory:
    """``async with start_proxy(upstream_url, config_yaml) as proxy``: a real proxy server."""

    @asynccontextmanager
    async def start(upstream: str, config: str = "") -> AsyncIterator[Proxy]:
        store = MemoryEventStore()
        app = create_proxy_app(parse_config(config), upstream_url=upstream, store=store)
        async with live_server(app, **proxy_server_options()) as url:
            yield Proxy(url, store, app)

    return start


@pytest.fixture
async def proxy(site: Site, start_proxy: ProxyFactory) -> AsyncIterator[Proxy]:
    async with start_proxy(site.url) as running:
        yield running
