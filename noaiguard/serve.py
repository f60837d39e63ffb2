"""Running noaiguard's own servers (the proxy, the demo) under uvicorn, tuned for speed.

uvloop and httptools are used when installed (the ``server`` extra installs both). With httptools,
the server uses :class:`RequestTargetProtocol`, which keeps what uvicorn drops: whether a request
came in absolute form (``GET http://other.example/ HTTP/1.1``), so the proxy can refuse to act as
anyone's forward proxy.

The CLI is the one place that reads the environment: ``--workers`` starts uvicorn's worker
processes, which rebuild the proxy from ``NOAIGUARD_PROXY`` (see :func:`proxy_from_environment`).
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ._types import ASGIApp
from .config import Config, load_config

PROXY_ENVIRONMENT = "NOAIGUARD_PROXY"


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _http_protocol() -> Any:
    if not _have("httptools"):
        return "h11"
    from ._httpprotocol import RequestTargetProtocol

    return RequestTargetProtocol


def server_options(*, proxy: bool) -> dict[str, Any]:
    """uvicorn settings: the fastest loop and parser available, no access log, no proxy headers.

    A proxy passes on the upstream's own Server and Date headers, so uvicorn adds none.
    """
    options: dict[str, Any] = {
        "loop": "uvloop" if _have("uvloop") else "asyncio",
        "http": _http_protocol(),
        "access_log": False,
        "log_level": "warning",
        # X-Forwarded-For is noaiguard's to judge (network.trusted_proxies), not uvicorn's.
        "proxy_headers": False,
    }
    if proxy:
        options.update(server_header=False, date_header=False)
    return options


def proxy_settings(
    config_path: Path | None, upstream: str | None, store: str | None
) -> dict[str, Any]:
    """What a worker process needs to rebuild the proxy, as JSON-friendly values."""
    return {
        "config": str(config_path) if config_path else None,
        "upstream": upstream,
        "store": store,
    }


def load_proxy_config(settings: dict[str, Any]) -> Config:
    config = load_config(settings["config"]) if settings.get("config") else Config()
    if settings.get("store"):
        config = replace(config, store=replace(config.store, url=settings["store"]))
    if settings.get("upstream"):
        config = replace(config, proxy=replace(config.proxy, upstream=settings["upstream"]))
    return config


def proxy_from_environment() -> ASGIApp:
    """The proxy app for one of uvicorn's worker processes (``--workers`` > 1)."""
    from .proxy import create_proxy_app

    settings = json.loads(os.environ[PROXY_ENVIRONMENT])
    return create_proxy_app(load_proxy_config(settings))
