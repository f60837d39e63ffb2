"""What ``bench_integrations.py`` serves: one small site, and its FastAPI and Flask apps.

Every framework serves the same two responses: ``/``, a 2 KB HTML page made in memory (the
response noaiguard rewrites: ``X-Robots-Tag`` and the robots meta tag in its ``<head>``), and
``/work.png``, 20 KB of image bytes (``image/png``: the header only). The views do nothing else,
so what the benchmark compares is the framework's own cost per request with and without
noaiguard's.

The apps are made when a server asks for them, by name (``fastapi_bare``, ``fastapi_guarded``,
``flask_bare``, ``flask_guarded``), so that a server imports only its own framework and a bare
server has no guard at all. The Django project is in ``_bench_django.py``; it uses ``PAGE``,
``IMAGE`` and the ``NOAIGUARD`` setting from here.

Every guarded server has the same configuration: the defaults, except that events are kept in
memory and that behaviour detection's limits are out of reach. wrk is one client at thousands of
requests a second, which detection rightly blocks as a scraper after a few hundred requests; the
tracking still runs on every request, so what is measured is its cost, not the blocking.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from noaiguard.config import (
    BehaviourConfig,
    BurstRule,
    Config,
    ImageBurstRule,
    NetworkBurstRule,
    StoreConfig,
    config_from_mapping,
)

PAGE_PATH = "/"
IMAGE_PATH = "/work.png"

_FIGURES = "\n".join(
    f'<figure><img src="/work.png?study={n}" alt="Study {n}" width="640" height="480">'
    f"<figcaption>Study {n}, oil on board, {30 + n} x {40 + n} cm</figcaption></figure>"
    for n in range(1, 9)
)
#: The page: a doctype, a ``<head>`` with a title, and a body of figures; 2 KB.
PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Estuary studies · Mara Lind, painter</title>
  <meta name="description" content="Paintings and studies by Mara Lind.">
  <link rel="stylesheet" href="/static/site.css">
</head>
<body>
<header><nav><a href="/">Work</a> <a href="/about">About</a> <a href="/contact">Contact</a></nav>
</header>
<main>
<h1>Estuary studies</h1>
<p>Oil and watercolour studies of the estuary, made on location between the spring and autumn
tides. Each painting is a single sitting; the series follows the light.</p>
<div class="grid">
{_FIGURES}
</div>
</main>
<footer><p>&copy; 2026 Mara Lind. All rights reserved.</p></footer>
</body>
</html>
"""
#: The image: a PNG signature and 20 KB of incompressible bytes.
IMAGE = b"\x89PNG\r\n\x1a\n" + random.Random(0).randbytes(20_000 - 8)

_UNREACHABLE = 10**9
#: The Django setting of a guarded server, with the keys of a config file...
NOAIGUARD: dict[str, Any] = {
    "store": {"url": "memory:"},
    "behaviour": {
        "burst": {"requests": _UNREACHABLE},
        "image_burst": {"images": _UNREACHABLE},
        "network_burst": {"requests": _UNREACHABLE},
    },
}
#: ... and the same configuration as the Config the FastAPI and Flask apps are given.
CONFIG = Config(
    store=StoreConfig(url="memory:"),
    behaviour=BehaviourConfig(
        burst=BurstRule(requests=_UNREACHABLE),
        image_burst=ImageBurstRule(images=_UNREACHABLE),
        network_burst=NetworkBurstRule(requests=_UNREACHABLE),
    ),
)
if dataclasses.replace(config_from_mapping(NOAIGUARD, "NOAIGUARD"), source=CONFIG.source) != CONFIG:
    raise RuntimeError("NOAIGUARD and CONFIG must describe the same configuration")


def fastapi_app(guarded: bool) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, Response

    from noaiguard import NoAIGuardMiddleware

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get(PAGE_PATH, response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get(IMAGE_PATH)
    async def image() -> Response:
        return Response(IMAGE, media_type="image/png")

    if guarded:
        app.add_middleware(NoAIGuardMiddleware, config=CONFIG)
    return app


def flask_app(guarded: bool) -> Any:
    from flask import Flask, Response

    from noaiguard import NoAIGuardWSGI

    app = Flask(__name__)

    @app.get(PAGE_PATH)
    def page() -> str:
        return PAGE

    @app.get(IMAGE_PATH)
    def image() -> Response:
        return Response(IMAGE, mimetype="image/png")

    if guarded:
        app.wsgi_app = NoAIGuardWSGI(app.wsgi_app, config=CONFIG)  # type: ignore[method-assign]
    return app


_FACTORIES = {"fastapi": fastapi_app, "flask": flask_app}
_apps: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """``fastapi_bare``, ``flask_guarded`` ...: the app a server names, made on first use."""
    framework, _, variant = name.partition("_")
    if framework not in _FACTORIES or variant not in ("bare", "guarded"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _apps:
        _apps[name] = _FACTORIES[framework](variant == "guarded")
    return _apps[name]
